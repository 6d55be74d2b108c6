"""Reading the answers and predictions an analysis starts from, one way for every command.

``compare``, ``report``, ``review`` and the error taxonomy all read a study's answers from
its results store and its model predictions through these functions, so that they see the
same rows: the study's own answers (a merged store may hold other studies), without the
trials interrupted by a loss of focus when asked, and predictions read with the same
choices about images the ground truth does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from study_app.errors import StudyError

if TYPE_CHECKING:  # pandas loads on first use
    import pandas as pd

    from study_app.protocol.study import Study
    from study_app.store.results_store import ResultsStore

#: What to do with predictions of images that have no ground truth.
UNKNOWN_IMAGES = ("error", "skip")


def study_answers(store: ResultsStore, study: Study, *, include_interrupted: bool = True) -> pd.DataFrame:
    """The answers of ``study`` in an open store (:func:`~study_app.store.answers_frame`'s columns)."""
    from study_app.store import answers_frame

    answers = answers_frame(store)
    answers = answers[answers["study"] == study.name] if "study" in answers.columns else answers
    return attentive(answers, include_interrupted)


def answers_file(path: str | Path, *, include_interrupted: bool = True) -> pd.DataFrame:
    """An answers table (CSV or Parquet, e.g. from ``export``) in the columns of a store's answers."""
    from study_app.importers import read_answers

    return attentive(read_answers(path), include_interrupted)


def attentive(answers: pd.DataFrame, include_interrupted: bool) -> pd.DataFrame:
    """The answers, without the trials during which the window lost focus unless ``include_interrupted``."""
    return answers if include_interrupted else answers[~answers["interrupted"].astype(bool)]


def read_predictions(
    paths: Sequence[str | Path],
    image_ids: Collection[str],
    label_ids: Collection[str] | None = None,
    *,
    unknown_images: str = "error",
    image_list: str | Path | None = None,
    class_list: str | Path | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Prediction files in any layout, and notes of what was left out.

    ``unknown_images="error"`` refuses a prediction of an image outside ``image_ids``;
    ``"skip"`` leaves such predictions out with a note giving the count. ``image_list`` and
    ``class_list`` name the rows and class indices of ``.npy`` predictions.
    """
    from study_app.importers import read_prediction_files
    from study_app.importers.predictions import drop_unknown_images

    if unknown_images not in UNKNOWN_IMAGES:
        raise StudyError(f"unknown_images must be one of {', '.join(UNKNOWN_IMAGES)}, not {unknown_images!r}")
    skip = unknown_images == "skip"
    predictions = read_prediction_files(
        paths, None if skip else image_ids, label_ids, image_list=image_list, class_list=class_list
    )
    if not skip:
        return predictions, []
    predictions, note = drop_unknown_images(predictions, image_ids)
    return predictions, [note] if note else []


def study_predictions(
    study: Study,
    files: Sequence[str | Path] = (),
    *,
    unknown_images: str = "error",
    image_list: str | Path | None = None,
    class_list: str | Path | None = None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """The predictions in ``files`` (default: the study's own), checked against the study's
    images and classes; ``None`` when there are none."""
    paths = list(files) or list(study.prediction_files)
    if not paths:
        return None, []
    return read_predictions(
        paths,
        set(study.images),
        study.labels.class_ids,
        unknown_images=unknown_images,
        image_list=image_list,
        class_list=class_list,
    )

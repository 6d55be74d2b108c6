"""Importer for the model-vs-human raw trial data (Geirhos et al. 2021, NeurIPS).

Layout: ``raw-data/<dataset>/<dataset>_<rater>_session[-_]<k>.csv`` with columns ``subj,
session, trial, rt, object_response, category, condition, imagename`` (16-way forced
choice; ``rt`` in seconds, NaN for models; ``object_response == "na"``: no response).
A rater may have several sessions (Geirhos et al. 2018 ran models in 7 sessions of
different images): every session's trials are kept, with ``session`` = ``k``. Folders
whose files do not follow that pattern (``raw-data/performances/``) are skipped.

The result is a rater table (:mod:`study_app.stats.raters`) with the data set in
``phase`` and the distortion level in ``condition``:

- image ids are ``<dataset>/<id>``, where ``<id>`` is the part of ``imagename`` after the
  last ``_`` (the last two parts when the one before starts with ``n0``, an ImageNet
  synset), which is how the toolbox matches trials of different raters; a stimulus is
  (image id, condition), so one source image at two levels is two stimuli, two trials of
  a rater that saw both, and never paired across levels;
- human raters are ``<dataset>:<subject>``, because subject numbers restart in every
  data set (``subject-01`` of two data sets need not be one person); models keep their
  name (``subj`` column, e.g. ``simclr_resnet50x1``);
- ``na`` responses are non-answers (outcome ``timeout``) and count as errors;
- conditions keep their levels as written, except that a number has one spelling
  (:func:`~study_app.stats.conditions.condition_level`: ``0.00`` and ``0`` are level ``0``,
  ``0.90`` is ``0.9``; ``c05`` and ``false`` stay as written), which also matches them as
  the toolbox matches them after its pandas type inference; data sets with one level
  (edge, silhouette, cue-conflict, sketch, stylized) get condition ``""``;
- one rater with two trials of one stimulus (the same image at the same level, e.g. in
  two sessions) is an error naming both files: the trials would be indistinguishable.

With ``benchmark_conditions_only`` (the default) the conditions the benchmark leaves out
(not out-of-distribution, or humans near chance; ``EXCLUDED_CONDITIONS``, from the
toolbox's ``plotting/plot.py``) are dropped; a listed condition that is missing from the
data is an error, since a mismatch would silently keep it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.stats.conditions import condition_level
from study_app.stats.raters import HUMAN, MODEL, raters_from_guesses

EXCLUDED_CONDITIONS: dict[str, tuple[str, ...]] = {
    "colour": ("cr",),
    "contrast": ("c100", "c03", "c01"),
    "high-pass": ("inf", "0.55", "0.45", "0.4"),
    "low-pass": ("0", "15", "40"),
    "phase-scrambling": ("0", "150", "180"),
    "power-equalisation": ("0",),
    "false-colour": ("true",),  # the toolbox's "True": its pandas read the text as a boolean
    "rotation": ("0",),
    "eidolonI": ("1-10-10", "64-10-10", "128-10-10"),
    "eidolonII": ("1-3-10", "32-3-10", "64-3-10", "128-3-10"),
    "eidolonIII": ("1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"),
    "uniform-noise": ("0.0", "0.6", "0.9"),
}
COLUMNS = ("subj", "trial", "rt", "object_response", "category", "condition", "imagename")
NO_RESPONSE = "na"
_TRIAL_FILE = r"_(?P<rater>.+)_session[-_](?P<session>\d+)\.csv$"


def short_image_id(imagename: str) -> str:
    """The part of a file name that all raters of a data set share."""
    parts = imagename.split("_")
    if len(parts) > 1 and parts[-2].startswith("n0"):
        return "_".join(parts[-2:])
    return parts[-1]


def dataset_files(folder: Path) -> list[Path]:
    """The trial CSVs of one data-set folder (none for ``performances/``)."""
    pattern = re.compile(rf"^{re.escape(folder.name)}{_TRIAL_FILE}")
    return sorted(p for p in folder.iterdir() if pattern.match(p.name))


def read_model_vs_human(
    root: str | Path, datasets: Iterable[str] | None = None, benchmark_conditions_only: bool = True
) -> pd.DataFrame:
    """Read the raw-data folder into one rater table (top-1, 16 classes).

    Parameters
    ----------
    root : path
        The ``raw-data`` folder.
    datasets : iterable of str, optional
        Data sets to read; default all.
    benchmark_conditions_only : bool
        Drop the conditions the benchmark excludes (``EXCLUDED_CONDITIONS``).

    Returns
    -------
    DataFrame
        A rater table with the extra column ``condition``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError([Problem(str(root), "not a folder; expected model-vs-human's raw-data folder")])
    folders = sorted(p for p in root.iterdir() if p.is_dir() and dataset_files(p))
    if datasets is not None:
        wanted = set(datasets)
        unknown = wanted - {p.name for p in folders}
        if unknown:
            raise InputFileError(
                [Problem(str(root), f"no data set {sorted(unknown)[0]!r}; found {', '.join(p.name for p in folders)}")]
            )
        folders = [p for p in folders if p.name in wanted]
    if not folders:
        raise InputFileError([Problem(str(root), "no <dataset>/<dataset>_<rater>_session_1.csv files here")])
    frames = [_read_dataset(folder, benchmark_conditions_only) for folder in folders]
    guesses = pd.concat(frames, ignore_index=True)
    truth = guesses[["image_id", "category"]].drop_duplicates()
    clash = truth["image_id"].duplicated()
    if clash.any():
        raise InputFileError(
            [
                Problem(
                    str(root), f"image {truth.loc[clash, 'image_id'].iloc[0]!r} has two categories in different files"
                )
            ]
        )
    return raters_from_guesses(
        guesses.drop(columns="category"), truth.rename(columns={"category": "label_id"}), k=1, source=str(root)
    )


def _read_dataset(folder: Path, benchmark_conditions_only: bool) -> pd.DataFrame:
    dataset = folder.name
    parts, sources = [], []
    for path in dataset_files(folder):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.columns = [c.strip().lower() for c in frame.columns]
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise InputFileError([Problem(str(path), f"missing column(s) {', '.join(missing)}", line=1)])
        session = re.search(_TRIAL_FILE, path.name).group("session")  # type: ignore[union-attr]  # dataset_files() matched it
        parts.append(frame[list(COLUMNS)].assign(session=int(session)))
        sources.append(np.full(len(frame), path.name, dtype=object))
    frame = pd.concat(parts, ignore_index=True)
    source = np.concatenate(sources)
    condition = frame["condition"].map(condition_level)
    if condition[condition != ""].nunique() <= 1:
        condition = pd.Series("", index=frame.index)
    if benchmark_conditions_only and dataset in EXCLUDED_CONDITIONS:
        excluded = {condition_level(c) for c in EXCLUDED_CONDITIONS[dataset]}
        absent = excluded - set(condition)
        if absent:
            message = (
                f"excluded condition(s) {', '.join(sorted(absent))} not "
                "found in the data; the condition names do not match"
            )
            raise InputFileError([Problem(str(folder), message)])
        keep = ~condition.isin(excluded).to_numpy()
        frame, condition, source = frame[keep], condition[keep], source[keep]
    image_id = dataset + "/" + frame["imagename"].map(short_image_id)
    _refuse_repeated_stimuli(folder, frame["subj"], image_id, condition, source)
    answered = frame["object_response"].str.strip() != NO_RESPONSE
    human = frame["subj"].str.startswith("subject-")
    return pd.DataFrame(
        {
            "rater": np.where(human, dataset + ":" + frame["subj"], frame["subj"]),
            "kind": np.where(human, HUMAN, MODEL),
            "image_id": image_id.to_numpy(),
            "phase": dataset,
            "condition": condition.to_numpy(),
            "session": frame["session"].to_numpy(),
            "trial": pd.to_numeric(frame["trial"]).astype("Int64"),
            "rt_ms": pd.to_numeric(frame["rt"], errors="coerce") * 1000,
            "outcome": np.where(answered, "answer", "timeout"),
            "rank": np.where(answered, 1.0, np.nan),
            "label_id": np.where(answered, frame["object_response"], ""),
            "category": frame["category"].to_numpy(),
        }
    )


def _refuse_repeated_stimuli(
    folder: Path, rater: pd.Series, image_id: pd.Series, condition: pd.Series, source: np.ndarray
) -> None:
    """Two trials of one rater on one stimulus would be one unit of the rater table: an error."""
    key = pd.DataFrame({"rater": rater.to_numpy(), "image_id": image_id.to_numpy(), "condition": condition.to_numpy()})
    repeated = key.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = key[repeated].iloc[0]
        files = sorted(set(source[repeated & (key == first).all(axis=1).to_numpy()]))
        level = f" at condition {first['condition']!r}" if first["condition"] else ""
        message = (
            f"rater {first['rater']!r} has several trials of image {first['image_id']!r}{level} "
            f"(in {' and '.join(files)}); each stimulus (image and condition) may appear once per rater"
        )
        raise InputFileError([Problem(str(folder), message)])

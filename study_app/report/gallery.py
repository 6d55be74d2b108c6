"""Image galleries: where the annotators and a model part ways.

Two galleries per model: images the annotators got wrong and the model right, and the
reverse. "The annotators" are their plurality vote (:func:`study_app.stats.plurality_vote`:
the label most of them gave, a tie broken at random with the report's seed), so an image is
shown for what the crowd answered, not for one person's slip. Each thumbnail is decoded by
:func:`study_app.io.images.load_image` (the one safe loader: size limits, EXIF orientation)
and shrunk to a small PNG; an image that cannot be read is listed with the reason instead
of failing the report.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from PIL import Image

from study_app.errors import ImageError
from study_app.io.images import load_image
from study_app.report.document import Gallery, GalleryItem
from study_app.stats import HUMAN
from study_app.stats.raters import with_condition

THUMBNAIL_PX = 128
NO_ANSWER = "(no answer)"


def thumbnail(path: Path | None, max_pixels: int) -> tuple[bytes | None, str]:
    """PNG bytes of a thumbnail at most ``THUMBNAIL_PX`` on a side, or the reason there is none."""
    if path is None:
        return None, "image file not available"
    try:
        image = load_image(path, max_pixels, draft_size=(2 * THUMBNAIL_PX, 2 * THUMBNAIL_PX))
    except ImageError as exc:
        return None, str(exc)
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), ""


def _answers_text(labels: list[str], name: Callable[[str], str]) -> str:
    """The annotators' top-1 answers, most frequent first: ``3 (three) x2, 5 (five) x1``."""
    counts = Counter(name(label) if label else NO_ANSWER for label in labels)
    return ", ".join(
        f"{label} x{count}" for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


def _by_stimulus(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` indexed by stimulus, (image id, condition) as text: one image at two
    conditions is two gallery entries, and people's answers at one level never join the
    model's at another."""
    keyed = with_condition(table)
    return keyed.set_index([keyed["image_id"].astype(str), keyed["condition"].astype(str)]).rename_axis(
        ["stimulus_image", "stimulus_condition"]
    )


def model_galleries(
    raters: pd.DataFrame,
    crowd: pd.DataFrame,
    model: str,
    *,
    correct: str,
    name: Callable[[str], str],
    image_paths: Mapping[str, Path],
    max_pixels: int,
    size: int,
    key: str,
) -> tuple[Gallery, Gallery]:
    """The two galleries of one phase and model, ``size`` images each (first image ids first).

    ``raters`` is the rater table of the phase, ``crowd`` its plurality-vote rows.
    """
    machine = _by_stimulus(raters[raters["rater"] == model])
    votes = _by_stimulus(crowd)[correct].astype(bool)
    shared = votes.index.intersection(machine.index)
    model_right = machine.loc[shared, correct].astype(bool)
    people = _by_stimulus(raters[raters["kind"] == HUMAN])

    def items(humans_right: bool) -> tuple[GalleryItem, ...]:
        chosen = sorted(shared[(votes[shared] == humans_right).to_numpy() & (model_right != humans_right).to_numpy()])[
            :size
        ]
        labels = people.loc[people.index.isin(chosen), "label"].astype(str)
        answers = {stimulus: rows.tolist() for stimulus, rows in labels.groupby(level=[0, 1])}
        found = []
        for stimulus in chosen:
            image_id, condition = stimulus
            picture, problem = thumbnail(image_paths.get(image_id), max_pixels)
            truth = name(str(machine.at[stimulus, "truth"]))
            guess = str(machine.at[stimulus, "label"])
            shown = f"{image_id} @ {condition}" if condition else image_id
            found.append(
                GalleryItem(
                    shown,
                    truth,
                    _answers_text(answers[stimulus], name),
                    name(guess) if guess else NO_ANSWER,
                    picture,
                    problem,
                )
            )
        return tuple(found)

    caption = (
        "Annotators: their plurality vote (the label most of them gave; a tie broken at random, seeded); "
        "their top-1 answers are listed with counts. Model: its top-1 answer."
    )
    return (
        Gallery(f"gallery-humans-wrong-{key}", f"Annotators wrong, {model} right", caption, items(False)),
        Gallery(f"gallery-model-wrong-{key}", f"Annotators right, {model} wrong", caption, items(True)),
    )

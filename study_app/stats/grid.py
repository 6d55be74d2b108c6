"""Raters x images matrices: the shape every paired statistic works on.

A rater table is long (one row per rater and image); agreement, paired tests and the
bootstrap need, for each rater, which images it saw and whether it was right on each.
:func:`rater_grid` builds those two matrices once, with integer codes instead of
strings, so the statistics above it are matrix products rather than group-bys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study_app.errors import StudyError
from study_app.stats.raters import stimulus_codes


def row_of(raters: np.ndarray, rater: str) -> int:
    """The row of a rater in a grid, or a :class:`StudyError` naming the raters there are."""
    found = np.flatnonzero(raters == rater)
    if not len(found):
        raise StudyError(f"no rater {rater!r} in the table; raters: {', '.join(map(str, raters[:20]))}")
    return int(found[0])


@dataclass(frozen=True)
class RaterGrid:
    """Which images each rater saw (``seen``) and got right (``correct``)."""

    raters: np.ndarray
    kinds: np.ndarray
    images: np.ndarray
    seen: np.ndarray
    correct: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        """1.0 where a rater saw an image and was wrong, else 0.0 (float32 for BLAS)."""
        return (self.seen & ~self.correct).astype(np.float32)

    def row(self, rater: str) -> int:
        return row_of(self.raters, rater)

    def subset(self, raters: Sequence[str]) -> RaterGrid:
        return self._rows([self.row(r) for r in raters])

    def of_kind(self, kind: str) -> RaterGrid:
        return self._rows(np.flatnonzero(self.kinds == kind))

    def _rows(self, rows: Sequence[int] | np.ndarray) -> RaterGrid:
        return RaterGrid(self.raters[rows], self.kinds[rows], self.images, self.seen[rows], self.correct[rows])


def rater_grid(raters: pd.DataFrame, *, correct: str = "correct_topk") -> RaterGrid:
    """Build the matrices from a rater table (each rater at most once per image).

    Parameters
    ----------
    raters : DataFrame
        A rater table (:mod:`study_app.stats.raters`), usually restricted to one phase.
    correct : str
        The correctness column to use.

    Raises
    ------
    StudyError
        A rater has two rows for one image (e.g. the image was in two phases): select
        one phase first.
    """
    if correct not in raters.columns:
        raise StudyError(f"no correctness column {correct!r} in the rater table")
    cells = _cells(raters)
    correct_flat = np.zeros(cells.seen.size, dtype=bool)
    correct_flat[cells.flat] = raters[correct].to_numpy(dtype=bool)
    kind_code, kind_names = pd.factorize(raters["kind"])
    kind_of_rater = np.zeros(len(cells.raters), dtype=np.int64)
    kind_of_rater[cells.rater_code] = kind_code  # one kind per rater
    return RaterGrid(
        cells.raters,
        np.asarray(kind_names, dtype=object)[kind_of_rater],
        cells.images,
        cells.seen,
        correct_flat.reshape(cells.seen.shape),
    )


@dataclass(frozen=True)
class LabelGrid:
    """Which images each rater saw (``seen``) and its top-1 label as a code into ``categories``."""

    raters: np.ndarray
    images: np.ndarray
    seen: np.ndarray
    labels: np.ndarray
    categories: np.ndarray

    def row(self, rater: str) -> int:
        return row_of(self.raters, rater)


def label_grid(raters: pd.DataFrame, no_answer: str) -> LabelGrid:
    """Raters x images matrix of top-1 label codes; an empty label (no answer) is ``no_answer``.

    Labels are compared as text (``str`` of the ``label`` column), so a label is one
    category however the table stores it. Raises :class:`StudyError` as
    :func:`rater_grid` does when a rater has two rows for one image.
    """
    cells = _cells(raters)
    text = raters["label"].astype(str)
    label_code, categories = pd.factorize(text.where(text != "", no_answer))
    labels = np.zeros(cells.seen.size, dtype=np.int32)
    labels[cells.flat] = label_code
    return LabelGrid(
        cells.raters, cells.images, cells.seen, labels.reshape(cells.seen.shape), np.asarray(categories, dtype=object)
    )


@dataclass(frozen=True)
class _Cells:
    raters: np.ndarray
    images: np.ndarray
    rater_code: np.ndarray
    flat: np.ndarray
    seen: np.ndarray


def _cells(raters: pd.DataFrame) -> _Cells:
    """Sorted rater and stimulus codes, each row's cell in the flattened grid, and ``seen``.

    A column of the grid is a stimulus, (image, condition): two raters are paired only
    on the same image at the same condition, and one image at two conditions is two
    columns (:func:`~study_app.stats.raters.stimulus_codes`)."""
    rater_code, names = pd.factorize(raters["rater"], sort=True)
    image_code, images = stimulus_codes(raters)
    flat = rater_code.astype(np.int64) * len(images) + image_code
    seen = np.bincount(flat, minlength=len(names) * len(images))
    if len(seen) and seen.max() > 1:
        twice = int(np.argmax(seen > 1))
        raise StudyError(
            f"rater {names[twice // len(images)]!r} has several rows for image {images[twice % len(images)]!r} "
            "(shown in several phases?); compare one phase at a time"
        )
    shape = (len(names), len(images))
    return _Cells(np.asarray(names, dtype=object), images, rater_code, flat, seen.reshape(shape).astype(bool))

"""Scoring answers in bulk: the guess matrix the correctness rule runs on, and miss severity.

Answers arrive as a matrix of label codes, one row per (rater, image) and one column
per rank (``-1``: no guess at that rank), built by :func:`guess_matrix`; the ground truth
is the set of valid (image, label) pairs. Whether a row is right is the correctness rule
of :mod:`study_app.protocol.correctness` (``correct_top1``, ``correct_topk``,
``all_guesses_valid``), the one definition that the annotation session uses too.

With a label hierarchy, :func:`hierarchy_severity` says how bad a top-1 miss is: the
depth of the lowest common ancestor of guess and truth (deeper = closer miss) and
whether the guess at least has the right parent class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from study_app.protocol.labels import LabelSet


def rank_columns(rank: np.ndarray) -> np.ndarray:
    """The matrix column of each 1-based rank (integers as narrow as the ranks allow)."""
    width = int(rank.max()) if len(rank) else 1
    return rank.astype(np.int32 if width < 1 << 31 else np.int64) - 1


def rank_given_twice(unit: np.ndarray, column: np.ndarray, n_units: int) -> bool:
    """Whether two guesses of a unit have the same rank: fewer cells taken than guesses placed."""
    taken = np.zeros((n_units, int(column.max()) + 1 if len(column) else 1), dtype=bool)
    taken[unit, column] = True
    return int(np.count_nonzero(taken)) < len(unit)


def guess_matrix(unit: np.ndarray, column: np.ndarray, label_code: np.ndarray, n_units: int) -> np.ndarray:
    """Place each guess (unit row, matrix column of its rank, label code) into a ``units x ranks`` matrix."""
    width = int(column.max()) + 1 if len(column) else 1
    matrix = np.full((n_units, width), -1, dtype=np.int32 if int(label_code.max(initial=0)) < 1 << 31 else np.int64)
    matrix[unit, column] = label_code
    return matrix


def hierarchy_severity(
    guess: np.ndarray | pd.Categorical,
    truth_sets: Sequence[tuple[str, ...]],
    truth_set_code: np.ndarray,
    labels: LabelSet,
) -> tuple[np.ndarray, np.ndarray]:
    """Depth of the lowest common ancestor and parent-class correctness of top-1 guesses.

    Parameters
    ----------
    guess : Categorical or ndarray of object, shape (units,)
        Top-1 label ids (``""`` for a non-answer); a categorical is read through its codes.
    truth_sets : sequence of tuples
        The distinct sets of valid labels.
    truth_set_code : ndarray of int, shape (units,)
        Index into ``truth_sets`` of each row's valid labels.
    labels : LabelSet
        The hierarchy.

    Returns
    -------
    lca_depth : ndarray of float
        Depth (root = 0) of the deepest common ancestor of the guess and any valid
        label; NaN for a non-answer or when they share no ancestor.
    superclass_correct : ndarray of bool
        The guess has the same parent (its superclass) as a valid label; a class
        without a parent is its own superclass. False for a non-answer.
    """
    if isinstance(guess, pd.Categorical):  # millions of model rows: one lookup per category, not per row
        names, name_code = np.asarray(guess.categories, dtype=object), guess.codes.astype(np.int64)
    else:
        names, name_code = np.unique(guess.astype(str), return_inverse=True)
    combined, row_of = np.unique(name_code * len(truth_sets) + truth_set_code, return_inverse=True)
    depth = np.empty(len(combined))
    same_parent = np.empty(len(combined), dtype=bool)
    for column, code in enumerate(combined):
        name, truth = str(names[code // len(truth_sets)]), truth_sets[code % len(truth_sets)]
        depth[column], same_parent[column] = _severity(name, truth, labels)
    return depth[row_of], same_parent[row_of]


def _severity(guess: str, truth: tuple[str, ...], labels: LabelSet) -> tuple[float, bool]:
    if not guess:
        return np.nan, False
    ancestors = [labels.lowest_common_ancestor(guess, t) for t in truth]
    depths = [labels.depth(a) for a in ancestors if a is not None]
    superclass = labels.parent_of.get(guess, guess)
    return float(max(depths, default=np.nan)), any(labels.parent_of.get(t, t) == superclass for t in truth)

"""Correctness of every answer, vectorised over millions of answers.

Answers arrive as a matrix of label codes, one row per (rater, image) and one column
per rank (``-1``: no guess at that rank), and the ground truth as the set of valid
(image, label) pairs. A guess is right when its pair is valid, so single-label and
multi-label ground truth (ImageNet "ReaL", Shankar et al. 2020) take the same path:

- ``correct_top1``: the first guess is a valid label;
- ``correct_topk``: any of the first ``k`` guesses is (the ILSVRC top-5 rule);
- ``all_guesses_valid``: at least one of the first ``k`` guesses and every one of them
  valid (the rule of multi-label answer mode, where an annotator ticks up to ``k``
  labels that apply; a model's ranked list is judged on its first ``k`` the same way).

With a label hierarchy, :func:`hierarchy_severity` says how bad a top-1 miss is: the
depth of the lowest common ancestor of guess and truth (deeper = closer miss) and
whether the guess at least has the right parent class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from study_app.protocol.labels import LabelSet


def guess_matrix(unit: np.ndarray, rank: np.ndarray, label_code: np.ndarray, n_units: int) -> np.ndarray:
    """Place each guess (unit row, 1-based rank, label code) into a ``units x ranks`` matrix."""
    width = int(rank.max()) if len(rank) else 1
    matrix = np.full((n_units, width), -1, dtype=np.int64)
    matrix[unit, rank.astype(np.int64) - 1] = label_code
    return matrix


def correctness(guesses: np.ndarray, image_code: np.ndarray, valid_pairs: np.ndarray, n_labels: int, k: int) -> dict[str, np.ndarray]:
    """Top-1, top-k and all-valid correctness of every row of a guess matrix.

    Parameters
    ----------
    guesses : ndarray of int, shape (units, ranks)
        Label codes in rank order, ``-1`` where there is no guess.
    image_code : ndarray of int, shape (units,)
        The image of each row.
    valid_pairs : ndarray of int
        ``image_code * n_labels + label_code`` of every valid (image, label) pair.
    n_labels : int
        Number of label codes.
    k : int
        Guesses that count for ``correct_topk`` and ``all_guesses_valid``.
    """
    given = guesses >= 0
    pairs = image_code[:, None] * n_labels + guesses
    hit = given & np.isin(pairs, valid_pairs)
    first_given, first_hit = given[:, :k], hit[:, :k]
    return {
        "correct_top1": hit[:, 0],
        "correct_topk": np.any(first_hit, axis=1),
        "all_guesses_valid": np.any(first_given, axis=1) & np.all(first_hit | ~first_given, axis=1),
    }


def hierarchy_severity(
    guess: np.ndarray, truth_sets: Sequence[tuple[str, ...]], truth_set_code: np.ndarray, labels: LabelSet
) -> tuple[np.ndarray, np.ndarray]:
    """Depth of the lowest common ancestor and parent-class correctness of top-1 guesses.

    Parameters
    ----------
    guess : ndarray of object, shape (units,)
        Top-1 label ids (``""`` for a non-answer).
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

"""The correctness rule: when an answer counts as right. Defined once, here, for every caller.

A guess is right when its (image, label) pair is valid, so single-label and multi-label
ground truth (ImageNet "ReaL", Shankar et al. 2020) take the same path. Of an answer's
guesses in rank order, only the first ``k`` count:

- ``correct_top1``: the first guess is a valid label;
- ``correct_topk``: any of the first ``k`` guesses is (the ILSVRC top-5 rule; how a
  phase in ranked answer mode judges, with ``k`` its ``answers``);
- ``all_guesses_valid``: at least one of the first ``k`` guesses and every one of them
  valid (how a multi-label phase judges, where an annotator ticks up to ``k`` labels that
  apply; a model's ranked list is judged on its first ``k`` the same way).

A non-answer (not sure, none of these, skip) has no guesses and is wrong by every rule. A
timeout keeps the guesses chosen before the deadline (nothing an annotator chose is thrown
away), but they count only where the phase says so (``score_timeout_guesses``, default
off): :func:`guesses_count` is that rule (:func:`scored_guesses` per answer); every caller passes an answer's guesses
through it before judging, so a timeout whose guesses are not scored is wrong, as before.
:func:`judge` is the rule, vectorised over millions of answers: the statistics
reach it through :func:`correctness` (``stats.raters``: label codes and valid (image,
label) pairs), a session through :func:`answers_correct` (one answer at a time, or a
resumed session's answers at once). So the feedback a trainee sees, a resumed session's
running score and the accuracy a report states cannot disagree. It lives in the protocol layer, not in
``stats``, because a phase's answer mode and ``answers`` in study.toml *are* the rule, and
because the session core must not load the statistics stack (``study_app.stats`` imports
pandas, scipy and statsmodels: over a second at every start of the annotation window);
this module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from study_app.protocol.study import Phase


def correctness(
    guesses: np.ndarray, image_code: np.ndarray, valid_pairs: np.ndarray, n_labels: int, k: int
) -> dict[str, np.ndarray]:
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
    hit = given & np.isin(image_code[:, None] * n_labels + guesses, valid_pairs)
    return judge(given, hit, k)


def judge(given: np.ndarray, hit: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The rule itself, on boolean ``units x ranks`` matrices: which ranks hold a guess
    (``given``) and which guesses are valid (``hit``, never true where nothing was given)."""
    first_given, first_hit = given[:, :k], hit[:, :k]
    return {
        "correct_top1": hit[:, 0],
        "correct_topk": np.asarray(first_hit.any(axis=1)),
        "all_guesses_valid": np.asarray(first_given.any(axis=1) & (first_hit | ~first_given).all(axis=1)),
    }


def guesses_count(outcome: Any, timeout_scored: Any) -> Any:
    """Whether an answer's guesses are judged: an answer's always, a timeout's (chosen before
    the deadline, never submitted) only where its phase has ``score_timeout_guesses`` on.

    The same expression on one answer (``str``, ``bool``) and on a whole table (arrays of
    outcomes and of the phase setting per row), so the session and the statistics cannot differ.
    """
    return (outcome == "answer") | ((outcome == "timeout") & timeout_scored)


def scored_guesses(labels: Sequence[str], outcome: str, phase: Phase) -> Sequence[str]:
    """The guesses of one answer of ``phase`` that are judged (:func:`guesses_count`)."""
    return labels if guesses_count(outcome, phase.score_timeout_guesses) else ()


def phase_rule(phase: Phase) -> str:
    """The :func:`judge` column that judges a phase's answers (with ``k = phase.answers``)."""
    return "all_guesses_valid" if phase.multi_label else "correct_topk"


def answers_correct(answers: Sequence[Sequence[str]], valid: Sequence[Collection[str]], phase: Phase) -> np.ndarray:
    """Whether each answer of ``phase`` is right by the phase's rule, through :func:`judge`.

    ``answers[i]`` holds the labels of answer ``i`` in rank order (empty for a non-answer),
    ``valid[i]`` the labels that are right for its image. The session calls this for every
    answer, so the guesses are looked up in a set here rather than through the label codes
    of :func:`correctness` (whose ``np.isin`` alone costs more than all the rest).
    """
    given = np.zeros((len(answers), max(map(len, answers), default=0) or 1), dtype=bool)
    hit = np.zeros_like(given)
    for row, (labels, right) in enumerate(zip(answers, valid, strict=True)):
        valid_labels = set(right)
        given[row, : len(labels)] = True
        hit[row, : len(labels)] = [label in valid_labels for label in labels]
    return judge(given, hit, phase.answers)[phase_rule(phase)]

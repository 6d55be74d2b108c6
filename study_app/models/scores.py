"""From a batch of model outputs to ranked guesses as they are written.

Ranks follow the scores *as written* (6 decimals) with ties broken by label id, so a
predictions file never shows a lower score above a higher one, and reruns on other
hardware, whose last bits differ, rank alike wherever the written scores agree (the
rule ``tools/make_demo_digits.py`` uses too).
"""

from __future__ import annotations

import numpy as np

SCORE_DECIMALS = 6


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32 (as the frameworks compute it), stable against overflow."""
    shifted = logits.astype(np.float32) - logits.max(axis=1, keepdims=True).astype(np.float32)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=1, keepdims=True)


def ranked_guesses(scores: np.ndarray, label_ids: tuple[str, ...], k: int) -> list[list[tuple[str, str]]]:
    """For each row of ``scores`` (N, len(label_ids)): the top ``k`` (label id, score text)."""
    k = min(k, len(label_ids))
    out = []
    for row in scores.astype(np.float64):
        # Only scores within one unit of the last decimal of the k-th can tie with it as written.
        kth = np.partition(row, -k)[-k]
        written = {j: f"{row[j]:.{SCORE_DECIMALS}f}" for j in np.flatnonzero(row >= kth - 10.0**-SCORE_DECIMALS)}
        order = sorted(written, key=lambda j: (-float(written[j]), label_ids[j]))[:k]
        out.append([(label_ids[j], written[j]) for j in order])
    return out

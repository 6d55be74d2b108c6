"""Holm's step-down adjustment of a family of p-values, shared by every table that reports one."""

from __future__ import annotations

import numpy as np


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (equal to statsmodels' ``multipletests(..., "holm")``).

    Written out because statsmodels' Holm runs ``gc.collect()`` on every call, which costs
    0.1 s in a process holding many objects, and the analyses adjust one family per phase,
    data set and condition.
    """
    pvalues = np.asarray(pvalues, dtype=float)
    order = np.argsort(pvalues, kind="stable")
    steps = np.maximum.accumulate(pvalues[order] * np.arange(len(pvalues), 0, -1))
    adjusted = np.empty(len(pvalues))
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted

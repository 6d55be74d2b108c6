"""Cluster bootstrap by resampling weights, vectorised over replicates.

Resampling images (or annotators) with replacement is the same as giving each a
multinomial count; a replicate's error rate is then a weighted sum, and all replicates
at once are one matrix product ``weights @ errors.T``. That turns 10,000 replicates over
a million answers into a few BLAS calls instead of 10,000 group-bys. Counts stay exact
in float32 (they are small integers), which halves the cost of the products.
"""

from __future__ import annotations

import numpy as np


def resample_counts(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n_items`` is drawn in each of ``n_boot`` resamples (float32)."""
    draws = rng.integers(0, n_items, size=(n_boot, n_items), dtype=draw_dtype(n_items))
    flat = np.int32 if n_boot * n_items < np.iinfo(np.int32).max else np.int64
    cells = draws.astype(flat) + (np.arange(n_boot, dtype=flat) * n_items)[:, None]
    return np.bincount(cells.ravel(), minlength=n_boot * n_items).reshape(n_boot, n_items).astype(np.float32)


def draw_dtype(n_items: int) -> type:
    """The smallest integer type for draws below ``n_items`` (small types draw faster)."""
    return np.int16 if n_items <= np.iinfo(np.int16).max else np.int32


def rater_rate_replicates(errors: np.ndarray, seen: np.ndarray, image_weights: np.ndarray) -> np.ndarray:
    """Each rater's error rate in each replicate, shape (replicates, raters).

    NaN where a replicate drew none of the rater's images.
    """
    wrong = image_weights @ errors.T.astype(np.float32)
    if seen.all():  # every rater saw every image (the usual design): one product fewer
        shown = image_weights.sum(axis=1, keepdims=True)
    else:
        shown = image_weights @ seen.T.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wrong.astype(float) / shown


def mean_over_raters(rates: np.ndarray, rater_weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean of per-rater rates in each replicate, skipping NaN rates."""
    weights = np.ones_like(rates) if rater_weights is None else rater_weights.astype(rates.dtype)
    missing = np.isnan(rates)
    if missing.any():
        weights, rates = np.where(missing, 0, weights), np.where(missing, 0, rates)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rates * weights).sum(axis=1) / weights.sum(axis=1)


def group_rate_replicates(
    errors: np.ndarray, seen: np.ndarray, image_weights: np.ndarray, rng: np.random.Generator | None
) -> np.ndarray:
    """Mean-over-raters error rate per replicate; raters resampled too when ``rng`` is given.

    The two-way (images x annotators) cluster bootstrap: the interval then reflects
    that both the images and the annotators are samples.
    """
    rates = rater_rate_replicates(errors, seen, image_weights)
    rater_weights = None if rng is None else resample_counts(errors.shape[0], image_weights.shape[0], rng)
    return mean_over_raters(rates, rater_weights)


def percentile_interval(replicates: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the first axis (NaN replicates ignored)."""
    low, high = np.nanquantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high

"""Cluster bootstrap by resampling weights, vectorised over replicates.

Resampling images (or annotators) with replacement is the same as giving each a
multinomial count; a replicate's error rate is then a weighted sum, and all replicates
at once are one matrix product ``weights @ errors.T``. That turns 10,000 replicates over
a million answers into a few BLAS calls instead of 10,000 group-bys. Counts stay exact
in float32 (they are small integers), which halves the cost of the products.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

#: Recent draws kept for reuse (bytes in all): a report asks for the same resamples
#: several times (the error rates of each correctness rule and the paired bootstrap all
#: start from the same seed and images), and drawing 10,000 x 1,500 counts costs more
#: than the statistics computed from them.
_REUSE_BYTES = 128 * 2**20
_recent: OrderedDict[tuple[int, int, str], tuple[np.ndarray, Mapping[str, Any]]] = OrderedDict()

#: Draws counted per block of replicates: keeps the temporary arrays small.
_BLOCK_CELLS = 1 << 20

#: Below this share of (rater, image) cells seen, products go through sparse matrices:
#: with 8 conditions in a Latin square each annotator saw 1/8 of a condition's images,
#: and the dense product would multiply 7 zeros for every count.
_SPARSE_BELOW = 0.25


def resample_counts(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n_items`` is drawn in each of ``n_boot`` resamples (float32, read-only).

    The result depends only on the generator's state, which is left as if the draws
    had been made; a recent identical request (same sizes and state) returns the same
    array without drawing again.
    """
    key = (n_items, n_boot, repr(rng.bit_generator.state))
    if key in _recent:
        counts, after = _recent[key]
        rng.bit_generator.state = after
        return counts
    draws = rng.integers(0, n_items, size=(n_boot, n_items), dtype=draw_dtype(n_items))
    counts = np.empty((n_boot, n_items), dtype=np.float32)
    rows = max(1, _BLOCK_CELLS // max(n_items, 1))
    offsets = (np.arange(rows, dtype=np.int64) * n_items)[:, None]
    for start in range(0, n_boot, rows):
        block = draws[start : start + rows]
        cells = (block + offsets[: len(block)]).ravel()
        counts[start : start + rows] = np.bincount(cells, minlength=block.size).reshape(block.shape)
    counts.flags.writeable = False
    if counts.nbytes <= _REUSE_BYTES:
        _recent[key] = (counts, rng.bit_generator.state)
        while sum(kept.nbytes for kept, _ in _recent.values()) > _REUSE_BYTES:
            _recent.popitem(last=False)
    return counts


def draw_dtype(n_items: int) -> type:
    """The smallest integer type for draws below ``n_items`` (small types draw faster)."""
    return np.int16 if n_items <= np.iinfo(np.int16).max else np.int32


def rater_rate_replicates(errors: np.ndarray, seen: np.ndarray, image_weights: np.ndarray) -> np.ndarray:
    """Each rater's error rate in each replicate, shape (replicates, raters).

    NaN where a replicate drew none of the rater's images.
    """
    if seen.mean() < _SPARSE_BELOW:  # e.g. conditions in a Latin square: each rater saw a few images
        per_image = np.ascontiguousarray(image_weights.T)  # one copy in the layout sparse products read
        wrong, shown = (_sparse_product(per_image, matrix) for matrix in (errors, seen))
    elif seen.all():  # every rater saw every image (the usual design): one product fewer
        wrong = image_weights @ errors.T.astype(np.float32)
        shown = image_weights.sum(axis=1, keepdims=True)
    else:
        wrong = image_weights @ errors.T.astype(np.float32)
        shown = image_weights @ seen.T.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wrong.astype(float) / shown


def _sparse_product(per_image: np.ndarray, per_rater: np.ndarray) -> np.ndarray:
    """``per_image.T @ per_rater.T`` (replicates x raters) through a sparse ``per_rater``: exact
    all the same, since every term is a small whole number, however the sums are ordered."""
    return np.asarray((sparse.csr_matrix(per_rater.astype(np.float32)) @ per_image).T)


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


def percentile_interval(replicates: np.ndarray, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the first axis (NaN replicates ignored)."""
    low, high = np.nanquantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high

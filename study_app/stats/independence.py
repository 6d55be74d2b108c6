"""Small-sample tests that two raters' answers are independent, for many pairs at once.

Kappa's usual p-value divides kappa by its standard error under independence and
reads a normal table. On 15 images that reference is far off (it printed 4.8e-33), and
on any number of images a test of error consistency against an expected consistency
*estimated from the same answers* (the binomial test of Geirhos et al.) is conservative:
its type-I error at n = 200 and accuracies 0.9/0.9 is about 0.000. Both are replaced by
tests that condition on what the null hypothesis leaves free, each rater's marginals:

- **Fisher's exact test** for right/wrong (the 2x2 table of a pair's correctness): given
  the two accuracies on the shared images, the number of images both got right is
  hypergeometric under independence; the two-sided p-value sums the probabilities of
  every table no more likely than the observed one (scipy's and R's definition; ties
  within a relative 1e-7, as R's ``fisher.test``). Exact at every n, computed here for
  thousands of pairs in a few array passes.
- **A permutation test** for labels (Cohen's kappa on many categories): shuffling one
  rater's labels over the shared images keeps both raters' label counts, so the expected
  agreement is fixed and kappa moves only with the number of agreements; the p-value is
  the share of shuffles at least as far from the expected agreement as observed,
  counting the observed arrangement itself (``(1 + hits) / (1 + shuffles)``), so it is
  never 0. Seeded; used below :data:`EXACT_BELOW` shared images, where the normal
  reference is unreliable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

#: Below this many shared images, label-kappa p-values come from permutations.
EXACT_BELOW = 200

#: Shuffles per pair: the smallest attainable p-value is 1 / (PERMUTATIONS + 1) = 1e-4.
PERMUTATIONS = 9_999

#: Tables whose probability is within this relative margin of the observed one count as
#: equally extreme (R's ``fisher.test`` uses the same 1e-7 against rounding).
_TIE = np.log1p(1e-7)

#: Pairs x support cells per block of the vectorised Fisher test.
_BLOCK_CELLS = 2_000_000


def fisher_exact_pvalues(n: ArrayLike, row: ArrayLike, col: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Two-sided Fisher exact p-values of 2x2 tables given as arrays of their margins.

    Parameters
    ----------
    n, row, col, x : array_like of int
        Each table's total, first-row total, first-column total and top-left cell (for
        error consistency: images, images A got right, images B got right, images both
        got right).

    Returns
    -------
    ndarray
        One p-value per table, equal to ``scipy.stats.fisher_exact(table).pvalue``; NaN
        where ``n`` is 0.
    """
    n, row, col, x = (np.atleast_1d(np.asarray(v, dtype=np.int64)) for v in (n, row, col, x))
    pvalues = np.full(len(n), np.nan)
    low = np.maximum(0, row + col - n)
    width = np.minimum(row, col) - low + 1
    # Tables whose supports are alike in width (within 2x) share blocks: little padding.
    bucket = np.ceil(np.log2(np.maximum(width, 1))).astype(int)
    for level in np.unique(bucket):
        rows = np.flatnonzero(bucket == level)
        step = max(1, _BLOCK_CELLS >> level)
        for block in (rows[i : i + step] for i in range(0, len(rows), step)):
            pvalues[block] = _fisher_block(
                n[block], row[block], col[block], x[block], low[block], int(width[block].max())
            )
    pvalues[n <= 0] = np.nan
    return pvalues


def _log_hypergeometric(k: np.ndarray, n: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """log P(top-left cell = k) with all margins fixed."""
    return (
        gammaln(row + 1)
        - gammaln(k + 1)
        - gammaln(row - k + 1)
        + gammaln(n - row + 1)
        - gammaln(col - k + 1)
        - gammaln(n - row - col + k + 1)
        - gammaln(n + 1)
        + gammaln(col + 1)
        + gammaln(n - col + 1)
    )


def _fisher_block(
    n: np.ndarray, row: np.ndarray, col: np.ndarray, x: np.ndarray, low: np.ndarray, width: int
) -> np.ndarray:
    k = low[:, None] + np.arange(width)[None, :]
    inside = k <= np.minimum(row, col)[:, None]
    with np.errstate(invalid="ignore"):
        log_p = np.where(
            inside,
            _log_hypergeometric(np.where(inside, k, low[:, None]), *(v[:, None] for v in (n, row, col))),
            -np.inf,
        )
    observed = _log_hypergeometric(x, n, row, col)
    extreme = log_p <= (observed + _TIE)[:, None]
    return np.minimum(1.0, np.where(extreme, np.exp(log_p), 0.0).sum(axis=1))


class LabelPermutations:
    """Seeded shuffles of up to :data:`EXACT_BELOW` - 1 images, shared by every pair.

    One array of ``shuffles`` random orders of ``EXACT_BELOW`` positions is drawn once;
    the positions below ``n`` in each order are a uniformly random order of ``n``
    images (a subset's relative order in a random permutation is itself uniform), so
    every pair of any size reuses the same draws and the p-values do not depend on
    which pairs are computed or in which order.
    """

    def __init__(self, seed: int = 0, shuffles: int = PERMUTATIONS) -> None:
        rng = np.random.default_rng(seed)
        self.shuffles = shuffles
        self._orders = np.argsort(rng.random((shuffles, EXACT_BELOW)), axis=1).astype(np.int16)
        self._of_size: dict[int, np.ndarray] = {}

    def orders(self, n: int) -> np.ndarray:
        """``shuffles`` random orders of ``range(n)``, shape (shuffles, n)."""
        if n not in self._of_size:
            keep = self._orders < n
            self._of_size[n] = self._orders[keep].reshape(len(self._orders), n)
        return self._of_size[n]

    def pvalue(self, labels_a: np.ndarray, labels_b: np.ndarray, expected_agreements: float) -> float:
        """Two-sided permutation p-value of the agreements of two label codes on shared images.

        ``expected_agreements`` is n times the chance agreement (fixed under shuffling):
        a shuffle counts when its agreements are at least as far from it as observed.
        """
        n = len(labels_a)
        observed = abs(int(np.count_nonzero(labels_a == labels_b)) - expected_agreements)
        shuffled = (labels_a[self.orders(n)] == labels_b[None, :]).sum(axis=1)
        hits = np.count_nonzero(np.abs(shuffled - expected_agreements) >= observed - 1e-9)
        return (1 + hits) / (1 + len(shuffled))

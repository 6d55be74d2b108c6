"""Error consistency from counts, and its bootstrap over images.

Kappa of correctness for a pair of raters needs four counts on the images both saw:
how many (``n``), how many each got wrong, and how many both got wrong
(:func:`consistency_kappa`). Resampling images with replacement gives each image a
count in each replicate (:func:`~study_app.stats.bootstrap.resample_counts`); the four
counts of a replicate are then weighted sums, and all replicates of a block of pairs
are a few matrix products. From the replicates of every pair come

- each pair's percentile interval on kappa;
- the **human ceiling**: the mean kappa over annotator pairs, with its interval (how
  alike people are in their errors is the most a model can be expected to reach);
- the **paired difference** of two models' mean consistency with the annotators: the
  same resampled images for both models, so the images' shared difficulty cancels.

Why resample images and not annotators: the question is how stable kappa is over the
stimuli one could have shown. The annotators are the ones studied here (their
population is the mixed model's business).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse

from study_app.stats.bootstrap import resample_counts
from study_app.stats.grid import RaterGrid
from study_app.stats.raters import HUMAN, MODEL
from study_app.stats.results import Result

#: Why a pair has no interval.
NOT_BOOTSTRAPPED = "no bootstrap (n_boot = 0)"
CONSTANT_RATER = "a rater is right on every shared image or wrong on every one: kappa cannot vary"
EMPTY_CELL = (
    "a cell of the 2x2 table of right/wrong is empty (e.g. no image both got wrong): resampling cannot fill it, "
    "so the interval would sit at kappa's attainable bound"
)

#: Pairs x replicates cells per block of :func:`bootstrap_consistency`.
_BLOCK_CELLS = 2_000_000

#: Names of the annotators' ceiling row in an error-consistency table.
CEILING_A, CEILING_B = "humans", "humans (mean over pairs)"


def kappa_from_counts(n: np.ndarray, wrong_a: np.ndarray, wrong_b: np.ndarray, both_wrong: np.ndarray) -> np.ndarray:
    """Kappa of correctness from a pair's counts, in the arrays' own precision.

    With ``u, v, w`` the images A, B and both got wrong, ``c_obs - c_exp = 2 (w/n - uv/n^2)``
    and ``1 - c_exp = (u + v)/n - 2uv/n^2``, so ``kappa = 2 (wn - uv) / (n (u + v) - 2uv)``:
    four products instead of the shares. The denominator is 0 only when both raters are
    right everywhere or wrong everywhere (``c_obs = 1``): kappa is then 1 (Geirhos et al.'s
    convention). NaN where ``n`` is 0.
    """
    cross = wrong_a * wrong_b
    denominator = wrong_a + wrong_b
    denominator *= n  # in place: these are pairs x replicates arrays in the bootstrap
    denominator -= 2 * cross
    kappa = both_wrong * n
    kappa -= cross
    kappa *= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa /= denominator
    if (denominator == 0).any():
        kappa[denominator == 0] = 1
    return np.where(n > 0, kappa, np.nan) if (n <= 0).any() else kappa


def consistency_kappa(
    n: ArrayLike, wrong_a: ArrayLike, wrong_b: ArrayLike, both_wrong: ArrayLike
) -> tuple[np.ndarray, ...]:
    """Accuracies, observed and expected consistency, and kappa from a pair's counts.

    ``c_obs = (n - wrong_a - wrong_b + 2 both_wrong) / n``, ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``,
    ``kappa = (c_obs - c_exp) / (1 - c_exp)`` (:func:`kappa_from_counts`). NaN where ``n`` is 0.
    """
    n, wrong_a, wrong_b, both_wrong = (np.asarray(v, dtype=float) for v in (n, wrong_a, wrong_b, both_wrong))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_a, p_b = 1 - wrong_a / n, 1 - wrong_b / n
        observed = 1 - (wrong_a + wrong_b - 2 * both_wrong) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return p_a, p_b, observed, expected, kappa_from_counts(n, wrong_a, wrong_b, both_wrong)


def kappa_bounds(p_a: np.ndarray, p_b: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The attainable range of kappa given the accuracies: ``c_obs`` lies between
    ``|p_a + p_b - 1|`` and ``1 - |p_a - p_b|``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = np.abs(p_a + p_b - 1), 1 - np.abs(p_a - p_b)
        return (
            np.where(low >= 1, 1.0, (low - expected) / (1 - expected)),
            np.where(high >= 1, 1.0, (high - expected) / (1 - expected)),
        )


DIFFERENCE_COLUMNS = [
    "model_a",
    "model_b",
    "n_annotators",
    "n_images",
    "kappa_a",
    "kappa_b",
    "difference",
    "ci_low",
    "ci_high",
    "pvalue",
    "n_boot",
]


@dataclass(frozen=True, repr=False)
class ConsistencyBootstrap(Result):
    """What :func:`bootstrap_consistency` returns.

    ``ci_low``/``ci_high``/``ci_note`` per pair (the note says why an interval is NaN);
    ``ceiling`` the annotators' mean kappa over pairs as ``(n_pairs, kappa, low, high)``
    (None with fewer than one annotator pair); ``differences`` one row per pair of
    models (:data:`DIFFERENCE_COLUMNS`).
    """

    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_note: np.ndarray
    ceiling: tuple[int, float, float, float] | None
    differences: pd.DataFrame


def bootstrap_consistency(
    grid: RaterGrid,
    first: np.ndarray,
    second: np.ndarray,
    *,
    n_boot: int,
    alpha: float,
    seed: int,
    model_pairs: Sequence[tuple[int, int]] | None = None,
) -> ConsistencyBootstrap:
    """Percentile intervals of kappa for pairs ``(first[i], second[i])`` of grid rows, the
    annotators' ceiling and the differences in consistency with them of ``model_pairs``
    (grid rows; default every two models, in the grid's order).

    Every pair, the ceiling and the differences use the same resampled images (one
    seeded draw), so the difference of two models is a paired comparison. A
    replicate in which a pair drew none of its shared images is left out of that pair's
    interval (and of that replicate's means).
    """
    counts = _Resampled(grid, np.ones((grid.seen.shape[1], 1), dtype=np.float32)).pair_counts(first, second)
    kappa = consistency_kappa(*counts)[4][:, 0]
    n, wrong_a, wrong_b = counts[0][:, 0], counts[1][:, 0], counts[2][:, 0]
    both_wrong = counts[3][:, 0]
    constant = (wrong_a == 0) | (wrong_a == n) | (wrong_b == 0) | (wrong_b == n)
    empty_cell = (
        (both_wrong == 0)
        | (wrong_a == both_wrong)
        | (wrong_b == both_wrong)
        | (n - wrong_a - wrong_b + both_wrong == 0)
    )
    note = np.select(
        [np.full(len(n), n_boot <= 0), constant, empty_cell], [NOT_BOOTSTRAPPED, CONSTANT_RATER, EMPTY_CELL], ""
    ).astype(object)
    ci_low, ci_high = np.full(len(first), np.nan), np.full(len(first), np.nan)
    kinds_a, kinds_b = grid.kinds[first], grid.kinds[second]
    annotator_pair = (kinds_a == HUMAN) & (kinds_b == HUMAN) & (n > 0)
    models = np.flatnonzero(grid.kinds == MODEL)
    with_model = _human_model_pairs(grid, first, second, n > 0)
    if model_pairs is None:
        model_pairs = [(int(a), int(b)) for i, a in enumerate(models) for b in models[i + 1 :]]
    if n_boot <= 0:
        ceiling = (
            (int(annotator_pair.sum()), float(np.mean(kappa[annotator_pair])), np.nan, np.nan)
            if annotator_pair.any()
            else None
        )
        return ConsistencyBootstrap(
            ci_low, ci_high, note, ceiling, _differences(grid, model_pairs, with_model, kappa, None, alpha)
        )
    resampled = _Resampled(
        grid, np.ascontiguousarray(resample_counts(grid.seen.shape[1], n_boot, np.random.default_rng(seed)).T)
    )
    ceiling_sum, ceiling_count = np.zeros(n_boot), np.zeros(n_boot)
    replicates_with_model = {}
    size = max(1, _BLOCK_CELLS // max(n_boot, grid.seen.shape[1]))
    for start in range(0, len(first), size):
        block = slice(start, start + size)
        replicate = kappa_from_counts(*resampled.pair_counts(first[block], second[block]))
        ci_low[block], ci_high[block] = _percentiles(replicate, alpha)
        among = annotator_pair[block]
        ceiling_sum += np.nansum(replicate[among], axis=0)
        ceiling_count += np.count_nonzero(~np.isnan(replicate[among]), axis=0)
        # copies: a view would keep its whole block of replicates alive
        replicates_with_model.update(
            {i: replicate[i - start].copy() for i in range(start, start + len(replicate)) if i in with_model}
        )
    ci_low[note != ""], ci_high[note != ""] = np.nan, np.nan
    ceiling = None
    if annotator_pair.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            means = ceiling_sum / ceiling_count
        low, high = _percentiles(means[None, :], alpha)
        ceiling = (int(annotator_pair.sum()), float(np.mean(kappa[annotator_pair])), float(low[0]), float(high[0]))
    return ConsistencyBootstrap(
        ci_low, ci_high, note, ceiling, _differences(grid, model_pairs, with_model, kappa, replicates_with_model, alpha)
    )


def _human_model_pairs(
    grid: RaterGrid, first: np.ndarray, second: np.ndarray, shared: np.ndarray
) -> dict[int, tuple[int, int]]:
    """Pair index -> (annotator row, model row) for every annotator-model pair sharing images."""
    found = {}
    for i, (a, b) in enumerate(zip(first, second)):
        if shared[i] and {grid.kinds[a], grid.kinds[b]} == {HUMAN, MODEL}:
            found[i] = (a, b) if grid.kinds[a] == HUMAN else (b, a)
    return found


def _differences(
    grid: RaterGrid,
    model_pairs: Sequence[tuple[int, int]],
    with_model: dict[int, tuple[int, int]],
    kappa: np.ndarray,
    replicates: dict[int, np.ndarray] | None,
    alpha: float,
) -> pd.DataFrame:
    """Mean kappa with the annotators, model A minus model B, over the annotators who share
    images with both; percentile interval and two-sided bootstrap p-value (twice the
    smaller share of replicates on one side of 0, counting the observed difference as one
    replicate, so never 0)."""
    by_model: dict[int, dict[int, int]] = {}
    for index, (person, model) in with_model.items():
        by_model.setdefault(model, {})[person] = index
    rows = []
    for a, b in model_pairs:
        people = sorted(set(by_model.get(a, {})) & set(by_model.get(b, {})))
        if not people:
            continue
        pairs_a, pairs_b = [by_model[a][p] for p in people], [by_model[b][p] for p in people]
        kappa_a, kappa_b = float(np.mean(kappa[pairs_a])), float(np.mean(kappa[pairs_b]))
        images = int((grid.seen[a] & grid.seen[b] & grid.seen[people].any(axis=0)).sum())
        low = high = pvalue = np.nan
        n_boot = 0
        if replicates is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                spread = _nanmean_rows([replicates[i] for i in pairs_a]) - _nanmean_rows(
                    [replicates[i] for i in pairs_b]
                )
            spread = spread[~np.isnan(spread)]
            n_boot = len(spread)
            low, high = (float(v[0]) for v in _percentiles(spread[None, :], alpha))
            tail = min(np.count_nonzero(spread <= 0), np.count_nonzero(spread >= 0))
            pvalue = min(1.0, 2 * (1 + tail) / (1 + n_boot))
        rows.append(
            [
                str(grid.raters[a]),
                str(grid.raters[b]),
                len(people),
                images,
                kappa_a,
                kappa_b,
                kappa_a - kappa_b,
                low,
                high,
                pvalue,
                n_boot,
            ]
        )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def _nanmean_rows(rows: list[np.ndarray]) -> np.ndarray:
    stacked = np.vstack(rows)
    valid = ~np.isnan(stacked)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, stacked, 0).sum(axis=0) / valid.sum(axis=0)


def _percentiles(replicates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the alpha/2 and 1 - alpha/2 quantiles of the defined replicates (NaN if none)."""
    levels = [alpha / 2, 1 - alpha / 2]
    undefined = np.isnan(replicates).any(axis=1)
    low, high = np.full(len(replicates), np.nan), np.full(len(replicates), np.nan)
    if (~undefined).any():
        low[~undefined], high[~undefined] = np.quantile(replicates[~undefined], levels, axis=1)
    for row in np.flatnonzero(undefined & ~np.isnan(replicates).all(axis=1)):
        low[row], high[row] = np.nanquantile(replicates[row], levels)
    return low, high


class _Resampled:
    """A grid's images under resampling weights (images x replicates), with each rater's
    resampled counts of images seen and got wrong computed once for every block of pairs.

    Counts are whole numbers; in float32 their products (kappa's numerator and
    denominator) stay exact while they are below 2^24, i.e. up to 4,096 images drawn per
    replicate; beyond, float64 keeps them exact.
    """

    def __init__(self, grid: RaterGrid, weights: np.ndarray) -> None:
        self.dtype = np.float32 if grid.seen.shape[1] <= 4096 else np.float64
        self.weights = weights
        self.total = weights.sum(axis=0, dtype=self.dtype)[None, :]
        wrong = grid.seen & ~grid.correct
        self.seen = (grid.seen, (grid.seen.astype(np.float32) @ weights).astype(self.dtype, copy=False))
        self.wrong = (wrong, (wrong.astype(np.float32) @ weights).astype(self.dtype, copy=False))

    def pair_counts(self, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, ...]:
        """Resampled ``n, wrong_a, wrong_b, both_wrong`` of each pair, each (pairs, replicates)."""
        return tuple(
            self._conjunction(x, y, first, second, sum_x, sum_y)
            for (x, sum_x), (y, sum_y) in (
                (self.seen, self.seen),
                (self.wrong, self.seen),
                (self.seen, self.wrong),
                (self.wrong, self.wrong),
            )
        )

    def _conjunction(
        self, x: np.ndarray, y: np.ndarray, first: np.ndarray, second: np.ndarray, sum_x: np.ndarray, sum_y: np.ndarray
    ) -> np.ndarray:
        """Resampled count of images where ``x`` holds for the pair's first rater and ``y``
        for its second.

        ``x & y = x - (x & ~y) = y - (~x & y) = 1 - ~x - ~y + (~x & ~y)``: the sparsest of
        the four conjunctions goes through a sparse product, the rest are per-rater sums
        computed once. With every image seen by everyone, "both saw" costs nothing; "both
        wrong" is as sparse as coinciding errors are.
        """
        a, b = x[first], y[second]
        options: tuple[
            tuple[np.ndarray, int, Callable[[], Any]], ...
        ] = (  # conjunction, sign of its product, and what it is added to
            (a & b, 1, lambda: 0),
            (a & ~b, -1, lambda: sum_x[first]),
            (~a & b, -1, lambda: sum_y[second]),
            (~a & ~b, 1, lambda: sum_x[first] + sum_y[second] - self.total),
        )
        conjunction, sign, base = min(options, key=lambda option: np.count_nonzero(option[0]))
        result = base()
        if conjunction.any():
            product = np.asarray(sparse.csr_matrix(conjunction, dtype=np.float32) @ self.weights).astype(
                self.dtype, copy=False
            )
            result = result + product if sign > 0 else result - product
        return result if not np.isscalar(result) else np.zeros((len(first), self.weights.shape[1]), dtype=self.dtype)

"""Agreement between raters: error consistency, and kappa on the labels themselves.

Two raters with equal accuracy can err on the same images or on different ones; only
the first suggests they decide alike. *Error consistency* (Geirhos, Meding & Wichmann
2020, "Beyond accuracy") is Cohen's kappa of trial-by-trial correctness on the images
both saw:

    c_obs = share of images where both are right or both wrong
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)      (independent errors)
    kappa = (c_obs - c_exp) / (1 - c_exp)          (1 when c_obs = 1)

Kappa cannot reach +-1 when the accuracies differ; ``kappa_min``/``kappa_max`` give the
attainable range, from ``c_obs`` between ``|p_a + p_b - 1|`` and ``1 - |p_a - p_b|``.

The p-value tests independent errors with Fisher's exact test on the pair's 2x2 table of
right/wrong (:mod:`~study_app.stats.independence`). Geirhos et al.'s binomial test of the
consistent images against Binomial(n, c_exp), with c_exp estimated from the same
answers, ignores that estimate's own noise: at n = 200 and accuracies 0.9/0.9 it
rejected almost never (type-I error about 0.000 at alpha 0.05) and lost power; Fisher's
test conditions on both accuracies and holds its level exactly. ``pvalue_holm`` adjusts
the p-values of one table (one phase: every pair of raters, the family named in
``holm_family``) by Holm's method. The interval on kappa is a percentile bootstrap over
images (:mod:`~study_app.stats.consistency`); the table ends with the annotators'
ceiling, their mean kappa over pairs.

On the labels: Cohen's kappa of two annotators' top-1 labels (statsmodels'
``cohens_kappa`` formulas, computed for all pairs at once), and Fleiss' kappa when
three or more annotators saw the same images (statsmodels ``fleiss_kappa``); a
non-answer counts as a category of its own. Below 200 shared images the p-value of
Cohen's kappa comes from a seeded permutation test, above from the normal reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from study_app.errors import StudyError
from study_app.stats.consistency import (
    CEILING_A,
    CEILING_B,
    DIFFERENCE_COLUMNS,
    ConsistencyBootstrap,
    bootstrap_consistency,
    consistency_kappa,
    kappa_bounds,
)
from study_app.stats.grid import LabelGrid, RaterGrid, label_grid, rater_grid
from study_app.stats.independence import EXACT_BELOW, PERMUTATIONS, LabelPermutations, fisher_exact_pvalues
from study_app.stats.multiplicity import holm
from study_app.stats.raters import HUMAN
from study_app.stats.results import HypothesisTestResult, Result, Summarised

NO_ANSWER = "(no answer)"
CONSISTENCY_COLUMNS = [
    "rater_a",
    "rater_b",
    "kind_a",
    "kind_b",
    "pair",
    "n_images",
    "accuracy_a",
    "accuracy_b",
    "observed_consistency",
    "expected_consistency",
    "kappa",
    "kappa_min",
    "kappa_max",
    "kappa_ci_low",
    "kappa_ci_high",
    "kappa_ci_note",
    "pvalue",
    "pvalue_holm",
    "holm_family",
]
#: The ``pair`` of the annotators' ceiling row (rater_a ``humans``, rater_b ``humans (mean over pairs)``).
CEILING_PAIR = "human ceiling"

#: Bootstrap replicates of the interval on kappa unless told otherwise.
DEFAULT_N_BOOT = 2_000


def _pairwise_consistency(
    grid: RaterGrid, first: np.ndarray, second: np.ndarray, boot: ConsistencyBootstrap
) -> pd.DataFrame:
    """Error consistency of rater rows ``first[i]`` and ``second[i]``, all pairs at once."""
    seen = grid.seen.astype(np.float32)  # counts stay exact in float32
    wrong = (grid.seen & ~grid.correct).astype(np.float32)
    n = (seen @ seen.T)[first, second].astype(np.int64)
    wrong_a = (wrong @ seen.T)[first, second].astype(np.int64)
    wrong_b = (seen @ wrong.T)[first, second].astype(np.int64)
    both_wrong = (wrong @ wrong.T)[first, second].astype(np.int64)
    p_a, p_b, observed, expected, kappa = consistency_kappa(n, wrong_a, wrong_b, both_wrong)
    kappa_min, kappa_max = kappa_bounds(p_a, p_b, expected)
    both_right = n - wrong_a - wrong_b + both_wrong
    kinds_a, kinds_b = grid.kinds[first], grid.kinds[second]
    return pd.DataFrame(
        {
            "rater_a": grid.raters[first],
            "rater_b": grid.raters[second],
            "kind_a": kinds_a,
            "kind_b": kinds_b,
            "pair": [f"{a}-{b}" for a, b in zip(kinds_a, kinds_b)],
            "n_images": n,
            "accuracy_a": p_a,
            "accuracy_b": p_b,
            "observed_consistency": observed,
            "expected_consistency": expected,
            "kappa": kappa,
            "kappa_min": kappa_min,
            "kappa_max": kappa_max,
            "kappa_ci_low": boot.ci_low,
            "kappa_ci_high": boot.ci_high,
            "kappa_ci_note": boot.ci_note,
            "pvalue": fisher_exact_pvalues(n, n - wrong_a, n - wrong_b, both_right),
        }
    )


def _with_holm(table: pd.DataFrame, family: str) -> pd.DataFrame:
    tested = table["pvalue"].notna().to_numpy()
    adjusted = np.full(len(table), np.nan)
    adjusted[tested] = holm(table["pvalue"].to_numpy()[tested])
    return table.assign(pvalue_holm=adjusted, holm_family=f"{family}: {int(tested.sum())} pairs")


def _ceiling_row(grid: RaterGrid, ceiling: tuple[int, float, float, float]) -> dict[str, Any]:
    """The annotators' mean kappa over pairs; ``n_images`` counts the images two or more annotators saw."""
    n_pairs, kappa, low, high = ceiling
    return {
        "rater_a": CEILING_A,
        "rater_b": CEILING_B,
        "kind_a": HUMAN,
        "kind_b": HUMAN,
        "pair": CEILING_PAIR,
        "n_images": int((grid.seen[grid.kinds == HUMAN].sum(axis=0) >= 2).sum()),
        "kappa": kappa,
        "kappa_ci_low": low,
        "kappa_ci_high": high,
        "kappa_ci_note": f"mean over {n_pairs} annotator pairs; images resampled",
        "pvalue": np.nan,
        "pvalue_holm": np.nan,
    }


@dataclass(frozen=True, repr=False)
class ConsistencyAnalysis(Result):
    """Every pair's error consistency with the annotators' ceiling last (``table``), and the
    paired bootstrap test of every two models' mean consistency with the annotators
    (``differences``: :data:`~study_app.stats.consistency.DIFFERENCE_COLUMNS`)."""

    table: pd.DataFrame
    differences: pd.DataFrame


def consistency_analysis(
    raters: pd.DataFrame,
    *,
    correct: str = "correct_topk",
    alpha: float = 0.05,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    family: str = "error consistency, every pair of raters",
) -> ConsistencyAnalysis:
    """Error consistency of every pair of raters, the annotators' ceiling and the model differences.

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    correct : str
        Correctness column.
    alpha : float
        1 - level of the intervals.
    n_boot : int
        Replicates of the image bootstrap (0: no intervals, no difference tests).
    seed : int
        Seed of the bootstrap.
    family : str
        The name of the Holm family (every pair of the table), kept in ``holm_family``.
    """
    grid = rater_grid(raters, correct=correct)
    first, second = np.triu_indices(len(grid.raters), k=1)
    shared = (grid.seen.astype(np.float32) @ grid.seen.T.astype(np.float32))[first, second] > 0
    first, second = first[shared], second[shared]
    boot = bootstrap_consistency(grid, first, second, n_boot=n_boot, alpha=alpha, seed=seed)
    table = _with_holm(_pairwise_consistency(grid, first, second, boot), family)
    if boot.ceiling is not None:
        table = pd.concat(
            [table, pd.DataFrame([_ceiling_row(grid, boot.ceiling)]).assign(holm_family="")], ignore_index=True
        )
    return ConsistencyAnalysis(table[CONSISTENCY_COLUMNS].reset_index(drop=True), boot.differences)


def error_consistency_table(
    raters: pd.DataFrame,
    *,
    correct: str = "correct_topk",
    alpha: float = 0.05,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """Error consistency of every pair of raters (human-human, human-model, model-model).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    correct : str
        Correctness column.
    alpha, n_boot, seed
        The percentile bootstrap interval on kappa (images resampled; ``n_boot = 0``:
        none, ``kappa_ci_note`` says so).

    Returns
    -------
    DataFrame
        ``CONSISTENCY_COLUMNS``, one row per unordered pair sharing at least one image
        (without the annotators' ceiling: :func:`consistency_analysis` adds it).
    """
    table = consistency_analysis(raters, correct=correct, alpha=alpha, n_boot=n_boot, seed=seed).table
    return table[table["pair"] != CEILING_PAIR].reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class PairKappaResult(HypothesisTestResult):
    """A kappa of two raters on the images both saw; unpacks as ``kappa, pvalue``."""

    rater_a: str
    rater_b: str
    n_images: int

    @property
    def statistic(self) -> float:  # type: ignore[override]
        return self.kappa  # type: ignore[attr-defined]


@dataclass(frozen=True, repr=False)
class ErrorConsistencyResult(PairKappaResult):
    """Error consistency of two raters; the p-value is Fisher's exact test of independent errors."""

    title = "Error consistency (Geirhos et al. 2020): kappa of trial-by-trial correctness"
    accuracy_a: float
    accuracy_b: float
    observed_consistency: float
    expected_consistency: float
    kappa: float
    kappa_min: float
    kappa_max: float
    kappa_ci_low: float
    kappa_ci_high: float
    kappa_ci_note: str
    pvalue: float


def error_consistency(
    raters: pd.DataFrame,
    rater_a: str,
    rater_b: str,
    *,
    correct: str = "correct_topk",
    alpha: float = 0.05,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> ErrorConsistencyResult:
    """Error consistency of two raters on the images both saw (a rater with itself: 1).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    rater_a, rater_b : str
        The raters.
    correct : str
        Correctness column.
    alpha, n_boot, seed
        The percentile bootstrap interval on kappa (images resampled).
    """
    grid = rater_grid(raters, correct=correct)
    first, second = np.array([grid.row(rater_a)]), np.array([grid.row(rater_b)])
    boot = bootstrap_consistency(grid, first, second, n_boot=n_boot, alpha=alpha, seed=seed)
    row = _pairwise_consistency(grid, first, second, boot).iloc[0]
    if row["n_images"] == 0:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    fields = [
        name for name in ErrorConsistencyResult.__dataclass_fields__ if name not in ("rater_a", "rater_b", "n_images")
    ]
    values: dict[str, Any] = {name: str(row[name]) if name == "kappa_ci_note" else float(row[name]) for name in fields}
    return ErrorConsistencyResult(rater_a, rater_b, int(row["n_images"]), **values)


@dataclass(frozen=True, repr=False)
class ConsistencyDifferenceResult(HypothesisTestResult):
    """Model A's mean error consistency with the annotators minus model B's, tested by a
    paired bootstrap over images; unpacks as ``difference, pvalue``."""

    title = "Difference in error consistency with the annotators (paired bootstrap over images)"
    model_a: str
    model_b: str
    n_annotators: int
    n_images: int
    kappa_a: float
    kappa_b: float
    difference: float
    ci_low: float
    ci_high: float
    pvalue: float
    n_boot: int

    @property
    def statistic(self) -> float:  # type: ignore[override]
        return self.difference


def consistency_difference(
    raters: pd.DataFrame,
    model_a: str,
    model_b: str,
    *,
    correct: str = "correct_topk",
    alpha: float = 0.05,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> ConsistencyDifferenceResult:
    """Is model A more human-like in its errors than model B?

    The mean over annotators of kappa(annotator, A) minus that of B, over the annotators
    who share images with both. Each replicate resamples the images once and recomputes
    both means on them, so what the images have in common (their difficulty) cancels;
    the interval is the percentile interval of the differences and the p-value twice
    the smaller share of replicates on one side of 0 (the observed difference counted
    as one replicate).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase, with annotators and both models.
    model_a, model_b : str
        The two models.
    correct : str
        Correctness column.
    alpha, n_boot, seed
        Level, replicates (at least 1) and seed of the bootstrap.
    """
    if n_boot < 1:
        raise StudyError("a bootstrap test needs n_boot >= 1")
    grid = rater_grid(raters, correct=correct)
    people = np.flatnonzero(grid.kinds == HUMAN)
    rows = [grid.row(model_a), grid.row(model_b)]
    first, second = np.repeat(people, 2), np.tile(rows, len(people))
    found = bootstrap_consistency(
        grid, first, second, n_boot=n_boot, alpha=alpha, seed=seed, model_pairs=[(rows[0], rows[1])]
    ).differences
    if found.empty:
        raise StudyError(f"no annotator shares images with both {model_a!r} and {model_b!r}")
    row = found.iloc[0]
    return ConsistencyDifferenceResult(**{name: row[name] for name in DIFFERENCE_COLUMNS})


@dataclass(frozen=True, repr=False)
class LabelKappaResult(PairKappaResult):
    """Cohen's kappa of two annotators' top-1 labels."""

    title = "Cohen's kappa on top-1 labels"
    n_categories: int
    kappa: float
    std_error: float
    ci_low: float
    ci_high: float
    pvalue: float
    pvalue_method: str


#: ``pvalue_method`` of label kappas above :data:`EXACT_BELOW` shared images.
NORMAL_METHOD = "normal (asymptotic SE under kappa = 0)"


def label_kappa(
    raters: pd.DataFrame, rater_a: str, rater_b: str, *, alpha: float = 0.05, seed: int = 0
) -> LabelKappaResult:
    """Cohen's kappa on the top-1 labels of the images both raters saw.

    The numbers are statsmodels' ``cohens_kappa`` (simple kappa, its asymptotic
    variances): the interval is kappa +- z * its standard error (see
    :func:`kappa_interval`). The p-value tests kappa = 0: below 200 shared images by a
    seeded permutation test (``seed``), where the normal reference is unreliable (it
    gave 4.8e-33 on 15 images), above with the standard error under that hypothesis;
    ``pvalue_method`` says which.
    """
    rows = raters[raters["rater"].isin([rater_a, rater_b])]
    grid = label_grid(rows, NO_ANSWER)
    table = _pairwise_label_kappa(grid, np.array([grid.row(rater_a)]), np.array([grid.row(rater_b)]), alpha, seed)
    if table.empty:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    row = table.iloc[0]
    kappa, std_error, ci_low, ci_high, pvalue = (
        float(row[c]) for c in ("kappa", "std_error", "ci_low", "ci_high", "pvalue")
    )
    return LabelKappaResult(
        rater_a,
        rater_b,
        int(row["n_images"]),
        int(row["n_categories"]),
        kappa,
        std_error,
        ci_low,
        ci_high,
        pvalue,
        str(row["pvalue_method"]),
    )


#: A standard error this small is rounding around a variance of 0, not a measurement.
_NO_SPREAD = 1e-6


def kappa_interval(kappa: ArrayLike, std_error: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The Wald interval kappa +- z * SE, clipped to kappa's range [-1, 1].

    NaN where the standard error is 0: with perfect agreement, or a rater who gives one
    label throughout, the asymptotic variance vanishes and a zero-width interval would
    claim a certainty that a handful of images cannot give.
    """
    kappa, std_error = np.asarray(kappa, dtype=float), np.asarray(std_error, dtype=float)
    half = norm.isf(alpha / 2) * std_error
    spread = std_error > _NO_SPREAD
    low = np.where(spread, np.clip(kappa - half, -1.0, 1.0), np.nan)
    high = np.where(spread, np.clip(kappa + half, -1.0, 1.0), np.nan)
    return low, high


def label_kappa_table(raters: pd.DataFrame, *, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Cohen's kappa on labels for every pair of annotators sharing images (all pairs at once);
    p-values as :func:`label_kappa` gives them, Holm-adjusted over the pairs of the table
    (``pvalue_holm``, family named in ``holm_family``)."""
    grid = label_grid(raters[raters["kind"] == HUMAN], NO_ANSWER)
    first, second = np.triu_indices(len(grid.raters), k=1)
    return _with_holm(
        _pairwise_label_kappa(grid, first, second, alpha, seed), "Cohen's kappa on labels, every pair of annotators"
    )


#: Fewest shuffles per pair (smallest p-value 1e-3), and the shuffled labels (pairs x
#: shuffles x images) above which a table's pairs get fewer than :data:`PERMUTATIONS`.
MIN_PERMUTATIONS = 999
_PERMUTATION_CELLS = 200_000_000

#: Pairs per block of :func:`_pairwise_label_kappa` are chosen to keep each block's
#: pairs x (images + categories) arrays near this many cells.
_BLOCK_CELLS = 2_000_000


def _pairwise_label_kappa(
    grid: LabelGrid, first: np.ndarray, second: np.ndarray, alpha: float, seed: int
) -> pd.DataFrame:
    """Cohen's kappa of rater rows ``first[i]`` and ``second[i]`` on their shared images.

    statsmodels' ``cohens_kappa`` works on one pair's square table of categories; here
    the same formulas are computed for blocks of pairs at once from per-pair category
    counts (rater A's labels, B's labels, and the labels both gave), so a study of 100
    annotators (4,950 pairs) costs a few array passes instead of 4,950 pivots. The one
    term that needs the off-diagonal cells, ``sum p_ij (p_.i + p_j.)^2`` over i != j,
    is summed image by image. Pairs sharing no image are left out.
    """
    size = max(1, _BLOCK_CELLS // (grid.seen.shape[1] + len(grid.categories) + 1))
    starts = range(0, len(first), size) if len(first) else [0]
    table = pd.concat(
        [_label_kappa_block(grid, first[i : i + size], second[i : i + size], alpha) for i in starts], ignore_index=True
    )
    table = _permutation_pvalues(grid, first, second, table, seed)
    return table[table["n_images"] > 0].reset_index(drop=True)


def _permutation_pvalues(
    grid: LabelGrid, first: np.ndarray, second: np.ndarray, table: pd.DataFrame, seed: int
) -> pd.DataFrame:
    """Permutation p-values for the pairs with fewer than :data:`EXACT_BELOW` shared images.

    Shuffling keeps both raters' label counts, hence the chance agreement ``p_e``; kappa
    then moves only with the agreements, and ``n p_e = sum_k a_k b_k / n`` is their
    expected number. Pairs whose kappa is undefined keep NaN. Every pair gets the same
    number of shuffles, :data:`PERMUTATIONS` unless thousands of small pairs would take
    longer than about a second (then fewer, never below :data:`MIN_PERMUTATIONS`; the
    method column gives the number).
    """
    small = np.flatnonzero(
        (table["n_images"].to_numpy() > 0)
        & (table["n_images"].to_numpy() < EXACT_BELOW)
        & table["pvalue"].notna().to_numpy()
    )
    pvalues, method = table["pvalue"].to_numpy(dtype=float).copy(), np.full(len(table), NORMAL_METHOD, dtype=object)
    method[table["pvalue"].isna().to_numpy()] = ""
    if len(small):
        budget = _PERMUTATION_CELLS // max(int(table["n_images"].to_numpy()[small].sum()), 1)
        shuffles = LabelPermutations(seed, int(np.clip(budget, MIN_PERMUTATIONS, PERMUTATIONS)))
        for i in small:
            shared = grid.seen[first[i]] & grid.seen[second[i]]
            a, b = grid.labels[first[i], shared], grid.labels[second[i], shared]
            counts_a = np.bincount(a, minlength=len(grid.categories))
            counts_b = np.bincount(b, minlength=len(grid.categories))
            expected = float(counts_a @ counts_b) / len(a)
            pvalues[i] = shuffles.pvalue(a, b, expected)
        method[small] = f"permutation ({shuffles.shuffles:,} shuffles)"
    return table.assign(pvalue=pvalues, pvalue_method=method)


def _label_kappa_block(grid: LabelGrid, first: np.ndarray, second: np.ndarray, alpha: float) -> pd.DataFrame:
    n_categories = len(grid.categories)
    shared = grid.seen[first] & grid.seen[second]
    label_a, label_b = grid.labels[first], grid.labels[second]
    offset = (np.arange(len(first)) * n_categories)[:, None]

    def per_category(codes: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.bincount((codes + offset)[where], minlength=len(first) * n_categories).reshape(
            len(first), n_categories
        )

    count_a, count_b = per_category(label_a, shared), per_category(label_b, shared)
    both = per_category(label_a, shared & (label_a == label_b))
    n = shared.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no shared image, or one category only: NaN
        freq_row, freq_col = count_a / n[:, None], count_b / n[:, None]
        agree_exp = (freq_col * freq_row).sum(axis=1)
        kappa = (both.sum(axis=1) / n - agree_exp) / (1 - agree_exp)
        term_a = (both / n[:, None] * (1 - (freq_row + freq_col) * (1 - kappa)[:, None]) ** 2).sum(axis=1)
        differ = shared & (label_a != label_b)
        off_diagonal = (
            np.take_along_axis(freq_col, label_a, axis=1) + np.take_along_axis(freq_row, label_b, axis=1)
        ) ** 2
        term_b = (1 - kappa) ** 2 * np.where(differ, off_diagonal, 0).sum(axis=1) / n
        term_c = (kappa - agree_exp * (1 - kappa)) ** 2
        # A variance, so >= 0; when it is 0 (perfect agreement, or one rater giving one
        # label throughout) rounding can leave -1e-18, whose root statsmodels gives as NaN.
        std_kappa = np.sqrt(np.maximum((term_a + term_b - term_c) / (1 - agree_exp) ** 2 / n, 0))
        null_term = (freq_col * freq_row * (freq_col + freq_row)).sum(axis=1)
        std_kappa0 = np.sqrt((agree_exp + agree_exp**2 - null_term) / ((1 - agree_exp) ** 2 * n))
        pvalue = np.where(np.isfinite(std_kappa0) & (std_kappa0 > 0), 2 * norm.sf(np.abs(kappa / std_kappa0)), np.nan)
    ci_low, ci_high = kappa_interval(kappa, std_kappa, alpha)
    return pd.DataFrame(
        {
            "rater_a": grid.raters[first].astype(str),
            "rater_b": grid.raters[second].astype(str),
            "n_images": n,
            "n_categories": ((count_a + count_b) > 0).sum(axis=1),
            "kappa": kappa,
            "std_error": std_kappa,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "pvalue": pvalue,
            "pvalue_method": "",
        },
        columns=list(LabelKappaResult.__dataclass_fields__),
    )


@dataclass(frozen=True, repr=False)
class FleissResult(Summarised):
    """Fleiss' kappa of three or more annotators' labels on the images all of them saw."""

    title = "Fleiss' kappa on top-1 labels"
    raters: tuple[str, ...]
    n_images: int
    n_categories: int
    kappa: float


def fleiss_kappa_labels(raters: pd.DataFrame, names: Sequence[str] | None = None) -> FleissResult:
    """Fleiss' kappa (statsmodels) of the annotators' top-1 labels.

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    names : sequence of str, optional
        Three or more raters; default every annotator.
    """
    names = sorted(raters.loc[raters["kind"] == HUMAN, "rater"].astype(str).unique()) if names is None else list(names)
    if len(names) < 3:
        raise StudyError(f"Fleiss' kappa needs three or more annotators, got {len(names)}")
    grid = label_grid(raters[raters["rater"].isin(names)], NO_ANSWER)
    rows = [grid.row(name) for name in names]  # may repeat a rater
    everyone = grid.seen[rows].all(axis=0)
    if not everyone.any():
        raise StudyError(f"annotators {', '.join(names)} did not all see any one image")
    counts, categories = aggregate_raters(grid.labels[rows][:, everyone].T)
    return FleissResult(
        tuple(names), int(everyone.sum()), len(categories), float(fleiss_kappa(counts, method="fleiss"))
    )


KAPPA_SUMMARY_COLUMNS = [
    "phase",
    "pairing",
    "n_pairs",
    "median_images",
    "kappa_median",
    "kappa_min",
    "kappa_max",
    "kappa_mean",
    "n_significant",
    "n_significant_holm",
]


def pairing(pairs: pd.DataFrame) -> np.ndarray:
    """What a pair of an error-consistency table pairs: ``annotator - annotator``,
    ``annotator - <model>``, or the two raters' names when neither is an annotator; the
    annotators' ceiling row keeps its own name (:data:`CEILING_PAIR`)."""
    a, b = pairs["rater_a"].astype(str).to_numpy(dtype=object), pairs["rater_b"].astype(str).to_numpy(dtype=object)
    human_a, human_b = (pairs[column].astype(str).to_numpy() == HUMAN for column in ("kind_a", "kind_b"))
    groups = np.where(
        human_a & human_b,
        ANNOTATOR_PAIRS,
        np.where(human_a, "annotator - " + b, np.where(human_b, "annotator - " + a, a + " - " + b)),
    )
    return (
        np.where(pairs["pair"].astype(str).to_numpy() == CEILING_PAIR, CEILING_PAIR, groups)
        if "pair" in pairs.columns
        else groups
    )


ANNOTATOR_PAIRS = "annotator - annotator"


def kappa_summary(pairs: pd.DataFrame, groups: np.ndarray, *, alpha: float = 0.05) -> pd.DataFrame:
    """Kappas of many pairs summarised per group (and phase): how many pairs, their median
    shared images, the median, range and mean of kappa, and how many have p < ``alpha``
    (NaN when no pair of the group has a p-value), and Holm-adjusted p < ``alpha`` (NaN
    without a ``pvalue_holm`` column).

    With 100 annotators there are 4,950 annotator pairs: a reader needs their spread, and
    the per-pair table stays available as data. Within a phase, annotator pairs come
    first, then annotators with each other rater, then the rest, in order of appearance.
    """
    phase = pairs["phase"].astype(str).to_numpy() if "phase" in pairs.columns else np.full(len(pairs), "")
    pvalue = pairs["pvalue"].to_numpy(dtype=float)
    holm = pairs["pvalue_holm"].to_numpy(dtype=float) if "pvalue_holm" in pairs.columns else np.full(len(pairs), np.nan)
    frame = pd.DataFrame(
        {
            "phase": phase,
            "pairing": groups,
            "n_images": pairs["n_images"].to_numpy(dtype=float),
            "kappa": pairs["kappa"].to_numpy(dtype=float),
            "tested": ~np.isnan(pvalue),
            "significant": pvalue < alpha,
            "adjusted": ~np.isnan(holm),
            "significant_holm": holm < alpha,
        }
    )
    summary = (
        frame.groupby(["phase", "pairing"], sort=False)
        .agg(
            n_pairs=("kappa", "size"),
            median_images=("n_images", "median"),
            kappa_median=("kappa", "median"),
            kappa_min=("kappa", "min"),
            kappa_max=("kappa", "max"),
            kappa_mean=("kappa", "mean"),
            tested=("tested", "sum"),
            n_significant=("significant", "sum"),
            adjusted=("adjusted", "sum"),
            n_significant_holm=("significant_holm", "sum"),
        )
        .reset_index()
    )
    summary["n_significant"] = summary["n_significant"].where(summary["tested"] > 0)
    summary["n_significant_holm"] = summary["n_significant_holm"].where(summary["adjusted"] > 0)
    pairing_order = np.where(
        summary["pairing"].isin([ANNOTATOR_PAIRS, CEILING_PAIR]),
        0,
        np.where(summary["pairing"].str.startswith("annotator - "), 1, 2),
    )
    return (
        summary.assign(_order=pairing_order)
        .sort_values(["phase", "_order"], kind="stable")[KAPPA_SUMMARY_COLUMNS]
        .reset_index(drop=True)
    )

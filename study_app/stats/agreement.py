"""Agreement between raters: error consistency, and kappa on the labels themselves.

Two raters with equal accuracy can err on the same images or on different ones; only
the first suggests they decide alike. *Error consistency* (Geirhos, Meding & Wichmann
2020, "Beyond accuracy") is Cohen's kappa of trial-by-trial correctness on the images
both saw:

    c_obs = share of images where both are right or both wrong
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)      (independent errors)
    kappa = (c_obs - c_exp) / (1 - c_exp)          (1 when c_obs = 1)

Kappa cannot reach +-1 when the accuracies differ; ``kappa_min``/``kappa_max`` give the
attainable range, from ``c_obs`` between ``|p_a + p_b - 1|`` and ``1 - |p_a - p_b|``. The
p-value tests independent errors as Geirhos et al. do: the number of consistent images
against Binomial(n, c_exp), two-sided by doubling the smaller tail.

On the labels: Cohen's kappa of two annotators' top-1 labels (statsmodels'
``cohens_kappa`` formulas, computed for all pairs at once), and Fleiss' kappa when
three or more annotators saw the same images (statsmodels ``fleiss_kappa``); a
non-answer counts as a category of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, norm
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from ..errors import StudyError
from .grid import LabelGrid, RaterGrid, label_grid, rater_grid
from .raters import HUMAN
from .results import HypothesisTestResult, Summarised

NO_ANSWER = "(no answer)"
CONSISTENCY_COLUMNS = [
    "rater_a", "rater_b", "kind_a", "kind_b", "pair", "n_images", "accuracy_a", "accuracy_b",
    "observed_consistency", "expected_consistency", "kappa", "kappa_min", "kappa_max", "pvalue",
]


def _kappa(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observed >= 1, 1.0, (observed - expected) / (1 - expected))


def _pairwise_consistency(grid: RaterGrid, first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """Error consistency of rater rows ``first[i]`` and ``second[i]``, all pairs at once."""
    seen = grid.seen.astype(np.float32)  # counts stay exact in float32; ratios are taken in float64
    right = (grid.correct & grid.seen).astype(np.float32)
    n = (seen @ seen.T)[first, second].astype(float)
    right_a = (right @ seen.T)[first, second].astype(float)
    right_b = (seen @ right.T)[first, second].astype(float)
    both_right = (right @ right.T)[first, second].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_a, p_b = right_a / n, right_b / n
        observed = (n - right_a - right_b + 2 * both_right) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    consistent = np.rint(observed * n)
    lower, upper = binom.cdf(consistent, n, expected), binom.sf(consistent - 1, n, expected)
    kinds_a, kinds_b = grid.kinds[first], grid.kinds[second]
    return pd.DataFrame(
        {
            "rater_a": grid.raters[first], "rater_b": grid.raters[second], "kind_a": kinds_a, "kind_b": kinds_b,
            "pair": [f"{a}-{b}" for a, b in zip(kinds_a, kinds_b)], "n_images": n.astype(int),
            "accuracy_a": p_a, "accuracy_b": p_b, "observed_consistency": observed, "expected_consistency": expected,
            "kappa": _kappa(observed, expected),
            "kappa_min": _kappa(np.abs(p_a + p_b - 1), expected), "kappa_max": _kappa(1 - np.abs(p_a - p_b), expected),
            "pvalue": np.minimum(1.0, 2 * np.minimum(lower, upper)),
        }
    )[CONSISTENCY_COLUMNS]


def error_consistency_table(raters: pd.DataFrame, correct: str = "correct_topk") -> pd.DataFrame:
    """Error consistency of every pair of raters (human-human, human-model, model-model).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    correct : str
        Correctness column.

    Returns
    -------
    DataFrame
        ``CONSISTENCY_COLUMNS``, one row per unordered pair sharing at least one image.
    """
    grid = rater_grid(raters, correct)
    first, second = np.triu_indices(len(grid.raters), k=1)
    table = _pairwise_consistency(grid, first, second)
    return table[table["n_images"] > 0].reset_index(drop=True)


@dataclass(frozen=True)
class PairKappaResult(HypothesisTestResult):
    """A kappa of two raters on the images both saw; unpacks as ``kappa, pvalue``."""

    rater_a: str
    rater_b: str
    n_images: int

    @property
    def statistic(self) -> float:  # type: ignore[override]
        return self.kappa  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ErrorConsistencyResult(PairKappaResult):
    """Error consistency of two raters."""

    title = "Error consistency (Geirhos et al. 2020): kappa of trial-by-trial correctness"
    accuracy_a: float
    accuracy_b: float
    observed_consistency: float
    expected_consistency: float
    kappa: float
    kappa_min: float
    kappa_max: float
    pvalue: float


def error_consistency(raters: pd.DataFrame, rater_a: str, rater_b: str, correct: str = "correct_topk") -> ErrorConsistencyResult:
    """Error consistency of two raters on the images both saw (a rater with itself: 1).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    rater_a, rater_b : str
        The raters.
    correct : str
        Correctness column.
    """
    grid = rater_grid(raters, correct)
    row = _pairwise_consistency(grid, np.array([grid.row(rater_a)]), np.array([grid.row(rater_b)])).iloc[0]
    if row["n_images"] == 0:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    return ErrorConsistencyResult(
        rater_a, rater_b, int(row["n_images"]),
        *(float(row[c]) for c in ("accuracy_a", "accuracy_b", "observed_consistency", "expected_consistency", "kappa", "kappa_min", "kappa_max", "pvalue")),
    )


@dataclass(frozen=True)
class LabelKappaResult(PairKappaResult):
    """Cohen's kappa of two annotators' top-1 labels."""

    title = "Cohen's kappa on top-1 labels"
    n_categories: int
    kappa: float
    std_error: float
    ci_low: float
    ci_high: float
    pvalue: float


def label_kappa(raters: pd.DataFrame, rater_a: str, rater_b: str, alpha: float = 0.05) -> LabelKappaResult:
    """Cohen's kappa on the top-1 labels of the images both raters saw.

    The numbers are statsmodels' ``cohens_kappa`` (simple kappa, its asymptotic
    variances): the interval is kappa +- z * its standard error (see
    :func:`kappa_interval`); the p-value tests kappa = 0 with the standard error under
    that hypothesis.
    """
    rows = raters[raters["rater"].isin([rater_a, rater_b])]
    grid = label_grid(rows, NO_ANSWER)
    table = _pairwise_label_kappa(grid, np.array([grid.row(rater_a)]), np.array([grid.row(rater_b)]), alpha)
    if table.empty:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    row = table.iloc[0]
    return LabelKappaResult(
        rater_a, rater_b, int(row["n_images"]), int(row["n_categories"]),
        *(float(row[c]) for c in ("kappa", "std_error", "ci_low", "ci_high", "pvalue")),
    )


#: A standard error this small is rounding around a variance of 0, not a measurement.
_NO_SPREAD = 1e-6


def kappa_interval(kappa, std_error, alpha: float) -> tuple[np.ndarray, np.ndarray]:
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


def label_kappa_table(raters: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Cohen's kappa on labels for every pair of annotators sharing images (all pairs at once)."""
    grid = label_grid(raters[raters["kind"] == HUMAN], NO_ANSWER)
    first, second = np.triu_indices(len(grid.raters), k=1)
    return _pairwise_label_kappa(grid, first, second, alpha)


#: Pairs per block of :func:`_pairwise_label_kappa` are chosen to keep each block's
#: pairs x (images + categories) arrays near this many cells.
_BLOCK_CELLS = 2_000_000


def _pairwise_label_kappa(grid: LabelGrid, first: np.ndarray, second: np.ndarray, alpha: float) -> pd.DataFrame:
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
    table = pd.concat([_label_kappa_block(grid, first[i : i + size], second[i : i + size], alpha) for i in starts], ignore_index=True)
    return table[table["n_images"] > 0].reset_index(drop=True)


def _label_kappa_block(grid: LabelGrid, first: np.ndarray, second: np.ndarray, alpha: float) -> pd.DataFrame:
    n_categories = len(grid.categories)
    shared = grid.seen[first] & grid.seen[second]
    label_a, label_b = grid.labels[first], grid.labels[second]
    offset = (np.arange(len(first)) * n_categories)[:, None]

    def per_category(codes: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.bincount((codes + offset)[where], minlength=len(first) * n_categories).reshape(len(first), n_categories)

    count_a, count_b = per_category(label_a, shared), per_category(label_b, shared)
    both = per_category(label_a, shared & (label_a == label_b))
    n = shared.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no shared image, or one category only: NaN
        freq_row, freq_col = count_a / n[:, None], count_b / n[:, None]
        agree_exp = (freq_col * freq_row).sum(axis=1)
        kappa = (both.sum(axis=1) / n - agree_exp) / (1 - agree_exp)
        term_a = (both / n[:, None] * (1 - (freq_row + freq_col) * (1 - kappa)[:, None]) ** 2).sum(axis=1)
        differ = shared & (label_a != label_b)
        off_diagonal = (np.take_along_axis(freq_col, label_a, axis=1) + np.take_along_axis(freq_row, label_b, axis=1)) ** 2
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
            "rater_a": grid.raters[first].astype(str), "rater_b": grid.raters[second].astype(str), "n_images": n,
            "n_categories": ((count_a + count_b) > 0).sum(axis=1), "kappa": kappa, "std_error": std_kappa,
            "ci_low": ci_low, "ci_high": ci_high, "pvalue": pvalue,
        },
        columns=list(LabelKappaResult.__dataclass_fields__),
    )


@dataclass(frozen=True)
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
    return FleissResult(tuple(names), int(everyone.sum()), len(categories), float(fleiss_kappa(counts, method="fleiss")))


KAPPA_SUMMARY_COLUMNS = ["phase", "pairing", "n_pairs", "median_images", "kappa_median", "kappa_min", "kappa_max", "kappa_mean", "n_significant"]


def pairing(pairs: pd.DataFrame) -> np.ndarray:
    """What a pair of an error-consistency table pairs: ``annotator - annotator``,
    ``annotator - <model>``, or the two raters' names when neither is an annotator."""
    a, b = pairs["rater_a"].astype(str).to_numpy(dtype=object), pairs["rater_b"].astype(str).to_numpy(dtype=object)
    human_a, human_b = (pairs[column].astype(str).to_numpy() == HUMAN for column in ("kind_a", "kind_b"))
    return np.where(human_a & human_b, ANNOTATOR_PAIRS,
                    np.where(human_a, "annotator - " + b, np.where(human_b, "annotator - " + a, a + " - " + b)))


ANNOTATOR_PAIRS = "annotator - annotator"


def kappa_summary(pairs: pd.DataFrame, groups: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Kappas of many pairs summarised per group (and phase): how many pairs, their median
    shared images, the median, range and mean of kappa, and how many have p < ``alpha``
    (NaN when no pair of the group has a p-value).

    With 100 annotators there are 4,950 annotator pairs: a reader needs their spread, and
    the per-pair table stays available as data. Within a phase, annotator pairs come
    first, then annotators with each other rater, then the rest, in order of appearance.
    """
    phase = pairs["phase"].astype(str).to_numpy() if "phase" in pairs.columns else np.full(len(pairs), "")
    pvalue = pairs["pvalue"].to_numpy(dtype=float)
    frame = pd.DataFrame({"phase": phase, "pairing": groups, "n_images": pairs["n_images"].to_numpy(dtype=float),
                          "kappa": pairs["kappa"].to_numpy(dtype=float), "tested": ~np.isnan(pvalue), "significant": pvalue < alpha})
    summary = frame.groupby(["phase", "pairing"], sort=False).agg(
        n_pairs=("kappa", "size"), median_images=("n_images", "median"), kappa_median=("kappa", "median"),
        kappa_min=("kappa", "min"), kappa_max=("kappa", "max"), kappa_mean=("kappa", "mean"),
        tested=("tested", "sum"), n_significant=("significant", "sum"),
    ).reset_index()
    summary["n_significant"] = summary["n_significant"].where(summary["tested"] > 0)
    pairing_order = np.where(summary["pairing"] == ANNOTATOR_PAIRS, 0, np.where(summary["pairing"].str.startswith("annotator - "), 1, 2))
    return summary.assign(_order=pairing_order).sort_values(["phase", "_order"], kind="stable")[KAPPA_SUMMARY_COLUMNS].reset_index(drop=True)

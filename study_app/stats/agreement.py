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

On the labels: Cohen's kappa of two annotators' top-1 labels, and Fleiss' kappa when
three or more annotators saw the same images (statsmodels ``cohens_kappa`` and
``fleiss_kappa``); a non-answer counts as a category of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, norm
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from ..errors import StudyError
from .grid import RaterGrid, rater_grid
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


def _label_columns(raters: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Images x raters table of top-1 labels, on the images every named rater saw."""
    rows = raters[raters["rater"].isin(names)]
    labels = rows["label"].astype(str).where(rows["label"].astype(str) != "", NO_ANSWER)
    wide = pd.DataFrame({"rater": rows["rater"].astype(str), "image_id": rows["image_id"].astype(str), "label": labels})
    if wide.duplicated(["rater", "image_id"]).any():
        raise StudyError("a rater has several rows for one image (shown in several phases?); compare one phase at a time")
    missing = sorted(set(names) - set(wide["rater"]))
    if missing:
        raise StudyError(f"no rater {missing[0]!r} in the table")
    return wide.pivot(index="image_id", columns="rater", values="label")[list(names)].dropna()  # may repeat a rater


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
    """Cohen's kappa (statsmodels) on the top-1 labels of the images both raters saw.

    The interval is kappa +- z * its asymptotic standard error; the p-value tests
    kappa = 0 with the standard error under that hypothesis.
    """
    wide = _label_columns(raters, [rater_a, rater_b])
    if wide.empty:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    categories, codes = np.unique(wide.iloc[:, :2].to_numpy(dtype=str), return_inverse=True)
    codes = codes.reshape(-1, 2)
    table = np.bincount(codes[:, 0] * len(categories) + codes[:, 1], minlength=len(categories) ** 2).reshape(len(categories), -1)
    with np.errstate(invalid="ignore", divide="ignore"):  # one category only: kappa is undefined (NaN)
        result = cohens_kappa(table)
    pvalue = float(result.pvalue_two_sided) if np.isfinite(result.std_kappa0) and result.std_kappa0 > 0 else np.nan
    half_width = norm.isf(alpha / 2) * float(result.std_kappa)
    return LabelKappaResult(
        rater_a, rater_b, len(wide), len(categories), float(result.kappa), float(result.std_kappa),
        float(result.kappa) - half_width, float(result.kappa) + half_width, pvalue,
    )


def label_kappa_table(raters: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Cohen's kappa on labels for every pair of annotators sharing images."""
    people = sorted(raters.loc[raters["kind"] == HUMAN, "rater"].astype(str).unique())
    rows = []
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            if not _label_columns(raters, [a, b]).empty:
                result = label_kappa(raters, a, b, alpha)
                rows.append({f.name: getattr(result, f.name) for f in result.__dataclass_fields__.values()})
    return pd.DataFrame(rows, columns=list(LabelKappaResult.__dataclass_fields__))


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
    wide = _label_columns(raters, names)
    if wide.empty:
        raise StudyError(f"annotators {', '.join(names)} did not all see any one image")
    categories = sorted(set(wide.to_numpy().ravel()))
    codes = np.stack([pd.Categorical(wide.iloc[:, i], categories=categories).codes for i in range(len(names))], axis=1)
    counts, categories = aggregate_raters(codes)
    return FleissResult(tuple(names), len(wide), len(categories), float(fleiss_kappa(counts, method="fleiss")))

"""Paired comparisons on the same images: only images both sides saw count.

People and models rated the same images, so their errors are paired and the tests of
two independent proportions (as in the ILSVRC paper) are the wrong tool. Here:

- :func:`mcnemar_test`: the 2x2 table of (both right, only A right, only B right, both
  wrong) and the exact McNemar test (statsmodels) with its mid-p variant, which is less
  conservative and keeps its size well (Fagerland et al. 2013);
- :func:`paired_comparisons`: a table of every annotator, the pooled annotators
  (``"humans"``: the mean of the annotators' error rates), their crowds
  (:mod:`~study_app.stats.crowd`) and every other model against each model. The
  primary interval of a pair of single raters is Tango's score interval
  (:mod:`~study_app.stats.paired_score`), which never shrinks to a point; a paired
  cluster bootstrap interval (images resampled; annotators too for ``"humans"``) is
  the secondary one, and the only one of the pooled annotators. A ``note`` says where
  the score interval and the exact McNemar test, or the two intervals, disagree on
  excluding 0. McNemar p-values are Holm-adjusted within each family of pairs
  (:data:`FAMILIES`);
- :func:`humans_vs_model_gee`: several annotators against one model in one model, a
  GEE with annotator effects, exchangeable correlation within images and robust errors;
- :func:`cochran_q_test`: several raters at once (Cochran's Q) with pairwise exact
  McNemar tests, Holm-corrected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from statsmodels.stats.contingency_tables import cochrans_q
from statsmodels.stats.multitest import multipletests

from study_app.errors import StudyError
from study_app.stats.bootstrap import group_rate_replicates, percentile_interval, rater_rate_replicates, resample_counts
from study_app.stats.gee import NOT_CONVERGED, exchangeable_linear_gee
from study_app.stats.grid import RaterGrid, rater_grid
from study_app.stats.multiplicity import holm
from study_app.stats.paired_score import tango_interval
from study_app.stats.raters import HUMAN, MODEL
from study_app.stats.results import HypothesisTestResult

#: Stands for all annotators pooled (mean of their error rates) wherever a rater is named.
HUMANS = "humans"


@dataclass(frozen=True, repr=False)
class McNemarResult(HypothesisTestResult):
    """Exact McNemar test of two raters on the images both saw."""

    title = "Exact McNemar test (paired, same images)"
    rater_a: str
    rater_b: str
    n_images: int
    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong: int
    error_a: float
    error_b: float
    statistic: float
    pvalue: float
    midp_pvalue: float


def exact_mcnemar(only_a_right: int, only_b_right: int) -> tuple[float, float, float]:
    """Statistic (smaller discordant count), exact two-sided p and mid-p of McNemar's test.

    The exact p is statsmodels' ``mcnemar(exact=True)``: ``2 * P(X <= x)``, at most 1;
    the mid-p halves the probability of the observed count:
    ``2 * (P(X < x) + P(X = x) / 2)`` with ``X ~ Binomial(b + c, 1/2)``, ``x = min(b, c)``.
    """
    statistic, pvalue, midp = exact_mcnemar_arrays(np.array([only_a_right]), np.array([only_b_right]))
    return float(statistic[0]), float(pvalue[0]), float(midp[0])


def exact_mcnemar_arrays(
    only_a_right: np.ndarray, only_b_right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`exact_mcnemar` of many 2x2 tables at once (e.g. one per class)."""
    smaller = np.minimum(only_a_right, only_b_right)
    total = np.asarray(only_a_right) + np.asarray(only_b_right)
    below = binom.cdf(smaller, total, 0.5)
    midp = np.where(total > 0, np.minimum(1.0, 2 * (below - binom.pmf(smaller, total, 0.5) / 2)), 1.0)
    return smaller.astype(float), np.minimum(below * 2, 1), midp


def _counts(
    grid: RaterGrid, a: np.ndarray | int, b: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(both right, only A right, only B right, both wrong) of rater rows ``a[i]`` and ``b[i]``."""
    shared = grid.seen[a] & grid.seen[b]
    right_a, right_b = grid.correct[a] & shared, grid.correct[b] & shared
    both = (right_a & right_b).sum(axis=-1)
    only_a, only_b = right_a.sum(axis=-1) - both, right_b.sum(axis=-1) - both
    return both, only_a, only_b, shared.sum(axis=-1) - both - only_a - only_b


def mcnemar_test(raters: pd.DataFrame, rater_a: str, rater_b: str, *, correct: str = "correct_topk") -> McNemarResult:
    """Exact McNemar test of two raters (annotators, models or a crowd).

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    rater_a, rater_b : str
        The two raters.
    correct : str
        Correctness column.
    """
    grid = rater_grid(raters, correct=correct)
    both, only_a, only_b, neither = (int(count) for count in _counts(grid, grid.row(rater_a), grid.row(rater_b)))
    n = both + only_a + only_b + neither
    if n == 0:
        raise StudyError(f"{rater_a!r} and {rater_b!r} share no image")
    statistic, pvalue, midp = exact_mcnemar(only_a, only_b)
    return McNemarResult(
        rater_a,
        rater_b,
        n,
        both,
        only_a,
        only_b,
        neither,
        (only_b + neither) / n,
        (only_a + neither) / n,
        statistic,
        pvalue,
        midp,
    )


@dataclass(frozen=True)
class _Side:
    errors: np.ndarray
    seen: np.ndarray
    pooled: bool


def _side(grid: RaterGrid, name: str) -> _Side:
    if name == HUMANS:
        people = grid.of_kind(HUMAN)
        if not len(people.raters):
            raise StudyError("no annotators in the table to pool")
        return _Side(people.errors, people.seen, True)
    one = grid.subset([name])  # its own row only: the whole grid's errors would be built once per side
    return _Side(one.errors, one.seen, False)


def _mean_rate(errors: np.ndarray, seen: np.ndarray) -> float:
    """Mean of the error rates of the raters (rows) that saw any image; NaN if none did."""
    shown = seen.sum(axis=1)
    return float(np.mean(errors.sum(axis=1)[shown > 0] / shown[shown > 0])) if shown.any() else np.nan


def paired_differences(
    raters: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    *,
    alpha: float = 0.05,
    correct: str = "correct_topk",
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Error difference (A - B) of each pair on shared images, with a paired bootstrap interval.

    One set of image resampling weights serves every pair, so the intervals of several
    comparisons come from the same resamples, and all single raters are computed in one
    matrix product.

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    pairs : sequence of (str, str)
        Rater names, or ``"humans"`` for the mean of the annotators (then annotators are
        resampled too).
    alpha : float
        1 - confidence level.
    correct : str
        Correctness column.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the resampling.

    Returns
    -------
    DataFrame
        ``rater_a, rater_b, n_images, error_a, error_b, difference, boot_low, boot_high``.
    """
    grid = rater_grid(raters, correct=correct)
    rng = np.random.default_rng(seed)
    weights = resample_counts(len(grid.images), n_boot, rng)
    sides = {name: _side(grid, name) for pair in pairs for name in pair}

    def shared_images(a: str, b: str) -> np.ndarray:
        return np.any(sides[a].seen, axis=0) & np.any(sides[b].seen, axis=0)

    # Replicates per (side, shared images): pooled sides one by one (annotators are
    # resampled too), single raters all in one matrix product.
    replicates: dict[tuple[str, bytes], np.ndarray] = {}
    singles: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}
    for a, b in pairs:
        shared = shared_images(a, b)
        for name in (a, b):
            side, key = sides[name], (name, shared.tobytes())
            if side.pooled and key not in replicates:
                replicates[key] = group_rate_replicates(side.errors * shared, side.seen & shared, weights, rng)
            elif not side.pooled:
                singles[key] = (side.errors[0] * shared, side.seen[0] & shared)
    if singles:
        batch = rater_rate_replicates(
            np.array([e for e, _ in singles.values()]), np.array([s for _, s in singles.values()]), weights
        )
        replicates.update(zip(singles, batch.T))
    shared_of = [shared_images(a, b) for a, b in pairs]
    low, high = np.full(len(pairs), np.nan), np.full(len(pairs), np.nan)
    for start in range(0, len(pairs), _PAIRS_PER_BLOCK):  # blocks bound the memory of the replicate matrix
        block = [i for i in range(start, min(start + _PAIRS_PER_BLOCK, len(pairs))) if shared_of[i].any()]
        if block:
            differences = np.column_stack(
                [
                    replicates[(pairs[i][0], shared_of[i].tobytes())]
                    - replicates[(pairs[i][1], shared_of[i].tobytes())]
                    for i in block
                ]
            )
            low[block], high[block] = percentile_interval(differences, alpha=alpha)
    rows = []
    for (a, b), shared, pair_low, pair_high in zip(pairs, shared_of, low, high):
        error_a, error_b = (_mean_rate(sides[n].errors * shared, sides[n].seen & shared) for n in (a, b))
        rows.append(
            {
                "rater_a": a,
                "rater_b": b,
                "n_images": int(shared.sum()),
                "error_a": error_a,
                "error_b": error_b,
                "difference": error_a - error_b,
                "boot_low": float(pair_low),
                "boot_high": float(pair_high),
            }
        )
    return pd.DataFrame(rows)


#: Pairs whose bootstrap differences are held at once (replicates x pairs, float64).
_PAIRS_PER_BLOCK = 256


@dataclass(frozen=True, repr=False)
class ModelVsAnnotatorsResult(HypothesisTestResult):
    """What a test of one model against the annotators reports first (the GEE here, the mixed
    model of :mod:`~study_app.stats.mixed`): on how much it stands, and the plain error rates
    on the images the model and an annotator saw (``human_error``: the annotators' mean)."""

    model: str
    n_images: int
    n_annotators: int
    n_observations: int
    human_error: float
    model_error: float


@dataclass(frozen=True, repr=False)
class GeeResult(ModelVsAnnotatorsResult):
    """Annotators against one model, with annotator and image effects.

    ``difference`` is the mean of the annotators' error rates minus the model's, on the
    images the model saw; ``estimate`` is the GEE's estimate of that difference, the one
    ``ci_low``, ``ci_high`` and ``pvalue`` belong to. The two agree when every annotator
    saw the same images; when they saw different ones, the GEE weighs each answer by how
    its image's answers go together, and the two part. ``df`` is the reference's degrees
    of freedom (t with images - 1 below 40 images; infinite: normal).
    """

    title = (
        "Annotators vs model: GEE with annotator effects, exchangeable "
        "within image, robust errors (bias-reduced below 40 images)"
    )
    difference: float
    estimate: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    df: float
    note: str

    @property
    def converged(self) -> bool:
        return self.note != NOT_CONVERGED


def humans_vs_model_gee(
    raters: pd.DataFrame, model: str, *, alpha: float = 0.05, correct: str = "correct_topk"
) -> GeeResult:
    """Test whether the average annotator's error differs from a model's.

    A GEE of error (0/1) on a model indicator and sum-to-zero annotator effects, so that
    the model coefficient estimates the mean of the annotators' error rates minus the model's; answers
    to one image are correlated (exchangeable working correlation), and robust
    (sandwich) standard errors over images make the test paired: Mancl and DeRouen's
    bias-reduced sandwich with t (images - 1 degrees of freedom) as the reference below
    40 images (:meth:`~study_app.stats.gee.LinearGeeFit.wald`). The annotators are fixed
    effects here: the test is about these annotators; about people, see
    :func:`~study_app.stats.mixed.humans_vs_model_mixed`. The identity link keeps
    the estimate on the scale of error rates and stays defined when an annotator makes
    no error at all (a logit would diverge there). The fit is statsmodels' GEE algorithm
    computed from per-image sums (:mod:`study_app.stats.gee`): 100 annotators take a
    fraction of a second instead of a minute.

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase with annotators and the model.
    model : str
        The model's name.
    alpha : float
        1 - confidence level of the interval of the difference.
    correct : str
        Correctness column.

    Returns
    -------
    GeeResult
        NaN statistics, with a ``note``, when the errors do not vary at all, or when every
        image shows the same difference (a robust standard error of 0: statsmodels gave
        p = 0 or NaN there, as rounding fell).
    """
    grid = rater_grid(raters, correct=correct)
    model_row = grid.row(model)
    people = grid.of_kind(HUMAN)
    shared = grid.seen[model_row] & people.seen.any(axis=0)
    person, image = np.nonzero(people.seen & shared)
    n_people = len(people.raters)
    error = np.concatenate([1.0 - people.correct[person, image], 1.0 - grid.correct[model_row, shared]])
    is_model = np.concatenate([np.zeros(len(person)), np.ones(int(shared.sum()))])
    # The design's distinct rows: annotator j (sum-to-zero effects: the last is -1 in
    # every effect column), then the model; each observation names its row.
    effects = np.zeros((n_people + 1, max(n_people - 1, 0)))
    effects[np.arange(n_people - 1), np.arange(n_people - 1)] = 1.0
    effects[max(n_people - 1, 0) : n_people] = -1.0
    design = np.column_stack([np.ones(n_people + 1), np.arange(n_people + 1) == n_people, effects])
    row_design = np.concatenate([person, np.full(int(shared.sum()), n_people)])
    groups = np.concatenate([image, np.flatnonzero(shared)])
    human_error = _mean_rate(people.errors * shared, people.seen & shared)
    model_error = float(error[is_model == 1].mean()) if shared.any() else np.nan
    base: dict[str, Any] = dict(
        model=model,
        n_images=int(shared.sum()),
        n_annotators=n_people,
        n_observations=len(error),
        human_error=human_error,
        model_error=model_error,
        difference=human_error - model_error,
    )
    if len(error) == 0 or np.ptp(error) == 0:
        return GeeResult.untested(**base, note="the errors do not vary (all right or all wrong): nothing to test")
    fit = exchangeable_linear_gee(error, design, row_design, groups)
    se, statistic, pvalue, low, high = fit.wald(1, alpha)  # the model coefficient is model - annotators
    if se == 0:
        return GeeResult.untested(
            **base,
            estimate=-float(fit.params[1]),
            df=fit.df,
            note="the robust standard error is 0 (every image shows the same difference): nothing to test",
        )
    note = "" if fit.converged else NOT_CONVERGED
    return GeeResult(
        **base,
        estimate=-float(fit.params[1]),
        ci_low=-high,
        ci_high=-low,
        statistic=-statistic,
        pvalue=pvalue,
        df=fit.df,
        note=note,
    )


@dataclass(frozen=True, repr=False)
class CochranResult(HypothesisTestResult):
    """Cochran's Q over several raters on the images all of them saw, with pairwise tests."""

    title = "Cochran's Q test (several raters, same images) with pairwise exact McNemar (Holm)"
    raters: tuple[str, ...]
    n_images: int
    df: int
    statistic: float
    pvalue: float
    pairwise: pd.DataFrame


def cochran_q_test(
    raters: pd.DataFrame, names: Sequence[str] | None = None, *, alpha: float = 0.05, correct: str = "correct_topk"
) -> CochranResult:
    """Do several raters (by default: every model) have the same error rate?

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    names : sequence of str, optional
        At least two raters; default every model.
    alpha : float
        Family-wise error rate of the Holm correction (the ``reject`` column).
    correct : str
        Correctness column.
    """
    grid = rater_grid(raters, correct=correct)
    names = list(grid.raters[grid.kinds == MODEL]) if names is None else list(names)
    if len(names) < 2:
        raise StudyError(f"Cochran's Q needs at least two raters, got {len(names)}")
    chosen = grid.subset(names)
    everyone = chosen.seen.all(axis=0)
    if not everyone.any():
        raise StudyError(f"raters {', '.join(names)} share no image")
    right = chosen.correct[:, everyone].T.astype(int)
    q = cochrans_q(right)
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            only_i = int((right[:, i] & ~right[:, j]).sum())
            only_j = int((right[:, j] & ~right[:, i]).sum())
            statistic, pvalue, midp = exact_mcnemar(only_i, only_j)
            rows.append(
                {
                    "rater_a": names[i],
                    "rater_b": names[j],
                    "only_a_right": only_i,
                    "only_b_right": only_j,
                    "pvalue": pvalue,
                    "midp_pvalue": midp,
                }
            )
    pairwise = pd.DataFrame(rows)
    reject, adjusted, _, _ = multipletests(pairwise["pvalue"], alpha=alpha, method="holm")
    pairwise = pairwise.assign(pvalue_holm=adjusted, reject=reject)
    return CochranResult(tuple(names), int(everyone.sum()), int(q.df), float(q.statistic), float(q.pvalue), pairwise)


def default_pairs(raters: pd.DataFrame) -> list[tuple[str, str]]:
    """Every non-model rater, the pooled annotators, then every other model, against each model."""
    kinds = raters.groupby("rater", observed=True)["kind"].first().astype(str)
    models = sorted(kinds.index[kinds == MODEL])
    others = (
        sorted(kinds.index[kinds == HUMAN])
        + ([HUMANS] if (kinds == HUMAN).any() else [])
        + sorted(kinds.index[~kinds.isin([HUMAN, MODEL])])
    )
    pairs = [(other, model) for model in models for other in others]
    return pairs + [(a, b) for i, a in enumerate(models) for b in models[i + 1 :]]


#: The families of tests whose McNemar p-values are Holm-adjusted together (per phase,
#: as :func:`paired_comparisons` is called per phase): a question and its tests.
HUMANS_VS_MODELS = "humans vs models"
MODELS_VS_MODELS = "models vs models"
OTHER_PAIRS = "other pairs"
FAMILIES = {
    HUMANS_VS_MODELS: "an annotator, the pooled annotators or a crowd against a model",
    MODELS_VS_MODELS: "a model against another model",
    OTHER_PAIRS: "any other pair asked for (e.g. two annotators)",
}


def _family(kind_a: str, kind_b: str) -> str:
    if kind_a == kind_b == MODEL:
        return MODELS_VS_MODELS
    return HUMANS_VS_MODELS if MODEL in (kind_a, kind_b) else OTHER_PAIRS


def _holm_within(pvalues: pd.Series, families: pd.Series) -> pd.Series:
    """Holm-adjusted p-values within each family; NaN (no test) stays NaN and is not counted."""
    adjusted = pd.Series(np.nan, index=pvalues.index)
    for _, members in pvalues.groupby(families):
        tested = members.dropna()
        if len(tested):
            adjusted[tested.index] = holm(tested.to_numpy())
    return adjusted


def _disagreements(table: pd.DataFrame, alpha: float) -> np.ndarray:
    """Where the score interval, the exact McNemar test and the bootstrap interval part on
    whether the difference is 0: what a reader must not miss when one of them is quoted."""

    def excludes_zero(side: str) -> np.ndarray:
        return ((table[f"{side}_low"] > 0) | (table[f"{side}_high"] < 0)).to_numpy()

    score, boot = excludes_zero("score"), excludes_zero("boot")
    has_score, has_boot, tested = (table[c].notna().to_numpy() for c in ("score_low", "boot_low", "mcnemar_p"))
    rejects = (table["mcnemar_p"] < alpha).to_numpy()
    messages = [
        (has_score & tested & score & ~rejects, "score interval excludes 0 but exact McNemar p >= alpha"),
        (has_score & tested & ~score & rejects, "exact McNemar p < alpha but score interval includes 0"),
        (has_score & has_boot & (score != boot), "bootstrap and score intervals disagree on excluding 0"),
    ]
    notes = np.full(len(table), "", dtype=object)
    for where, message in messages:
        notes[where] = np.where(notes[where] == "", message, notes[where] + "; " + message)
    return notes


def paired_comparisons(
    raters: pd.DataFrame,
    pairs: Sequence[tuple[str, str]] | None = None,
    *,
    alpha: float = 0.05,
    correct: str = "correct_topk",
    n_boot: int = 10_000,
    seed: int = 0,
    gee: bool = True,
) -> pd.DataFrame:
    """Every paired comparison in one table (see :func:`default_pairs` for the default).

    Columns: those of :func:`paired_differences`; for pairs of single raters the 2x2
    counts, Tango's score interval of the difference (``score_low``, ``score_high``: the
    primary interval) and the exact McNemar p and mid-p; the GEE's estimate of the
    difference with its p-value (the pooled ``"humans"`` against a model; NaN when the
    fit did not converge, whose numbers mean nothing, or with ``gee=False``: the fit with
    annotator effects is the costly part when there are many annotators and tables);
    ``family`` (:data:`FAMILIES`) and ``mcnemar_p_holm``, the McNemar p Holm-adjusted
    within the pair's family of this call; and ``note``, where the score interval, the
    exact test and the bootstrap disagree on excluding 0 (at ``alpha``). Entries that do
    not apply are NaN.
    """
    pairs = default_pairs(raters) if pairs is None else list(pairs)
    table = paired_differences(raters, pairs, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed)
    grid = rater_grid(raters, correct=correct)
    extra: list[dict[str, float | str]] = [{} for _ in pairs]
    singles = [i for i, pair in enumerate(pairs) if HUMANS not in pair]
    if singles:
        rows_a, rows_b = (np.array([grid.row(pairs[i][side]) for i in singles]) for side in (0, 1))
        counts = _counts(grid, rows_a, rows_b)
        _, pvalues, midps = exact_mcnemar_arrays(counts[1], counts[2])
        # error A - error B: A is wrong where only B is right
        lows, highs = tango_interval(counts[2], counts[1], sum(counts), alpha=alpha)
        for i, both, only_a, only_b, neither, pvalue, midp, low, high in zip(
            singles, *counts, pvalues, midps, lows, highs
        ):
            tested = both + only_a + only_b + neither > 0  # a pair with no shared image has no test, not p = 1
            extra[i] = dict(
                both_right=int(both),
                only_a_right=int(only_a),
                only_b_right=int(only_b),
                both_wrong=int(neither),
                score_low=float(low),
                score_high=float(high),
                mcnemar_p=float(pvalue) if tested else np.nan,
                mcnemar_midp=float(midp) if tested else np.nan,
            )
    kind_of = {str(rater): str(kind) for rater, kind in zip(grid.raters, grid.kinds)} | {HUMANS: HUMAN}
    for row, (a, b) in zip(extra, pairs):
        row["family"] = _family(kind_of[a], kind_of[b])
        if gee and a == HUMANS and kind_of[b] == MODEL:
            fit = humans_vs_model_gee(raters, b, alpha=alpha, correct=correct)
            if fit.converged:
                row.update(gee_difference=fit.estimate, gee_p=fit.pvalue)
    columns = [
        "both_right",
        "only_a_right",
        "only_b_right",
        "both_wrong",
        "score_low",
        "score_high",
        "mcnemar_p",
        "mcnemar_midp",
        "gee_difference",
        "gee_p",
        "family",
    ]
    result = pd.concat([table, pd.DataFrame(extra, columns=columns)], axis=1)
    result["mcnemar_p_holm"] = _holm_within(result["mcnemar_p"], result["family"])
    result["note"] = _disagreements(result, alpha)
    return result

"""Where the errors are: per class and superclass, confusions, over the session, and RT.

- :func:`class_error_comparison`: error per class (or per parent class) for the
  annotators and one model, Spearman's rank correlation of the two profiles, and the
  classes where they differ. The per-class test is paired: on each image the
  annotators' mean error is compared with the model's, and the images where one side
  does better are counted (an exact sign test, which is McNemar's test when there is
  one annotator); p-values are Benjamini-Hochberg adjusted over classes.
- :func:`confused_pairs`: the most frequent (truth, top-1 guess) pairs among errors,
  for the annotators pooled and for each model.
- :func:`error_by_trial`: learning or fatigue, the change in the odds of an error per
  100 trials (a logistic regression with one intercept per annotator and phase).
- :func:`rt_by_correctness`: response times of right and wrong answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu, spearmanr
from statsmodels.stats.multitest import multipletests

from study_app.errors import StudyError
from study_app.protocol.labels import LabelSet
from study_app.stats.paired import HUMANS, exact_mcnemar_arrays
from study_app.stats.raters import HUMAN, MODEL, combined_code, stimulus_codes
from study_app.stats.results import HypothesisTestResult, Summarised

LEVELS = ("class", "superclass")


@dataclass(frozen=True, repr=False)
class ClassComparison(Summarised):
    """Per-class errors of the annotators and one model, and how alike the profiles are."""

    title = "Error per class: annotators vs model"
    model: str
    level: str
    n_classes: int
    spearman_rho: float
    spearman_p: float
    n_significant: int
    table: pd.DataFrame


def _class_of(raters: pd.DataFrame, level: str, labels: LabelSet | None) -> np.ndarray:
    """Each row's class (its truth as text) or superclass; each distinct truth is looked up once."""
    if level not in LEVELS:
        raise StudyError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == "superclass" and (labels is None or not labels.parent_of):
        raise StudyError("errors per superclass need a label hierarchy")
    code, truths = pd.factorize(raters["truth"])
    names = pd.Index(truths).astype(str)
    if level == "superclass":
        assert labels is not None  # checked above
        parent_of = labels.parent_of
        names = names.map(lambda label: parent_of.get(label, label))
    return np.where(code >= 0, np.asarray(names, dtype=object)[code], np.nan)


def class_error_comparison(
    raters: pd.DataFrame,
    model: str,
    *,
    level: str = "class",
    labels: LabelSet | None = None,
    alpha: float = 0.05,
    correct: str = "correct_topk",
) -> ClassComparison:
    """Compare the annotators' and a model's error class by class.

    Parameters
    ----------
    raters : DataFrame
        A rater table of one phase.
    model : str
        The model.
    level : {"class", "superclass"}
        Group images by their (primary) ground-truth class or by its parent.
    labels : LabelSet, optional
        The hierarchy, needed for ``level="superclass"``.
    alpha : float
        False discovery rate for the ``significant`` column.
    correct : str
        Correctness column.

    Returns
    -------
    ClassComparison
        ``table`` has one row per class: ``n_images``, ``human_error`` (mean of the
        annotators' answers), ``model_error``, ``difference``, ``humans_better`` and
        ``model_better`` (images), ``pvalue``, ``pvalue_fdr``, ``significant``.
    """
    if not (raters["rater"] == model).any():
        raise StudyError(f"no model {model!r} in the table")
    rows = pd.DataFrame(
        {
            "image_id": stimulus_codes(raters)[0],
            "group": _class_of(raters, level, labels),
            "error": ~raters[correct].to_numpy(dtype=bool),
        }
    )
    human = (
        rows[(raters["kind"] == HUMAN).to_numpy()]
        .groupby("image_id", observed=True)
        .agg(group=("group", "first"), human_error=("error", "mean"))
    )
    machine = (
        rows[(raters["rater"] == model).to_numpy()]
        .groupby("image_id", observed=True)["error"]
        .first()
        .rename("model_error")
    )
    images = human.join(machine, how="inner")
    if images.empty:
        raise StudyError(f"the annotators and {model!r} share no image")
    images = images.assign(
        humans_better=images["human_error"] < images["model_error"],
        model_better=images["human_error"] > images["model_error"],
    )
    table = images.groupby("group", sort=True).agg(
        n_images=("human_error", "size"),
        human_error=("human_error", "mean"),
        model_error=("model_error", "mean"),
        humans_better=("humans_better", "sum"),
        model_better=("model_better", "sum"),
    )
    table = table.rename_axis(level).reset_index()
    table["difference"] = table["human_error"] - table["model_error"]
    table["pvalue"] = exact_mcnemar_arrays(
        table["humans_better"].to_numpy(dtype=np.int64), table["model_better"].to_numpy(dtype=np.int64)
    )[1]
    reject, adjusted, _, _ = multipletests(table["pvalue"], alpha=alpha, method="fdr_bh")
    table = table.assign(pvalue_fdr=adjusted, significant=reject)
    varied = table["human_error"].nunique() > 1 and table["model_error"].nunique() > 1
    rho, p = spearmanr(table["human_error"], table["model_error"]) if len(table) >= 3 and varied else (np.nan, np.nan)
    return ClassComparison(model, level, len(table), float(rho), float(p), int(reject.sum()), table)


def confused_pairs(raters: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """The most frequent wrong top-1 answers as (truth, label) pairs, per rater group.

    Returns
    -------
    DataFrame
        ``group`` (``"humans"`` for all annotators, else the model), ``truth``, ``label``,
        ``count`` and ``share`` of that group's wrong top-1 answers.
    """
    wrong = raters[
        ~raters["correct_top1"].to_numpy(dtype=bool)
        & (raters["label"].astype(str) != "")
        & raters["kind"].isin([HUMAN, MODEL])
    ]
    group = np.where(wrong["kind"] == HUMAN, HUMANS, wrong["rater"].astype(str))
    counts = (
        pd.DataFrame({"group": group, "truth": wrong["truth"].astype(str), "label": wrong["label"].astype(str)})
        .value_counts()
        .rename("count")
        .reset_index()
    )
    counts["share"] = counts["count"] / counts.groupby("group")["count"].transform("sum")
    counts = counts.sort_values(["group", "count", "truth", "label"], ascending=[True, False, True, True])
    return counts.groupby("group", sort=True).head(top).reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class TrendResult(HypothesisTestResult):
    """Change of the annotators' error over the trials of a session."""

    title = "Error vs trial index (logistic regression with an intercept per annotator and phase)"
    n_annotators: int
    n_trials: int
    odds_ratio_per_100: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    binned: pd.DataFrame


#: Largest design (rows x annotator intercepts) fitted with one intercept per annotator;
#: beyond it (hundreds of annotators) a GEE with clusters takes over.
MAX_FIXED_EFFECT_CELLS = 5_000_000


def _trend_fit(error: np.ndarray, per_100: np.ndarray, clusters: np.ndarray) -> Any:  # a statsmodels results object
    """Logistic regression of error on trial position with one intercept per cluster.

    With many clusters the dummy design grows too large, and a population-averaged GEE
    (exchangeable, clustered by annotator and phase) estimates the same slope with
    cluster-robust errors, which are sound once there are that many annotators.
    """
    from statsmodels.genmod.cov_struct import Exchangeable
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_estimating_equations import GEE
    from statsmodels.genmod.generalized_linear_model import GLM

    codes, _ = pd.factorize(clusters)
    count = int(codes.max()) + 1
    if len(error) * count <= MAX_FIXED_EFFECT_CELLS:
        intercepts = np.zeros((len(error), count))
        intercepts[np.arange(len(error)), codes] = 1.0
        return GLM(error, np.column_stack([per_100, intercepts]), family=Binomial()).fit()
    design = np.column_stack([per_100, np.ones_like(per_100)])
    return GEE(error, design, groups=codes, family=Binomial(), cov_struct=Exchangeable()).fit()


def error_by_trial(
    raters: pd.DataFrame, *, alpha: float = 0.05, correct: str = "correct_topk", bins: int = 10
) -> TrendResult:
    """Learning (errors fall) or fatigue (errors rise) over the trials of each phase.

    The odds ratio of an error per 100 further trials comes from a logistic regression
    with one intercept per (annotator, phase): every annotator keeps their own level of
    skill, so differences between annotators cannot pass for a trend. (A conditional
    logit would avoid the intercepts but recurses once per trial in statsmodels and fails
    on the 1500-trial sessions of the ILSVRC protocol.) Annotators with no error, or only
    errors, carry no information on the slope. ``binned`` gives the error rate in
    ``bins`` equal ranges of the trial index, for a plot.
    """
    human = raters[(raters["kind"] == HUMAN) & raters["trial"].notna()]
    error = (~human[correct].to_numpy(dtype=bool)).astype(float)
    trial = human["trial"].to_numpy(dtype=float)
    clusters = combined_code(human["rater"], human["phase"])
    mixed = pd.Series(error).groupby(clusters).transform("std").fillna(0).to_numpy() > 0
    if not mixed.any() or np.unique(trial[mixed]).size < 2:
        raise StudyError(
            "a trend over trials needs an annotator with both right and wrong answers at several trial positions"
        )
    fit = _trend_fit(error[mixed], trial[mixed] / 100, clusters[mixed])
    low, high = np.exp(np.asarray(fit.conf_int(alpha))[0])
    edges = np.linspace(trial.min(), trial.max() + 1, bins + 1)
    position = pd.cut(trial, edges, right=False)  # every trial falls in a bin: the edges span them
    binned = pd.DataFrame({"error": error}).groupby(position.codes, sort=True)["error"].agg(n="size", error_rate="mean")
    binned = pd.DataFrame({"trials": position.categories.astype(str)[binned.index], **binned}).reset_index(drop=True)
    params, tvalues, pvalues = (np.asarray(v) for v in (fit.params, fit.tvalues, fit.pvalues))
    return TrendResult(
        human["rater"].nunique(),
        len(human),
        float(np.exp(params[0])),
        float(low),
        float(high),
        float(tvalues[0]),
        float(pvalues[0]),
        binned,
    )


def rt_by_correctness(raters: pd.DataFrame, *, correct: str = "correct_topk") -> pd.DataFrame:
    """Median response time of right and wrong answers, per annotator and pooled.

    Only answers count (a timeout's RT is the time limit, not a decision time). The
    p-value is a two-sided Mann-Whitney U test; the pooled row ignores that answers of
    one annotator are related and is descriptive.
    """
    answered = raters[
        (raters["kind"] == HUMAN) & (raters["outcome"] == "answer") & np.isfinite(raters["rt_ms"].to_numpy(dtype=float))
    ]
    groups = [(str(name), rows) for name, rows in answered.groupby("rater", observed=True, sort=True)] + [
        (HUMANS, answered)
    ]
    table = []
    for name, rows in groups:
        right = rows.loc[rows[correct].to_numpy(dtype=bool), "rt_ms"].to_numpy(dtype=float)
        wrong = rows.loc[~rows[correct].to_numpy(dtype=bool), "rt_ms"].to_numpy(dtype=float)
        pvalue = float(mannwhitneyu(right, wrong).pvalue) if len(right) and len(wrong) else np.nan
        table.append(
            {
                "rater": name,
                "n_right": len(right),
                "n_wrong": len(wrong),
                "median_rt_right": float(np.median(right)) if len(right) else np.nan,
                "median_rt_wrong": float(np.median(wrong)) if len(wrong) else np.nan,
                "pvalue": pvalue,
            }
        )
    return pd.DataFrame(table)

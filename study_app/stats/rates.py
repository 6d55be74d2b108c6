"""Error rates with 95% intervals: each annotator, each model, and the humans pooled.

A single rater's errors on distinct images are independent Bernoulli trials, so exact
and score intervals apply: Clopper-Pearson (``cp_*``, statsmodels ``method="beta"``) and
Wilson (``wilson_*``). The pooled humans ("humans (mean of annotators)", the mean of the
annotators' error rates) are not one binomial sample: the same images recur across
annotators and annotators differ, so their interval comes from a two-way cluster
bootstrap over images and annotators (``boot_*``). Each crowd of the annotators
(:func:`~study_app.stats.crowd.crowds`: plurality vote, optimistic, strict majority) is
one binary outcome per image and gets Wilson and Clopper-Pearson intervals like a single
rater.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from study_app.stats.bootstrap import group_rate_replicates, percentile_interval, resample_counts
from study_app.stats.crowd import crowds
from study_app.stats.grid import rater_grid
from study_app.stats.raters import HUMAN, MODEL, STIMULUS_KEY, combined_code, with_condition

ALL_PHASES = "(all)"
HUMANS_MEAN = "humans (mean of annotators)"
POOLED = "humans"
RATE_COLUMNS = [
    "phase",
    "scope",
    "rater",
    "kind",
    "n_raters",
    "n",
    "errors",
    "error_rate",
    "wilson_low",
    "wilson_high",
    "cp_low",
    "cp_high",
    "boot_low",
    "boot_high",
]


def error_rates(
    raters: pd.DataFrame,
    *,
    alpha: float = 0.05,
    correct: str = "correct_topk",
    n_boot: int = 2000,
    seed: int = 0,
    scope: str = "all",
) -> pd.DataFrame:
    """Error rate of every rater, the annotators' mean and their crowds, by phase.

    Parameters
    ----------
    raters : DataFrame
        A rater table.
    alpha : float
        1 - confidence level of the intervals.
    correct : str
        Correctness column (``correct_top1``, ``correct_topk``, ``all_guesses_valid``).
    n_boot : int
        Bootstrap replicates for the pooled humans.
    seed : int
        Seed of the bootstrap and of the plurality vote's tie-break.
    scope : str
        What the rows cover, written in the ``scope`` column: ``"all"`` (every trial of
        each rater) or ``"shared"`` (a table restricted to the stimuli the compared sides
        both saw, :func:`~study_app.stats.raters.shown_images_only`).

    Returns
    -------
    DataFrame
        Columns ``RATE_COLUMNS``; with several phases, or rows in no phase (a model's
        predictions of images no phase shows), ``phase`` is ``"(all)"`` for all rows
        together, then each phase's name; interval columns that do not apply are NaN.
    """
    rng = np.random.default_rng(seed)
    present = set(map(str, raters["phase"].unique()))
    names = sorted(present - {""})
    phases = [ALL_PHASES, *names] if len(names) > 1 or "" in present else names
    parts = []
    for phase in phases:
        rows = raters[raters["phase"] == phase] if len(phases) > 1 and phase != ALL_PHASES else raters
        parts.append(single_rater_rates(_predictions_once(rows), correct=correct, alpha=alpha).assign(phase=phase))
        if (rows["kind"] == HUMAN).any():
            parts.append(single_rater_rates(crowds(rows, seed=seed), correct=correct, alpha=alpha).assign(phase=phase))
            parts.append(
                pooled_human_rate(
                    rows[rows["kind"] == HUMAN], correct=correct, alpha=alpha, n_boot=n_boot, rng=rng
                ).assign(phase=phase)
            )
    return pd.concat(parts, ignore_index=True).assign(scope=scope)[RATE_COLUMNS]


def _predictions_once(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with each model's prediction of an image counted once.

    An image shown in several phases (counterbalanced designs) carries a copy of the one
    prediction per phase (the same image at another condition is another stimulus and
    stays); pooled over phases, the copies would count as evidence twice. An annotator's
    answers in two phases are two answers and stay.
    """
    is_model = (rows["kind"] == MODEL).to_numpy()
    models = rows[is_model]  # a few thousand rows beside a million answers
    repeated = np.flatnonzero(is_model)[with_condition(models).duplicated(["rater", *STIMULUS_KEY]).to_numpy()]
    if not len(repeated):
        return rows
    keep = np.ones(len(rows), dtype=bool)
    keep[repeated] = False
    return rows[keep]


def single_rater_rates(rows: pd.DataFrame, *, correct: str, alpha: float, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each rater's error rate with Wilson and Clopper-Pearson intervals, per group of ``by`` columns
    (kept in the result) and rater: one group-by for all raters and groups."""
    stats = rows.groupby([*by, "rater", "kind"], observed=True, sort=True)[correct].agg(["size", "sum"]).reset_index()
    n = stats["size"].to_numpy()
    errors = n - stats["sum"].to_numpy()
    wilson = proportion_confint(errors, n, alpha=alpha, method="wilson")
    exact = proportion_confint(errors, n, alpha=alpha, method="beta")
    return pd.DataFrame(
        {
            **{column: stats[column].astype(str) for column in by},
            "rater": stats["rater"].astype(str),
            "kind": stats["kind"].astype(str),
            "n_raters": 1,
            "n": n,
            "errors": errors,
            "error_rate": errors / n,
            "wilson_low": wilson[0],
            "wilson_high": wilson[1],
            "cp_low": exact[0],
            "cp_high": exact[1],
            "boot_low": np.nan,
            "boot_high": np.nan,
        }
    )


def pooled_human_rate(
    human: pd.DataFrame, *, correct: str, alpha: float, n_boot: int, rng: np.random.Generator
) -> pd.DataFrame:
    """The mean of the annotators' error rates, one row, with a two-way (images x annotators)
    cluster bootstrap interval."""
    # Images are keyed by phase too, so an image shown in two phases cannot collide.
    keyed = human.assign(image_id=combined_code(human["phase"], human["image_id"]))
    grid = rater_grid(keyed, correct=correct)
    errors, seen = grid.errors, grid.seen
    per_rater = errors.sum(axis=1) / seen.sum(axis=1)
    replicates = group_rate_replicates(errors, seen, resample_counts(len(grid.images), n_boot, rng), rng)
    low, high = percentile_interval(replicates, alpha=alpha)
    return pd.DataFrame(
        [
            {
                "rater": HUMANS_MEAN,
                "kind": POOLED,
                "n_raters": len(grid.raters),
                "n": int(seen.sum()),
                "errors": int(errors.sum()),
                "error_rate": float(per_rater.mean()),
                "wilson_low": np.nan,
                "wilson_high": np.nan,
                "cp_low": np.nan,
                "cp_high": np.nan,
                "boot_low": float(low),
                "boot_high": float(high),
            }
        ]
    )

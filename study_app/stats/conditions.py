"""Statistics per condition: error rates, paired tests and error consistency at each level.

Degradation experiments (Geirhos et al. 2017, 2018, 2021) measure accuracy as a function
of a condition (noise width, contrast, blur). Pooling over levels hides the curve, so
every statistic here is computed within one (phase, condition) at a time. A stimulus is
(image, condition): the same source image at two levels is two stimuli, counted twice
for a rater that saw both and never paired across levels
(:func:`~study_app.stats.raters.stimulus_codes`).

Levels are text, kept as written except that numbers get one spelling
(:func:`condition_level`: ``"0.00"`` and ``"0"`` are one level); :func:`condition_order`
sorts them numerically when every level is a number.

Two scopes answer two questions:

``scope="all"``
    every trial of the rater at that (phase, condition): the rater's own accuracy curve;
``scope="shared"``
    only the stimuli (phase, image, condition) that at least one annotator and **every**
    model of the table saw: all raters of a level are then measured on one common set
    of stimuli, the comparison a paper draws between people and models. (A model that saw
    all images, the usual case, leaves the humans' stimuli as they are; a model that saw
    few shrinks the shared set for everyone.) Without models, shared = the stimuli some
    annotator saw; without annotators, there is nothing shared and the scope has no rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study_app.protocol.counterbalance import level_order
from study_app.stats.benchmark import model_human_pairs
from study_app.stats.mixed import POPULATION_COLUMNS, population_table
from study_app.stats.paired import HUMANS, paired_comparisons
from study_app.stats.raters import HUMAN, MODEL, combined_code, stimulus_codes, with_condition
from study_app.stats.rates import POOLED, RATE_COLUMNS, pooled_human_rate, single_rater_rates
from study_app.stats.results import Summarised
from study_app.stimuli.registry import condition_name

SCOPES = ("all", "shared")
CONDITION_COLUMNS = ["phase", "condition", "rater", "kind", "scope", *RATE_COLUMNS[4:]]
TEST_COLUMNS = [
    "phase",
    "condition",
    "rater_a",
    "rater_b",
    "n_images",
    "error_a",
    "error_b",
    "difference",
    "score_low",
    "score_high",
    "boot_low",
    "boot_high",
    "both_right",
    "only_a_right",
    "only_b_right",
    "both_wrong",
    "mcnemar_p",
    "mcnemar_midp",
    "mcnemar_p_holm",
    "family",
    "note",
]
POPULATION_BY_CONDITION = ["phase", "condition", *POPULATION_COLUMNS]
CONSISTENCY_COLUMNS = [
    "phase",
    "condition",
    "model",
    "n_humans",
    "error_consistency",
    "observed_consistency",
    "accuracy_difference",
]
MIXED_NOTE = "condition levels mix numbers and words ({examples}); they are sorted as written, not by value"


def condition_level(text: object) -> str:
    """One spelling per level: a number as its shortest exact decimal (``"0.00"`` and ``"0"`` ->
    ``"0"``, ``"0.90"`` -> ``"0.9"``, ``"Inf"`` -> ``"inf"``), any other text stripped and as written
    (``"c05"`` stays ``"c05"``). Missing values and ``"nan"`` are ``""``: no condition."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    written = str(text).strip()
    value = _number(written)
    if value is None:
        return "" if written.lower() == "nan" else written
    return condition_name(value)


def _number(text: str) -> float | None:
    """The level as a number (finite or infinite), or None for a word (``nan`` is no number)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def condition_order(levels: Iterable[object]) -> list[str]:
    """The distinct levels in display order: by value when every level is a number (``inf``
    included), else as written (text order); :func:`order_note` says when words and
    numbers are mixed."""
    return level_order(str(level) for level in levels)  # one rule for the design and the statistics


def order_note(levels: Iterable[object]) -> str | None:
    """A note when levels mix numbers and words (sorted as written then); None otherwise."""
    distinct = sorted({str(level) for level in levels})
    numbers = [level for level in distinct if _number(level) is not None]
    words = [level for level in distinct if _number(level) is None]
    if numbers and words:
        return MIXED_NOTE.format(examples=f"e.g. {numbers[0]!r} and {words[0]!r}")
    return None


def condition_rates(
    raters: pd.DataFrame,
    *,
    correct: str = "correct_top1",
    scope: str | Sequence[str] = "all",
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Error rate of every rater and of the pooled humans at each (phase, condition).

    Parameters
    ----------
    raters : DataFrame
        A rater table; without a ``condition`` column every row is condition ``""``.
    correct : str
        Correctness column.
    scope : ``"all"``, ``"shared"`` or both (a sequence)
        Which trials count, see the module docstring.
    alpha : float
        1 - confidence level.
    n_boot, seed : int
        Replicates and seed of the pooled humans' bootstrap. Each (phase, condition, scope)
        starts from ``seed``: its interval does not depend on which other levels, scopes or
        models the table holds, and levels with as many stimuli share one draw of the
        resampling counts (drawn once, the costliest step).

    Returns
    -------
    DataFrame
        ``CONDITION_COLUMNS``: one row per (phase, condition, scope) and annotator, model
        and ``"humans (mean of annotators)"`` (the mean of the annotators' error rates).
        Single raters get Wilson and Clopper-Pearson intervals (``wilson_*``, ``cp_*``); the
        pooled humans a two-way cluster bootstrap over annotators and images (``boot_*``),
        as :func:`~study_app.stats.rates.error_rates` computes them. Rows run by phase, then
        condition in :func:`condition_order`, then scope, then annotators, models and the
        pooled humans.
    """
    scopes = (scope,) if isinstance(scope, str) else tuple(scope)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"scope {unknown[0]!r}: use 'all' or 'shared'")
    table = with_condition(raters)
    parts = []
    pooled_of: dict[tuple[str, str, int], pd.DataFrame] = {}  # the shared scope often keeps every human row
    for name in scopes:
        rows = table if name == "all" else shared_stimuli(table)
        if rows.empty:
            continue
        parts.append(
            single_rater_rates(rows, correct=correct, alpha=alpha, by=("phase", "condition")).assign(scope=name)
        )
        human = rows[(rows["kind"] == HUMAN).to_numpy()]
        for (phase, level), part in human.groupby(["phase", "condition"], observed=True, sort=True):
            key = (str(phase), str(level), len(part))  # within one cell, shared rows are a subset: same size, same rows
            if key not in pooled_of:
                pooled_of[key] = pooled_human_rate(
                    part, correct=correct, alpha=alpha, n_boot=n_boot, rng=np.random.default_rng(seed)
                )
            parts.append(pooled_of[key].assign(phase=key[0], condition=key[1], scope=name))
    if not parts:
        return pd.DataFrame(columns=CONDITION_COLUMNS)
    return _in_display_order(pd.concat(parts, ignore_index=True)[CONDITION_COLUMNS], ["scope", "_kind", "rater"])


def shared_stimuli(raters: pd.DataFrame) -> pd.DataFrame:
    """The rows on stimuli (phase, image, condition) that some annotator and every model saw."""
    table = with_condition(raters)
    key = combined_code(table["phase"], stimulus_codes(table)[0])
    kind = table["kind"].to_numpy()
    shared = np.unique(key[kind == HUMAN])
    for model in pd.unique(table.loc[kind == MODEL, "rater"]):
        shared = np.intersect1d(shared, key[(table["rater"] == model).to_numpy()])
    return table[np.isin(key, shared)].reset_index(drop=True)


def condition_tests(
    raters: pd.DataFrame, *, correct: str = "correct_top1", alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Each model against each annotator and against the pooled humans, within each (phase, condition).

    Pairs are the stimuli both sides saw (so the scope is ``"shared"`` by construction).
    Annotator vs model: the 2x2 counts, the exact McNemar p and mid-p, Tango's score
    interval of the difference and the McNemar p Holm-adjusted over the pairs of the
    (phase, condition); pooled humans (``"humans"``) vs model: the error difference with a
    paired cluster bootstrap interval (images and annotators resampled), as
    :func:`~study_app.stats.paired.paired_comparisons` computes them. Columns
    ``TEST_COLUMNS``; ``rater_b`` is always the model.
    """
    table = with_condition(raters)
    parts = []
    for (phase, level), rows in table.groupby(["phase", "condition"], observed=True, sort=True):
        kinds = rows.groupby("rater", observed=True)["kind"].first().astype(str)
        people = sorted(kinds.index[kinds == HUMAN])
        pairs = (
            [(other, model) for model in sorted(kinds.index[kinds == MODEL]) for other in [*people, HUMANS]]
            if people
            else []
        )
        if pairs:
            tested = paired_comparisons(rows, pairs, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed, gee=False)
            parts.append(tested.assign(phase=str(phase), condition=str(level)))
    if not parts:
        return pd.DataFrame(columns=TEST_COLUMNS)
    return _in_display_order(pd.concat(parts, ignore_index=True)[TEST_COLUMNS], ["rater_b", "rater_a"])


def condition_population(raters: pd.DataFrame, *, correct: str = "correct_top1", alpha: float = 0.05) -> pd.DataFrame:
    """Each model against people as a population within each (phase, condition): the logistic
    mixed model of :func:`~study_app.stats.mixed.humans_vs_model_mixed` on that level's stimuli.
    Columns :data:`POPULATION_BY_CONDITION`; none where a level has no annotators."""
    table = with_condition(raters)
    parts = []
    for (phase, level), rows in table.groupby(["phase", "condition"], observed=True, sort=True):
        kinds = rows.groupby("rater", observed=True)["kind"].first().astype(str)
        if (kinds == HUMAN).any():
            found = population_table(rows, sorted(kinds.index[kinds == MODEL]), alpha=alpha, correct=correct)
            parts.append(found.assign(phase=str(phase), condition=str(level)))
    if not parts:
        return pd.DataFrame(columns=POPULATION_BY_CONDITION)
    return _in_display_order(pd.concat(parts, ignore_index=True)[POPULATION_BY_CONDITION], ["model"])


def condition_consistency(raters: pd.DataFrame, *, correct: str = "correct_top1") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Error consistency of each model with the annotators, per condition and averaged.

    As model-vs-human computes it (:func:`~study_app.stats.benchmark.model_human_pairs`):
    Cohen's kappa of correctness for one model and one annotator on the stimuli both saw
    at one condition; per condition the mean over annotators; the average over conditions
    is taken per annotator first, then over annotators (the benchmark's order, which
    matters when an annotator lacks a condition).

    Returns
    -------
    (per_condition, averaged) : DataFrames
        ``CONSISTENCY_COLUMNS`` per (phase, condition, model); and per (phase, model):
        ``n_conditions, n_humans, error_consistency, observed_consistency, accuracy_difference``
        (the accuracy difference squared, as the benchmark defines it).
    """
    metrics = ["error_consistency", "observed_consistency", "accuracy_difference"]
    pairs = (
        model_human_pairs(with_condition(raters), dataset="phase", condition="condition", correct=correct)
        if (raters["kind"] == MODEL).any()
        else None
    )
    if pairs is None or pairs.empty:
        return pd.DataFrame(columns=CONSISTENCY_COLUMNS), pd.DataFrame(
            columns=["phase", "model", "n_conditions", "n_humans", *metrics]
        )
    pairs = pairs.rename(columns={"dataset": "phase"}).astype({"phase": str, "condition": str})
    grouped = pairs.groupby(["phase", "condition", "model"], sort=True)
    per_condition = grouped[metrics].mean().assign(n_humans=grouped.size()).reset_index()
    per_condition = _in_display_order(per_condition[CONSISTENCY_COLUMNS], ["model"])
    per_human = pairs.groupby(["phase", "model", "human"], sort=True)[metrics].mean()
    averaged = per_human.groupby(["phase", "model"], sort=True).mean()
    averaged = averaged.assign(
        n_conditions=pairs.groupby(["phase", "model"], sort=True)["condition"].nunique(),
        n_humans=per_human.groupby(["phase", "model"], sort=True).size(),
    ).reset_index()
    return per_condition, averaged[["phase", "model", "n_conditions", "n_humans", *metrics]]


def _in_display_order(table: pd.DataFrame, then: list[str]) -> pd.DataFrame:
    """Rows by phase, condition in :func:`condition_order` within each phase, then ``then``
    (``_kind``: annotators, models, pooled humans)."""
    rank = {}
    for phase, levels in table.groupby("phase", sort=False)["condition"]:
        rank.update({(phase, level): i for i, level in enumerate(condition_order(levels))})
    keys = table.assign(
        _level=[rank[key] for key in zip(table["phase"], table["condition"])],
        _kind=table["kind"].map({HUMAN: 0, MODEL: 1}).fillna(2) if "kind" in table.columns else 0,
    )
    ordered = keys.sort_values(["phase", "_level", *then], kind="stable")
    return ordered.drop(columns=["_level", "_kind"]).reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class ConditionAnalysis(Summarised):
    """Everything per condition: rates in both scopes, paired tests and error consistency."""

    title = "Per-condition statistics (stimulus = image and condition)"
    correct: str
    levels: str
    rates: pd.DataFrame
    tests: pd.DataFrame
    consistency: pd.DataFrame
    consistency_averaged: pd.DataFrame
    population: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def condition_analysis(
    raters: pd.DataFrame, *, correct: str = "correct_top1", alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
) -> ConditionAnalysis:
    """:func:`condition_rates` in both scopes, :func:`condition_tests`,
    :func:`condition_consistency` and :func:`condition_population` in one result;
    ``levels`` lists each phase's levels in order and ``notes`` name the phases whose
    levels mix numbers and words."""
    table = with_condition(raters)
    levels = table.groupby("phase", observed=True, sort=True)["condition"].unique()
    rates = condition_rates(table, correct=correct, scope=SCOPES, alpha=alpha, n_boot=n_boot, seed=seed)
    notes = [f"{phase}: {note}" for phase, found in levels.items() if (note := order_note(found))]
    notes += missing_levels(rates[(rates["scope"] == "all") & (rates["kind"] != POOLED)])
    per_condition, averaged = condition_consistency(table, correct=correct)
    return ConditionAnalysis(
        correct=correct,
        levels="; ".join(f"{phase}: {', '.join(condition_order(found))}" for phase, found in levels.items()),
        rates=rates,
        tests=condition_tests(table, correct=correct, alpha=alpha, n_boot=n_boot, seed=seed),
        consistency=per_condition,
        consistency_averaged=averaged,
        population=condition_population(table, correct=correct, alpha=alpha),
        notes=tuple(notes),
    )


def missing_levels(rates: pd.DataFrame) -> list[str]:
    """A note per rater that has no trials at some level of its phase (its curve has a gap there)."""
    notes = []
    for phase, rows in rates.groupby("phase", sort=True):
        everything = condition_order(rows["condition"])
        for rater, own in rows.groupby("rater", sort=True):
            absent = [level for level in everything if level not in set(own["condition"])]
            if absent:
                notes.append(f"{phase}: {rater} has no trials at level(s) {', '.join(absent)}")
    return notes

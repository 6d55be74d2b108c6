"""Per-condition results of ``compare`` and ``report``: one analysis, shared by both.

A study with a condition manifest, or model-vs-human data, measures accuracy as a function
of a level (noise width, contrast). :func:`analyse_conditions` runs
:func:`~study_app.stats.conditions.condition_analysis` (rates in both scopes, paired tests,
error consistency) and, when every level is a finite number, the psychometric fits of
:func:`~study_app.stats.psychometric.fit_raters` per phase. ``compare`` writes its tables
(``conditions.csv``, ``psychometric.csv``) and prints :func:`condition_table`; the report's
Conditions section draws the same numbers, so the two never disagree.

Choices made here, not in the statistics:

* **guess rate** = 1 / number of classes: the study's label count; without a label set (tidy
  files, model-vs-human) the distinct ground-truth labels of the data (16 for model-vs-human),
  said in a note;
* **direction** (``--psychometric-direction auto``, the default): the sign of the least-squares
  slope of the pooled humans' accuracy (mean of the annotators) against the level; without
  annotators, of all raters' trials pooled. ``increasing`` or ``decreasing`` overrides it;
* **family**: Weibull when every level is >= 0 (level 0 = undegraded), logistic otherwise;
* **threshold interval**: a parametric bootstrap of ``min(--n-boot, MAX_FIT_BOOT)`` replicates
  (each replicate is a refit; the default 10,000 would cost minutes for little).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from study_app.analysis.resampling import Resampling

if TYPE_CHECKING:  # pandas loads on first use
    import pandas as pd

    from study_app.stats.conditions import ConditionAnalysis
    from study_app.stats.psychometric import FitOptions

DIRECTIONS = ("auto", "increasing", "decreasing")
MAX_FIT_BOOT = 1000


@dataclass(frozen=True)
class ConditionResults:
    """The per-condition analysis and the psychometric fits (``fits`` empty when levels are not numbers)."""

    analysis: ConditionAnalysis
    fits: pd.DataFrame
    #: Each model's threshold against the annotators' pooled one (:data:`THRESHOLD_TEST_COLUMNS`).
    threshold_tests: pd.DataFrame
    guess: float
    direction: str  # as fitted; "" without fits
    notes: tuple[str, ...] = field(default=())

    def tables(self) -> dict[str, pd.DataFrame]:
        """The files ``compare`` writes: ``conditions``, ``condition_tests``, ``condition_consistency``,
        ``condition_population`` and, with numeric levels, ``psychometric``."""
        tables = {
            "conditions": self.analysis.rates,
            "condition_tests": self.analysis.tests,
            "condition_consistency": self.analysis.consistency,
            "condition_population": self.analysis.population,
        }
        if self.fits.empty:
            return tables
        return tables | {"psychometric": self.fits, "threshold_tests": self.threshold_tests}

    def to_json(self) -> dict:
        from study_app.stats.results import json_records  # pandas loads on first use

        records = {name: json_records(table) for name, table in self.tables().items()}
        return {
            "levels": self.analysis.levels,
            "guess": self.guess,
            "psychometric_direction": self.direction,
            "notes": [*self.analysis.notes, *self.notes],
            **records,
        }


def has_conditions(raters: pd.DataFrame) -> bool:
    """Whether a rater table has condition levels (the column exists and is not all ``""``)."""
    return "condition" in raters.columns and bool((raters["condition"].astype(str) != "").any())


def number_of_classes(raters: pd.DataFrame, labels) -> tuple[int, str]:
    """The class count behind the guess rate, and a note when it is read from the answers' ground truth
    (tidy files and model-vs-human data carry no label set; model-vs-human has 16 classes)."""
    if labels is not None:
        return len(labels.class_ids), ""
    count = int(raters["truth"].astype(str).nunique())
    return count, f"guess rate 1/{count}: {count} distinct ground-truth labels in the data (no label set)"


def analyse_conditions(
    raters: pd.DataFrame,
    labels=None,
    *,
    correct: str,
    direction: str = "auto",
    resampling: Resampling,
) -> ConditionResults | None:
    """Rates, tests and consistency per condition, and psychometric fits where levels are numbers
    (``None`` for a table without conditions: there is nothing per condition to say)."""
    import pandas as pd

    from study_app.stats.conditions import condition_analysis
    from study_app.stats.psychometric import FIT_COLUMNS, FitOptions, fit_raters

    if not has_conditions(raters):
        return None
    classes, class_note = number_of_classes(raters, labels)
    analysis = condition_analysis(raters, correct=correct, **resampling.keywords)
    notes = [class_note] if class_note else []
    guess = 1 / classes
    fits, tests, chosen = [], [], set()
    for phase, rows in raters.groupby("phase", observed=True, sort=True):
        not_numbers = _not_numbers(rows["condition"])
        if not_numbers:
            notes.append(
                f"{phase}: no psychometric fits, condition levels are not finite numbers ({', '.join(not_numbers[:5])})"
            )
            continue
        levels = pd.to_numeric(rows["condition"].astype(str)).to_numpy(dtype=float)
        fitted_direction, reason = _direction(analysis.rates, str(phase), direction)
        family = "weibull" if (levels >= 0).all() else "logistic"
        options = FitOptions(
            guess,
            family=family,
            direction=fitted_direction,
            n_boot=min(resampling.n_boot, MAX_FIT_BOOT),
            seed=resampling.seed,
            confidence=1 - resampling.alpha,
        )
        fit = fit_raters(with_pooled_humans(rows), options, correctness=correct)
        fits.append(fit.assign(phase=str(phase))[["phase", *FIT_COLUMNS]])
        tests += _threshold_tests(rows, str(phase), options, correct)
        chosen.add(fitted_direction)
        notes.append(
            f"{phase}: psychometric fits {fitted_direction} ({reason}), {family}, guess rate 1/{classes}, "
            f"threshold interval from {min(resampling.n_boot, MAX_FIT_BOOT)} parametric bootstrap replicates"
        )
    fitted = pd.concat(fits, ignore_index=True) if fits else pd.DataFrame(columns=["phase", *FIT_COLUMNS])
    threshold_tests = pd.DataFrame(tests, columns=THRESHOLD_TEST_COLUMNS)
    return ConditionResults(analysis, fitted, threshold_tests, guess, "/".join(sorted(chosen)), tuple(notes))


THRESHOLD_TEST_COLUMNS = [
    "phase",
    "model",
    "n_annotators",
    "threshold_accuracy",
    "model_threshold",
    "humans_threshold",
    "difference",
    "difference_low",
    "difference_high",
    "pvalue",
    "note",
]


def _threshold_tests(rows: pd.DataFrame, phase: str, options: FitOptions, correct: str) -> list[tuple]:
    """Each model's threshold minus the pooled annotators' (cluster bootstrap over annotators), as
    :func:`~study_app.stats.psychometric.threshold_difference` tests it; none without annotators."""
    from study_app.stats.psychometric import threshold_difference
    from study_app.stats.raters import HUMAN, MODEL

    if not (rows["kind"] == HUMAN).any():
        return []
    found = []
    for model in sorted(rows.loc[rows["kind"] == MODEL, "rater"].astype(str).unique()):
        test = threshold_difference(rows, model, options, correctness=correct)
        found.append(
            (
                phase,
                model,
                test.n_annotators,
                test.threshold_accuracy,
                test.model_threshold,
                test.humans_threshold,
                test.statistic,
                *test.interval,
                test.pvalue,
                test.note,
            )
        )
    return found


#: The psychometric fit of all annotators' trials together (counts summed over annotators).
POOLED_FIT = "humans (pooled trials)"


def with_pooled_humans(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows plus the annotators' trials once more as one rater, :data:`POOLED_FIT`."""
    import pandas as pd

    from study_app.stats.raters import HUMAN
    from study_app.stats.rates import POOLED

    people = rows[(rows["kind"] == HUMAN).to_numpy()]
    if people.empty:
        return rows
    both = [
        rows.astype({"rater": str, "kind": str}),
        people.astype({"rater": str, "kind": str}).assign(rater=POOLED_FIT, kind=POOLED),
    ]
    return pd.concat(both, ignore_index=True)


def _not_numbers(conditions: pd.Series) -> list[str]:
    found = []
    for level in sorted(set(conditions.astype(str))):
        try:
            value = float(level)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            found.append(repr(level))
    return found


def _direction(rates: pd.DataFrame, phase: str, asked: str) -> tuple[str, str]:
    """The fitted direction and why: as asked, or the sign of the accuracy trend over the levels."""
    import numpy as np

    from study_app.stats.rates import POOLED

    if asked != "auto":
        return asked, "--psychometric-direction"
    rows = rates[(rates["phase"] == phase) & (rates["scope"] == "all")]
    pooled = rows[rows["kind"] == POOLED]
    if not pooled.empty:
        levels, accuracy, whose = (
            pooled["condition"],
            1 - pooled["error_rate"].astype(float),
            "the pooled annotators' accuracy",
        )
    else:
        sums = rows.groupby("condition", sort=False)[["n", "errors"]].sum()
        levels, accuracy, whose = sums.index.astype(str), 1 - sums["errors"] / sums["n"], "all raters' accuracy"
    x = np.asarray(levels, dtype=float)
    if len(np.unique(x)) < 2:
        return "increasing", f"auto: one level only, {whose} has no trend"
    slope = float(np.polyfit(x, np.asarray(accuracy, dtype=float), 1)[0])
    return ("increasing" if slope >= 0 else "decreasing"), f"auto: {whose} trend has slope {slope:.3g} per unit level"


def condition_table(results: ConditionResults) -> str:
    """The printed per-condition table: error (%) with its interval for the pooled humans and
    each model, the annotators as their range (scope ``all``: every trial of each rater)."""
    from study_app.stats.raters import HUMAN, MODEL
    from study_app.stats.rates import POOLED

    rates = results.analysis.rates
    rates = rates[rates["scope"] == "all"]
    lines = [
        (
            "Per-condition error rates (%) on every trial of each rater; [95% interval]: Wilson for one rater, "
            "cluster bootstrap for the annotators' mean"
        )
    ]
    for phase, rows in rates.groupby("phase", sort=False):
        models = sorted(rows.loc[rows["kind"] == MODEL, "rater"].astype(str).unique())
        header = ["condition", "humans (mean)", "annotators (n, min-max)", *models]
        body = []
        for level, cell in rows.groupby("condition", sort=False):
            row = [level or "(none)", _rate(cell[cell["kind"] == POOLED], "boot")]
            people = cell[cell["kind"] == HUMAN]["error_rate"].astype(float)
            row.append(f"{len(people)}, {100 * people.min():.1f}-{100 * people.max():.1f}" if len(people) else "")
            row += [_rate(cell[cell["rater"] == model], "wilson") for model in models]
            body.append(row)
        widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
        lines += ["", f"phase {phase}:", "  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    fits = results.fits
    if not fits.empty:
        lines += [
            "",
            "Psychometric thresholds (level at accuracy "
            f"{fits['threshold_accuracy'].iloc[0]:.3g}; guess rate {results.guess:.4g}):",
        ]
        for _, fit in fits.iterrows():
            value = (
                "n/a"
                if math.isnan(fit["threshold"])
                else f"{fit['threshold']:.4g} [{fit['threshold_low']:.4g}, {fit['threshold_high']:.4g}]"
            )
            lines.append(f"  {fit['phase']}  {fit['rater']}: {value}" + (f"  ({fit['note']})" if fit["note"] else ""))
        for _, test in results.threshold_tests.iterrows():
            if not math.isnan(test["difference"]):
                lines.append(
                    f"  {test['phase']}  {test['model']} - humans (pooled trials): {test['difference']:.4g} "
                    f"[{test['difference_low']:.4g}, {test['difference_high']:.4g}], bootstrap p = {test['pvalue']:.3g}"
                )
    notes = [*results.analysis.notes, *results.notes]
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def _rate(row: pd.DataFrame, method: str) -> str:
    if row.empty:
        return ""
    first = row.iloc[0]
    return f"{100 * first['error_rate']:.1f} [{100 * first[method + '_low']:.1f}, {100 * first[method + '_high']:.1f}]"

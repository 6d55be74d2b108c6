"""The report's Conditions section: accuracy as a function of the condition level.

Every number comes from :class:`~study_app.analysis.condition_outputs.ConditionResults`, the
analysis ``compare`` writes to ``conditions.csv`` and ``psychometric.csv``; here it is only
selected and written out: the rates per level (the annotators' mean and each model shown,
every annotator in the CSV), one figure per phase (accuracy against the level with each
annotator as a thin line and the fitted psychometric curves), the thresholds and the error
consistency per level, and each model's threshold tested against the annotators'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.analysis.condition_outputs import ConditionResults
from study_app.report import figures, tables
from study_app.report.document import Figure, Section, Table
from study_app.stats.psychometric import psychometric_curve

#: Points of a drawn psychometric curve (between the lowest and the highest tested level).
CURVE_POINTS = 200


def conditions_section(results: ConditionResults, phase_slug: dict[str, str]) -> Section:
    """The section for one analysis (built only for data with conditions)."""
    analysis = results.analysis
    rates = analysis.rates[analysis.rates["scope"] == "all"]
    blocks: list[Table | Figure] = [_rates_table(analysis.rates)]
    for phase, rows in rates.groupby("phase", sort=False):
        blocks.append(
            figures.accuracy_by_condition(
                f"accuracy-by-condition-{phase_slug.get(str(phase), 'x')}",
                rows,
                _curves(results.fits, str(phase), rows["condition"]),
                results.guess,
                str(phase),
            )
        )
    if not results.fits.empty:
        blocks.append(_thresholds_table(results.fits))
    if not results.threshold_tests.empty:
        blocks.append(_threshold_tests_table(results.threshold_tests))
    if not analysis.consistency.empty:
        blocks += [_consistency_table(analysis.consistency), _averaged_table(analysis.consistency_averaged)]
    notes = " ".join(f"Note: {note}." for note in (*analysis.notes, *results.notes))
    models = ", and each model's on the stimuli some annotator saw" if (rates["kind"] == "model").any() else ""
    intro = (
        f"Accuracy at each condition level ({analysis.levels}), on the trials of this "
        f"report: each annotator's{models}; a stimulus is an image at one level. {notes}"
    )
    return Section("conditions", "Conditions", intro.strip(), tuple(blocks))


def _curves(fits: pd.DataFrame, phase: str, conditions: pd.Series) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each fitted rater's curve over the tested range; the annotators' pooled fit is drawn for
    their mean (the same trials), each annotator's own fit is in the thresholds table only.
    A fit that did not converge is not drawn (its parameters are not identified by the data)."""
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    fits = fits[fits["phase"] == phase]
    if fits.empty:
        return curves
    tested = conditions.astype(str).astype(float)
    levels = np.linspace(tested.min(), tested.max(), CURVE_POINTS)
    for _, fit in fits.iterrows():
        if fit["kind"] == "human" or not fit["converged"] or not np.isfinite(fit["alpha"]):
            continue
        accuracy = psychometric_curve(
            levels,
            alpha=fit["alpha"],
            beta=fit["beta"],
            guess=fit["guess"],
            lapse=fit["lapse"],
            family=fit["family"],
            direction=fit["direction"],
        )
        curves["humans" if fit["kind"] == "humans" else str(fit["rater"])] = (levels, np.asarray(accuracy))
    return curves


def _rates_table(rates: pd.DataFrame) -> Table:
    shown = rates[(rates["scope"] == "all") & (rates["kind"] != "human")]
    columns = {
        "phase": tables.text("phase"),
        "condition": tables.text("condition"),
        "rater": tables.text("rater"),
        "n": tables.text("n"),
        "accuracy": lambda frame: (1 - frame["error_rate"].astype(float)).map(tables.percent),
        "95% interval": lambda frame: pd.Series(
            [tables.interval(1 - high, 1 - low) for low, high in zip(_low(frame), _high(frame))], index=frame.index
        ),
    }
    note = (
        "The annotators' mean (cluster bootstrap interval) and each model (Wilson interval) on all their trials; "
        "each annotator, and the stimuli every rater saw (scope shared), are in the CSV."
    )
    return tables.table("conditions", "Accuracy per condition", rates, columns, note, shown_rows=shown)


def _low(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["kind"] == "humans", frame["boot_low"].astype(float), frame["wilson_low"].astype(float))


def _high(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["kind"] == "humans", frame["boot_high"].astype(float), frame["wilson_high"].astype(float))


def _thresholds_table(fits: pd.DataFrame) -> Table:
    columns = {
        "phase": tables.text("phase"),
        "rater": tables.text("rater"),
        "function": tables.text("family"),
        "accuracy": tables.text("direction"),
        "threshold": tables.text("threshold"),
        "95% interval": tables.interval_of("threshold_low", "threshold_high", scale=1),
        "at accuracy": tables.percent_of("threshold_accuracy"),
        "lapse": tables.text("lapse"),
        "note": tables.text("note"),
    }
    guess = fits["guess"].iloc[0]
    note = (
        f"Maximum-likelihood fits with the guess rate fixed at {tables.number(guess)} (1 / classes) and a lapse rate "
        "in [0, 0.1]; the threshold is the level at the named accuracy, its interval a parametric bootstrap. "
        "'humans (pooled trials)' is fitted to all annotators' trials together."
    )
    return tables.table("psychometric", "Psychometric thresholds", fits, columns, note)


def _threshold_tests_table(tests: pd.DataFrame) -> Table:
    columns = {
        "phase": tables.text("phase"),
        "model": tables.text("model"),
        "model threshold": tables.text("model_threshold"),
        "annotators' threshold": tables.text("humans_threshold"),
        "difference": tables.text("difference"),
        "95% interval": tables.interval_of("difference_low", "difference_high", scale=1),
        "bootstrap p": tables.text("pvalue"),
        "note": tables.text("note"),
    }
    note = (
        "The model's threshold minus the threshold fitted to all annotators' trials: "
        "annotators resampled with replacement (cluster bootstrap), the model's "
        "counts redrawn from its fitted curve; no test where a side has no threshold."
    )
    return tables.table("threshold_tests", "Model against annotators: threshold difference", tests, columns, note)


def _consistency_table(consistency: pd.DataFrame) -> Table:
    columns = {
        "phase": tables.text("phase"),
        "condition": tables.text("condition"),
        "model": tables.text("model"),
        "annotators": tables.text("n_humans"),
        "error consistency": tables.text("error_consistency"),
        "observed consistency": tables.percent_of("observed_consistency"),
    }
    note = (
        "Cohen's kappa of right/wrong between the model and each "
        "annotator on their shared stimuli, averaged over annotators."
    )
    return tables.table("condition_consistency", "Error consistency per condition", consistency, columns, note)


def _averaged_table(averaged: pd.DataFrame) -> Table:
    columns = {
        "phase": tables.text("phase"),
        "model": tables.text("model"),
        "levels": tables.text("n_conditions"),
        "annotators": tables.text("n_humans"),
        "error consistency": tables.text("error_consistency"),
    }
    note = (
        "Per annotator the mean over levels, then the mean over annotators (as the model-vs-human benchmark averages)."
    )
    return tables.table(
        "condition_consistency_averaged", "Error consistency averaged over conditions", averaged, columns, note
    )

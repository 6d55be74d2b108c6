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
    blocks: list[Table | Figure] = [tables.condition_rates(analysis.rates)]
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
        blocks.append(tables.thresholds(results.fits))
    if not results.threshold_tests.empty:
        blocks.append(tables.threshold_tests(results.threshold_tests))
    if not analysis.consistency.empty:
        blocks += [
            tables.condition_consistency(analysis.consistency),
            tables.consistency_averaged(analysis.consistency_averaged),
        ]
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

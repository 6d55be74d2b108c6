"""The report's error-taxonomy section: why people and models erred, from the stored reviews.

Every number comes from :class:`~study_app.stats.error_taxonomy.TaxonomyAnalysis` (computed
by :func:`with_reviews` through the same code as ``compare --taxonomy``); here it is only
selected and written out, plus one figure: the share of each cause among the people's
errors and among each model's, with Wilson intervals.
"""

from __future__ import annotations

from dataclasses import replace

import matplotlib
import numpy as np
import pandas as pd

from study_app.analysis.raters import RaterInputs, StudySource
from study_app.analysis.resampling import Resampling
from study_app.report import tables
from study_app.report.document import Figure, Section, Table
from study_app.report.figures import KIND_COLOURS, STYLE, _export, _new
from study_app.report.inputs import ReportData
from study_app.stats.error_taxonomy import TaxonomyAnalysis

INTRO = (
    "Each reviewed error sorted into causes, as in the ILSVRC paper (Russakovsky et al. 2015, section 6.4). "
    "An error may have several causes, so the shares of a group need not add up to 100%."
)


def with_reviews(data: ReportData, inputs: RaterInputs, resampling: Resampling) -> ReportData:
    """``data`` with the taxonomy analysis of the reviews of the study ``inputs`` come from
    (unchanged when there are none, or when the inputs are files, not a study's store)."""
    from study_app.analysis.taxonomy_inputs import taxonomy_of

    if not isinstance(inputs.source, StudySource):
        return data
    analysis = taxonomy_of(inputs, data.raters, resampling=resampling)
    return data if analysis is None else replace(data, reviews=analysis)


def taxonomy_section(reviews: TaxonomyAnalysis | pd.DataFrame) -> Section:
    """The section for an analysis; a plain table (already tallied elsewhere) is shown as it is."""
    if isinstance(reviews, pd.DataFrame):
        return Section(
            "taxonomy", "Error taxonomy", "Reviewed errors sorted into categories.", (tables.reviews(reviews),)
        )
    blocks: list[Table | Figure] = [tables.taxonomy_causes(reviews.taxonomy)]
    if (reviews.taxonomy["errors_reviewed"] > 0).any():
        blocks.append(_shares_figure(reviews.taxonomy))
    if not reviews.overall.empty:
        blocks += [tables.taxonomy_overall(reviews.overall), tables.taxonomy_tests(reviews.tests)]
    if not reviews.agreement.empty:
        blocks.append(tables.reviewer_agreement(reviews.agreement))
    if not reviews.corrections.empty:
        blocks.append(tables.truth_corrections(reviews.corrections))
    blocks.append(tables.rescored_rates(reviews.rescored))
    notes = " ".join(f"Note: {note}." for note in reviews.notes)
    intro = (
        f"{INTRO} {reviews.reviews} review(s) by {len(reviews.reviewers)} "
        f"reviewer(s): {', '.join(reviews.reviewers)}. {notes}"
    )
    return Section("taxonomy", "Error taxonomy", intro, tuple(blocks))


def _shares_figure(taxonomy: pd.DataFrame) -> Figure:
    """Horizontal bars: share of each cause per group (people, each model), with Wilson intervals."""
    groups = [
        g
        for g in dict.fromkeys(taxonomy["group"].astype(str))
        if (taxonomy.loc[taxonomy["group"] == g, "errors_reviewed"] > 0).any()
    ]
    causes = list(dict.fromkeys(taxonomy["cause_name"].astype(str)))
    height = max(2.5, 0.32 * len(causes) * max(1, len(groups)) + 1.0)
    with matplotlib.rc_context(STYLE):
        figure = _new(7.0, height)
        axes = figure.add_subplot()
        step = 0.8 / max(1, len(groups))
        positions = np.arange(len(causes))
        model_shades = ["#D55E00", "#E69F00", "#CC79A7", "#F0E442", "#999999"]
        for i, group in enumerate(groups):
            rows = taxonomy[taxonomy["group"] == group].set_index("cause_name").reindex(causes)
            share = rows["share"].to_numpy(dtype=float)
            low, high = rows["wilson_low"].to_numpy(dtype=float), rows["wilson_high"].to_numpy(dtype=float)
            colour = (
                KIND_COLOURS["human"] if rows["kind"].iloc[0] == "human" else model_shades[(i - 1) % len(model_shades)]
            )
            y = positions + i * step - 0.4 + step / 2
            axes.barh(
                y,
                100 * share,
                height=step * 0.9,
                color=colour,
                label=f"{group} (n={int(rows['errors_reviewed'].iloc[0])})",
            )
            axes.errorbar(
                100 * share,
                y,
                xerr=[100 * np.clip(share - low, 0, None), 100 * np.clip(high - share, 0, None)],
                fmt="none",
                ecolor="#333333",
                elinewidth=0.8,
                capsize=2,
            )
        axes.set_yticks(positions, causes)
        axes.invert_yaxis()
        axes.set_xlim(0, 100)
        axes.set_xlabel("share of reviewed errors with this cause (%)")
        axes.legend(loc="lower right", fontsize=8)
    caption = (
        "Bars: share of the reviewed errors with each cause; lines: "
        "95% Wilson intervals. An error may have several causes."
    )
    return _export("error-taxonomy", "Causes of errors: people and models", caption, figure)

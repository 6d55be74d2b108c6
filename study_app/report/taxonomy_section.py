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
    blocks: list[Table | Figure] = [_causes_table(reviews.taxonomy)]
    if (reviews.taxonomy["errors_reviewed"] > 0).any():
        blocks.append(_shares_figure(reviews.taxonomy))
    if not reviews.overall.empty:
        blocks += [_overall_table(reviews.overall), _tests_table(reviews.tests)]
    if not reviews.agreement.empty:
        blocks.append(_agreement_table(reviews.agreement))
    if not reviews.corrections.empty:
        blocks.append(_corrections_table(reviews.corrections))
    blocks.append(_rescored_table(reviews.rescored))
    notes = " ".join(f"Note: {note}." for note in reviews.notes)
    intro = (
        f"{INTRO} {reviews.reviews} review(s) by {len(reviews.reviewers)} "
        f"reviewer(s): {', '.join(reviews.reviewers)}. {notes}"
    )
    return Section("taxonomy", "Error taxonomy", intro, tuple(blocks))


def _causes_table(taxonomy: pd.DataFrame) -> Table:
    columns = {
        "group": tables.text("group"),
        "cause": tables.text("cause_name"),
        "applies to": tables.text("applies_to"),
        "errors reviewed": tables.text("errors_reviewed"),
        "with this cause": tables.text("count"),
        "share": tables.percent_of("share"),
        "95% interval": tables.interval_of("wilson_low", "wilson_high"),
    }
    note = "People's errors are pooled over annotators; Wilson intervals treat the errors as independent."
    return tables.table("error_taxonomy", "Causes of errors", taxonomy, columns, note)


def _overall_table(overall: pd.DataFrame) -> Table:
    columns = {
        "model": tables.text("model"),
        "people's errors": tables.text("humans_n"),
        "model's errors": tables.text("model_n"),
        "statistic": tables.text("statistic"),
        "permutation p": tables.text("pvalue"),
        "permutations": tables.text("permutations"),
    }
    note = (
        "Do the causes of people's and the model's errors differ? Statistic: the sum over causes of the 2x2 "
        "chi-square; p from permuting which errors are people's, which keeps each error's causes together."
    )
    return tables.table("taxonomy_overall", "People's against each model's causes", overall, columns, note)


def _tests_table(tests: pd.DataFrame) -> Table:
    columns = {
        "model": tables.text("model"),
        "cause": tables.text("cause_name"),
        "people": tables.text("humans_count"),
        "of": tables.text("humans_n"),
        "model errors": tables.text("model_count"),
        "of ": tables.text("model_n"),
        "odds ratio": tables.text("odds_ratio"),
        "Fisher p": tables.text("pvalue"),
        "Holm p": tables.text("pvalue_holm"),
        "expected < 5": tables.text("small_counts"),
    }
    note = "Fisher's exact test per cause (exact at any count), Holm's correction over the causes of one model."
    return tables.table("taxonomy_tests", "Cause by cause", tests, columns, note)


def _agreement_table(agreement: pd.DataFrame) -> Table:
    columns = {
        "reviewer A": tables.text("reviewer_a"),
        "reviewer B": tables.text("reviewer_b"),
        "cause": tables.text("cause_name"),
        "errors": tables.text("n"),
        "agreement": tables.percent_of("agreement"),
        "Cohen's kappa": tables.text("kappa"),
        "95% interval": tables.interval_of("kappa_low", "kappa_high", scale=1),
    }
    note = "On the errors both reviewers reviewed; kappa is empty where neither reviewer's answer varied."
    return tables.table("reviewer_agreement", "Agreement between reviewers, per cause", agreement, columns, note)


def _corrections_table(corrections: pd.DataFrame) -> Table:
    columns = {
        "image": tables.text("image_id"),
        "original": tables.text("original"),
        "reviewed": tables.text("reviewed"),
        "status": tables.text("status"),
        "reviewers": tables.text("reviewers"),
        "proposals": tables.text("proposals"),
    }
    note = (
        "Proposed by reviewers and stored beside the original ground truth; disputed images keep their original labels."
    )
    return tables.table("truth_corrections", "Proposed ground-truth corrections", corrections, columns, note)


def _rescored_table(rescored: pd.DataFrame) -> Table:
    columns = {
        "rater": tables.text("rater"),
        "n": tables.text("n_original"),
        "error (original truth)": tables.percent_of("error_rate_original"),
        "95% interval": tables.interval_of("wilson_low_original", "wilson_high_original"),
        "error (reviewed truth)": tables.percent_of("error_rate_reviewed"),
        "95% interval ": tables.interval_of("wilson_low_reviewed", "wilson_high_reviewed"),
        "errors that were label noise": tables.text("fixed"),
        "right answers now wrong": tables.text("broken"),
    }
    note = (
        "The same answers scored against the manifest's and the "
        "reviewed ground truth; pooled rows have no Wilson interval."
    )
    return tables.table("rescored_error_rates", "Error rates with the reviewed ground truth", rescored, columns, note)


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

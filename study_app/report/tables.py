"""The report's tables: columns chosen from the statistics' tables and turned into text.

Every number comes from a table of :mod:`study_app.stats`; here it is only selected,
ordered and written out (error rates as percentages with one decimal, other statistics
to four significant digits, as ``compare`` prints them). Each function returns a
:class:`~study_app.report.document.Table` whose ``data`` (the raw values, every row)
becomes the CSV file and whose ``shown`` text goes into the pages. Every table of the
report is here, with its columns and the note under it, so that the report's wording is
reviewed in one place; the section modules only choose and arrange them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from study_app.report.document import Table
from study_app.stats import HUMANS, HUMANS_MEAN
from study_app.stats.agreement import kappa_summary, pairing
from study_app.stats.results import format_pvalue, format_value, is_pvalue

Column = Callable[[pd.DataFrame], pd.Series]
Namer = Callable[[str], str]

#: Order of rater kinds in the headline: annotators, their mean, their crowds, models.
KIND_ORDER = {"human": 0, "humans": 1, "crowd": 2, "model": 3}
ALL_ANSWERS = "annotators (all answers)"
INTERVAL_METHOD = {True: "cluster bootstrap (images x annotators)", False: "Wilson score"}


def percent(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def percent_points(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{100 * value:+.1f} pp"


def interval(low: float, high: float, scale: float = 100.0) -> str:
    """``[low, high]``, in percent by default; empty when the interval does not apply."""
    if math.isnan(low) and math.isnan(high):
        return ""
    return f"[{scale * low:.1f}, {scale * high:.1f}]" if scale != 1 else f"[{format_value(low)}, {format_value(high)}]"


def number(value: object) -> str:
    """Counts as integers, other numbers to four significant digits, NaN as empty."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        as_float = float(value)
        return "" if math.isnan(as_float) else format_value(as_float)
    return "" if value is None or value is pd.NA else str(value)


def text(column: str) -> Column:
    """A column as :func:`number` writes it; p-values below 1e-16 (0 included) as ``< 1e-16``."""
    if is_pvalue(column):
        return lambda frame: frame[column].map(
            lambda v: format_pvalue(v) if isinstance(v, (float, np.floating)) and not math.isnan(v) else number(v)
        )
    return lambda frame: frame[column].map(number)


def percent_of(column: str) -> Column:
    return lambda frame: frame[column].astype(float).map(percent)


def points_of(column: str) -> Column:
    return lambda frame: frame[column].astype(float).map(percent_points)


def interval_of(low: str, high: str, scale: float = 100.0) -> Column:
    return lambda frame: pd.Series(
        [interval(a, b, scale) for a, b in zip(frame[low].astype(float), frame[high].astype(float))], index=frame.index
    )


def named(column: str, name: Namer) -> Column:
    return lambda frame: frame[column].astype(str).map(name)


def rater_name(column: str, humans: str) -> Column:
    """Rater names as the reader knows them: ``humans`` is the annotators' mean in paired
    tests, every annotator's answers together in the confusions and response times."""
    return lambda frame: frame[column].astype(str).replace({HUMANS: humans})


def render(frame: pd.DataFrame, columns: Mapping[str, Column]) -> pd.DataFrame:
    """Text table with the given titles; a ``phase`` column leads when there are several phases."""
    if "phase" in frame.columns and frame["phase"].nunique() > 1:
        columns = {"phase": text("phase"), **columns}
    return pd.DataFrame(
        {title: make(frame).astype(str).to_numpy() for title, make in columns.items()}, index=range(len(frame))
    )


def table(
    name: str,
    title: str,
    data: pd.DataFrame,
    columns: Mapping[str, Column],
    note: str = "",
    shown_rows: pd.DataFrame | None = None,
) -> Table:
    """A table of ``data`` (all rows to CSV) showing ``shown_rows`` (default: all)."""
    data = data.reset_index(drop=True)
    return Table(
        name, title, data, render(data if shown_rows is None else shown_rows.reset_index(drop=True), columns), note
    )


def facts_table(facts: tuple[tuple[str, str], ...]) -> Table:
    # A path that is not UTF-8 (a folder named on another system) reaches here with surrogates; written as escapes.
    printable = [(item, str(value).encode("utf-8", "backslashreplace").decode("utf-8")) for item, value in facts]
    data = pd.DataFrame(printable, columns=["item", "value"])
    table_of_facts = table("study", "Provenance and settings", data, {"item": text("item"), "value": text("value")})
    return replace(table_of_facts, numeric=False)


def headline(rates: Mapping[str, pd.DataFrame]) -> Table:
    """Each annotator, the annotators pooled (their mean and crowds) and each model.

    ``rates`` maps a rule title (``top-1``, ``top-5``) to the ``error_rates`` table of
    that rule; single raters get Wilson intervals, the annotators' mean a two-way
    cluster bootstrap interval.
    """
    key = ["phase", "rater", "kind", "n_raters", "n"]
    merged = None
    for rule, rates_of_rule in rates.items():
        pooled = rates_of_rule["kind"] == "humans"
        part = rates_of_rule[key].assign(
            **{
                f"errors {rule}": rates_of_rule["errors"],
                f"error {rule}": rates_of_rule["error_rate"],
                f"low {rule}": np.where(pooled, rates_of_rule["boot_low"], rates_of_rule["wilson_low"]),
                f"high {rule}": np.where(pooled, rates_of_rule["boot_high"], rates_of_rule["wilson_high"]),
            }
        )
        merged = part if merged is None else merged.merge(part, on=key, how="outer")
    assert merged is not None
    merged["interval"] = (merged["kind"] == "humans").map(INTERVAL_METHOD)
    order = merged.assign(_kind=merged["kind"].map(KIND_ORDER)).sort_values(["phase", "_kind", "rater"], kind="stable")
    data = order.drop(columns="_kind")
    columns: dict[str, Column] = {"rater": text("rater"), "kind": text("kind"), "n": text("n")}
    for rule in rates:
        columns[f"{rule} error"] = percent_of(f"error {rule}")
        columns[f"{rule} 95% interval"] = interval_of(f"low {rule}", f"high {rule}")
    columns["interval"] = text("interval")
    note = "n counts images for a single rater, and all the annotators' answers for their mean."
    return table("headline", "Error rates", data, columns, note)


def all_images(beyond_shared: pd.DataFrame) -> Table:
    """Raters on all of their images (scope ``all``) where that is more than the shared images:
    a model run on a whole data set, of which annotators saw a part."""
    columns: dict[str, Column] = {
        "phase": text("phase"),
        "rater": text("rater"),
        "kind": text("kind"),
        "n": text("n"),
        "error": percent_of("error_rate"),
        "95% interval": interval_of("wilson_low", "wilson_high"),
    }
    note = (
        "Every prediction of each of these raters with ground truth, in the phases analysed or in none "
        "(phase (all) when there are several phases or images that no phase shows); Wilson intervals. "
        "The table above and every paired result use only the images annotators saw."
    )
    return table("all_images", "Error rates on all of each rater's images", beyond_shared, columns, note)


def paired(comparison_paired: pd.DataFrame, annotators: set[str], limit: int) -> Table:
    """Every paired comparison; beyond ``limit`` rows the page shows those without a single
    annotator (the annotators' mean and crowds, models against models)."""
    columns = {
        "A": rater_name("rater_a", HUMANS_MEAN),
        "B": rater_name("rater_b", HUMANS_MEAN),
        "n": text("n_images"),
        "error A": percent_of("error_a"),
        "error B": percent_of("error_b"),
        "A - B": points_of("difference"),
        "95% score (Tango)": interval_of("score_low", "score_high"),
        "95% bootstrap": interval_of("boot_low", "boot_high"),
        "both right": text("both_right"),
        "only A right": text("only_a_right"),
        "only B right": text("only_b_right"),
        "both wrong": text("both_wrong"),
        "McNemar p": text("mcnemar_p"),
        "Holm p": text("mcnemar_p_holm"),
        "mid-p": text("mcnemar_midp"),
        "GEE A - B": points_of("gee_difference"),
        "GEE p": text("gee_p"),
        "family": text("family"),
        "note": text("note"),
    }
    note = (
        "Only images both sides saw count. The four counts are the 2x2 table of the pair; McNemar is exact, and its "
        "Holm p is adjusted within the pair's family (humans vs models, models vs models) of the phase. The primary "
        "interval of a pair is Tango's score interval; the bootstrap is secondary, and the note says where they, or "
        "the score interval and the exact test, disagree on excluding 0. The annotators' mean is compared by a GEE "
        "and a bootstrap over images and annotators; the GEE's own estimate of A - B (the one its p belongs to) "
        "equals A - B when every annotator saw the same images. A GEE that did not converge is left out."
    )
    single = comparison_paired["rater_a"].astype(str).isin(annotators) | comparison_paired["rater_b"].astype(str).isin(
        annotators
    )
    if len(comparison_paired) <= limit or single.all():
        return table("paired", "Paired comparisons on the stimuli both raters saw", comparison_paired, columns, note)
    note += f" The {int(single.sum())} comparisons of single annotators are in the CSV file only."
    return table(
        "paired",
        "Paired comparisons on the stimuli both raters saw",
        comparison_paired,
        columns,
        note,
        comparison_paired[~single],
    )


def population(rows: pd.DataFrame) -> Table:
    """Each model against people as a population: the logistic mixed model of ``stats.mixed``."""
    columns = {
        "phase": text("phase"),
        "model": text("model"),
        "n": text("n_images"),
        "annotators": text("n_annotators"),
        "annotators' error": percent_of("human_error"),
        "model error": percent_of("model_error"),
        "log-odds, model - people": text("effect"),
        "95% interval": interval_of("ci_low", "ci_high", 1.0),
        "df": text("df"),
        "p": text("pvalue"),
        "annotator SD": text("annotator_sd"),
        "image SD": text("image_sd"),
        "note": text("note"),
    }
    note = (
        "A logistic mixed model of every answer's error with random effects for annotators and images and the "
        "rater kind as fixed effect: the effect is the model's log-odds of error minus a typical person's on "
        "a typical image, tested with t (Satterthwaite degrees of freedom), so the claim is about people, not "
        "only these annotators. The GEE p of the table above treats the annotators as fixed."
    )
    return table("population", "Model against people (logistic mixed model)", rows, columns, note)


def several_models(models: pd.DataFrame) -> Table:
    columns = {
        "test": text("test"),
        "n": text("n_images"),
        "statistic": text("statistic"),
        "p": text("pvalue"),
        "Holm p": text("pvalue_holm"),
    }
    return table("models", "Several models: Cochran's Q and pairwise exact McNemar (Holm)", models, columns)


def consistency(table_of_pairs: pd.DataFrame, alpha: float, limit: int) -> Table:
    """Error consistency of every pair; beyond ``limit`` pairs the page shows their summary by pairing."""
    note = (
        "Error consistency is Cohen's kappa of right/wrong on shared images (Geirhos et al. 2020); with unequal "
        "accuracies kappa cannot reach +-1: the attainable range bounds it. The interval is a percentile bootstrap "
        f"over images ({100 * (1 - alpha):g}%); p is Fisher's exact test of independent errors, Holm p adjusts it "
        "over every pair of the phase. The last row, annotators' mean kappa over their pairs, is the human ceiling."
    )
    title = "Error consistency of every pair of raters"
    if len(table_of_pairs) > limit:
        summary = kappa_summary(table_of_pairs, pairing(table_of_pairs), alpha=alpha)
        return summarised(
            "consistency",
            title,
            table_of_pairs,
            summary,
            alpha,
            f"{note} Summarised by pairing; every pair is in the CSV file.",
        )
    columns = {
        "A": text("rater_a"),
        "B": text("rater_b"),
        "pair": text("pair"),
        "n": text("n_images"),
        "observed": text("observed_consistency"),
        "expected": text("expected_consistency"),
        "kappa": text("kappa"),
        "interval": interval_of("kappa_ci_low", "kappa_ci_high", scale=1),
        "attainable range": interval_of("kappa_min", "kappa_max", scale=1),
        "p": text("pvalue"),
        "Holm p": text("pvalue_holm"),
    }
    return table("consistency", title, table_of_pairs, columns, note)


def consistency_differences(differences: pd.DataFrame, alpha: float) -> Table:
    """Each two models' mean error consistency with the annotators, and its paired bootstrap test."""
    columns = {
        "A": text("model_a"),
        "B": text("model_b"),
        "annotators": text("n_annotators"),
        "n": text("n_images"),
        "kappa A": text("kappa_a"),
        "kappa B": text("kappa_b"),
        "difference": text("difference"),
        "interval": interval_of("ci_low", "ci_high", scale=1),
        "p": text("pvalue"),
    }
    note = (
        "Kappa A is model A's error consistency with each annotator, averaged over the annotators who share "
        "images with both models. Images are resampled once per replicate for both models (paired bootstrap, "
        f"{100 * (1 - alpha):g}% percentile interval); p is twice the smaller share of replicates on one side of 0."
    )
    return table("consistency_differences", "Which model errs more like the annotators?", differences, columns, note)


def label_agreement(agreement: pd.DataFrame, alpha: float, limit: int) -> Table:
    """Cohen's kappa of every pair of annotators (and Fleiss' of all).

    Beyond ``limit`` rows, summarised per statistic.
    """
    title = "Agreement of the annotators' labels"
    if len(agreement) > limit:
        summary = kappa_summary(agreement, agreement["test"].astype(str).to_numpy(dtype=object), alpha=alpha)
        return summarised(
            "label_agreement",
            title,
            agreement,
            summary,
            alpha,
            "Summarised per statistic; every pair is in the CSV file.",
        )
    columns = {
        "statistic": text("test"),
        "annotators": text("raters"),
        "n": text("n_images"),
        "kappa": text("kappa"),
        "95% interval": interval_of("ci_low", "ci_high", scale=1),
        "p": text("pvalue"),
        "Holm p": text("pvalue_holm"),
    }
    return table(
        "label_agreement",
        title,
        agreement,
        columns,
        "Holm p adjusts Cohen's p over every pair of annotators of the phase.",
    )


def summarised(name: str, title: str, data: pd.DataFrame, summary: pd.DataFrame, alpha: float, note: str) -> Table:
    """A table whose every row goes to the CSV file while the page shows ``summary``
    (a :func:`~study_app.stats.agreement.kappa_summary` of it): thousands of pairs are data, not reading."""
    columns = {
        "pairs": text("pairing"),
        "n pairs": text("n_pairs"),
        "images (median)": text("median_images"),
        "median kappa": text("kappa_median"),
        "range": interval_of("kappa_min", "kappa_max", scale=1),
        "mean kappa": text("kappa_mean"),
        f"p < {alpha:g}": text("n_significant"),
    }
    if summary["n_significant_holm"].notna().any():
        columns[f"Holm p < {alpha:g}"] = text("n_significant_holm")
    return Table(name, title, data.reset_index(drop=True), render(summary, columns), note)


def classes(per_class: pd.DataFrame, name: Namer, top: int) -> Table:
    """Per-class (and per-superclass) errors; the ``top`` lowest FDR p-values of each model and level are shown."""
    data = per_class.assign(class_name=per_class["class"].astype(str).map(name))
    ranked = data.assign(_size=-data["difference"].abs()).sort_values(
        ["model", "level", "pvalue_fdr", "_size", "class"], kind="stable"
    )
    shown = ranked.groupby(["phase", "model", "level"], sort=True).head(top).drop(columns="_size")
    columns = {
        "model": text("model"),
        "level": text("level"),
        "class": text("class_name"),
        "n": text("n_images"),
        "human error": percent_of("human_error"),
        "model error": percent_of("model_error"),
        "difference": points_of("difference"),
        "humans better": text("humans_better"),
        "model better": text("model_better"),
        "FDR p": text("pvalue_fdr"),
        "differs": text("significant"),
    }
    note = (
        f"The {top} classes with the lowest FDR-adjusted p-value per model and level; every class is in classes.csv. "
        "Human error is the mean over the annotators of each image; the test is an exact sign test per class."
    )
    return table("classes", "Errors per class and superclass", data, columns, note, shown)


def class_correlation(profiles: pd.DataFrame) -> Table:
    columns = {
        "model": text("model"),
        "level": text("level"),
        "classes": text("n_classes"),
        "Spearman rho": text("spearman_rho"),
        "p": text("spearman_p"),
        "classes differing": text("n_significant"),
    }
    return table("class_correlation", "How alike are the per-class error profiles?", profiles, columns)


def confusions(pairs: pd.DataFrame, name: Namer) -> Table:
    data = pairs.assign(
        truth_name=pairs["truth"].astype(str).map(name), label_name=pairs["label"].astype(str).map(name)
    )
    columns = {
        "who": rater_name("group", ALL_ANSWERS),
        "true class": text("truth_name"),
        "answered": text("label_name"),
        "count": text("count"),
        "share of errors": percent_of("share"),
    }
    return table("confusions", "Most confused pairs (top-1 answers)", data, columns)


def trend(fit: pd.DataFrame) -> Table:
    columns = {
        "annotators": text("n_annotators"),
        "trials": text("n_trials"),
        "odds ratio per 100 trials": text("odds_ratio_per_100"),
        "95% interval": interval_of("ci_low", "ci_high", scale=1),
        "p": text("pvalue"),
    }
    note = "Conditional logistic regression within annotator and phase: below 1 means fewer errors later (learning)."
    return table("trend", "Error over the trials of a session", fit, columns, note)


def learning_blocks(blocks: pd.DataFrame, name: str) -> Table:
    columns = {
        "trials": text("rater"),
        "answers": text("n"),
        "error": percent_of("error_rate"),
        "95% interval": interval_of("wilson_low", "wilson_high"),
    }
    note = (
        "All annotators' answers in each block of trials, with Wilson "
        "intervals (answers of one annotator are treated as independent)."
    )
    return table(name, "Error per block of trials", blocks, columns, note)


def response_times(times: pd.DataFrame) -> Table:
    columns = {
        "annotator": rater_name("rater", ALL_ANSWERS),
        "right": text("n_right"),
        "wrong": text("n_wrong"),
        "median ms right": text("median_rt_right"),
        "median ms wrong": text("median_rt_wrong"),
        "Mann-Whitney p": text("pvalue"),
    }
    note = (
        "Answers only (timeouts and non-answers left out); the "
        "pooled row ignores that one annotator's answers are related."
    )
    return table("response_times", "Response times of right and wrong answers", times, columns, note)


def reviews(review_table: pd.DataFrame) -> Table:
    """The error taxonomy as the review statistics give it, shown as is."""
    data = review_table.sort_values(list(review_table.columns), kind="stable")
    return table("error_taxonomy", "Error categories", data, {column: text(column) for column in data.columns})


# -- the Conditions section (report.conditions_section) ---------------------------------


def condition_rates(rates: pd.DataFrame) -> Table:
    shown = rates[(rates["scope"] == "all") & (rates["kind"] != "human")]
    columns = {
        "phase": text("phase"),
        "condition": text("condition"),
        "rater": text("rater"),
        "n": text("n"),
        "accuracy": lambda frame: (1 - frame["error_rate"].astype(float)).map(percent),
        "95% interval": lambda frame: pd.Series(
            [interval(1 - high, 1 - low) for low, high in zip(_condition_low(frame), _condition_high(frame))],
            index=frame.index,
        ),
    }
    note = (
        "The annotators' mean (cluster bootstrap interval) and each model (Wilson interval) on all their trials; "
        "each annotator, and the stimuli every rater saw (scope shared), are in the CSV."
    )
    return table("conditions", "Accuracy per condition", rates, columns, note, shown_rows=shown)


def _condition_low(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["kind"] == "humans", frame["boot_low"].astype(float), frame["wilson_low"].astype(float))


def _condition_high(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["kind"] == "humans", frame["boot_high"].astype(float), frame["wilson_high"].astype(float))


def thresholds(fits: pd.DataFrame) -> Table:
    columns = {
        "phase": text("phase"),
        "rater": text("rater"),
        "function": text("family"),
        "accuracy": text("direction"),
        "threshold": text("threshold"),
        "95% interval": interval_of("threshold_low", "threshold_high", scale=1),
        "at accuracy": percent_of("threshold_accuracy"),
        "lapse": text("lapse"),
        "note": text("note"),
    }
    guess = fits["guess"].iloc[0]
    note = (
        f"Maximum-likelihood fits with the guess rate fixed at {number(guess)} (1 / classes) and a lapse rate "
        "in [0, 0.1]; the threshold is the level at the named accuracy, its interval a parametric bootstrap. "
        "'humans (pooled trials)' is fitted to all annotators' trials together."
    )
    return table("psychometric", "Psychometric thresholds", fits, columns, note)


def threshold_tests(tests: pd.DataFrame) -> Table:
    columns = {
        "phase": text("phase"),
        "model": text("model"),
        "model threshold": text("model_threshold"),
        "annotators' threshold": text("humans_threshold"),
        "difference": text("difference"),
        "95% interval": interval_of("difference_low", "difference_high", scale=1),
        "bootstrap p": text("pvalue"),
        "note": text("note"),
    }
    note = (
        "The model's threshold minus the threshold fitted to all annotators' trials: "
        "annotators resampled with replacement (cluster bootstrap), the model's "
        "counts redrawn from its fitted curve; no test where a side has no threshold."
    )
    return table("threshold_tests", "Model against annotators: threshold difference", tests, columns, note)


def condition_consistency(consistency: pd.DataFrame) -> Table:
    columns = {
        "phase": text("phase"),
        "condition": text("condition"),
        "model": text("model"),
        "annotators": text("n_humans"),
        "error consistency": text("error_consistency"),
        "observed consistency": percent_of("observed_consistency"),
    }
    note = (
        "Cohen's kappa of right/wrong between the model and each "
        "annotator on their shared stimuli, averaged over annotators."
    )
    return table("condition_consistency", "Error consistency per condition", consistency, columns, note)


def consistency_averaged(averaged: pd.DataFrame) -> Table:
    columns = {
        "phase": text("phase"),
        "model": text("model"),
        "levels": text("n_conditions"),
        "annotators": text("n_humans"),
        "error consistency": text("error_consistency"),
    }
    note = (
        "Per annotator the mean over levels, then the mean over annotators (as the model-vs-human benchmark averages)."
    )
    return table(
        "condition_consistency_averaged", "Error consistency averaged over conditions", averaged, columns, note
    )


# -- the Error taxonomy section (report.taxonomy_section) -----------------------------


def taxonomy_causes(taxonomy: pd.DataFrame) -> Table:
    columns = {
        "group": text("group"),
        "cause": text("cause_name"),
        "applies to": text("applies_to"),
        "errors reviewed": text("errors_reviewed"),
        "with this cause": text("count"),
        "share": percent_of("share"),
        "95% interval": interval_of("wilson_low", "wilson_high"),
    }
    note = "People's errors are pooled over annotators; Wilson intervals treat the errors as independent."
    return table("error_taxonomy", "Causes of errors", taxonomy, columns, note)


def taxonomy_overall(overall: pd.DataFrame) -> Table:
    columns = {
        "model": text("model"),
        "people's errors": text("humans_n"),
        "model's errors": text("model_n"),
        "statistic": text("statistic"),
        "permutation p": text("pvalue"),
        "permutations": text("permutations"),
    }
    note = (
        "Do the causes of people's and the model's errors differ? Statistic: the sum over causes of the 2x2 "
        "chi-square; p from permuting which errors are people's, which keeps each error's causes together."
    )
    return table("taxonomy_overall", "People's against each model's causes", overall, columns, note)


def taxonomy_tests(tests: pd.DataFrame) -> Table:
    columns = {
        "model": text("model"),
        "cause": text("cause_name"),
        "people": text("humans_count"),
        "of": text("humans_n"),
        "model errors": text("model_count"),
        "of ": text("model_n"),
        "odds ratio": text("odds_ratio"),
        "Fisher p": text("pvalue"),
        "Holm p": text("pvalue_holm"),
        "expected < 5": text("small_counts"),
    }
    note = "Fisher's exact test per cause (exact at any count), Holm's correction over the causes of one model."
    return table("taxonomy_tests", "Cause by cause", tests, columns, note)


def reviewer_agreement(agreement: pd.DataFrame) -> Table:
    columns = {
        "reviewer A": text("reviewer_a"),
        "reviewer B": text("reviewer_b"),
        "cause": text("cause_name"),
        "errors": text("n"),
        "agreement": percent_of("agreement"),
        "Cohen's kappa": text("kappa"),
        "95% interval": interval_of("kappa_low", "kappa_high", scale=1),
    }
    note = "On the errors both reviewers reviewed; kappa is empty where neither reviewer's answer varied."
    return table("reviewer_agreement", "Agreement between reviewers, per cause", agreement, columns, note)


def truth_corrections(corrections: pd.DataFrame) -> Table:
    columns = {
        "image": text("image_id"),
        "original": text("original"),
        "reviewed": text("reviewed"),
        "status": text("status"),
        "reviewers": text("reviewers"),
        "proposals": text("proposals"),
    }
    note = (
        "Proposed by reviewers and stored beside the original ground truth; disputed images keep their original labels."
    )
    return table("truth_corrections", "Proposed ground-truth corrections", corrections, columns, note)


def rescored_rates(rescored: pd.DataFrame) -> Table:
    columns = {
        "rater": text("rater"),
        "n": text("n_original"),
        "error (original truth)": percent_of("error_rate_original"),
        "95% interval": interval_of("wilson_low_original", "wilson_high_original"),
        "error (reviewed truth)": percent_of("error_rate_reviewed"),
        "95% interval ": interval_of("wilson_low_reviewed", "wilson_high_reviewed"),
        "errors that were label noise": text("fixed"),
        "right answers now wrong": text("broken"),
    }
    note = (
        "The same answers scored against the manifest's and the "
        "reviewed ground truth; pooled rows have no Wilson interval."
    )
    return table("rescored_error_rates", "Error rates with the reviewed ground truth", rescored, columns, note)

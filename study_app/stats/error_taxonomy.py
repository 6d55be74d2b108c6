"""The error taxonomy: why people and models err, how reviewers agree, and label noise.

Inputs are the current reviews (:func:`study_app.store.reviews.reviews_frame`: one row
per reviewer and error, ``causes`` joined by ``;``) and the causes of the taxonomy.

Causes are multi-label: one error may have several (a fine-grained confusion in a
cluttered image). Each cause is therefore its own yes/no outcome per error, its share
is "errors with this cause / errors reviewed", and shares need not add up to 1. When
several reviewers reviewed one error, a cause counts for it when at least half of them
ticked it (:func:`consensus`).

Whether people's and a model's causes differ is tested without pretending the causes
exclude each other: per cause, Fisher's exact test on the 2x2 table (group x cause
ticked) -- exact, so small counts are no problem -- with Holm's correction over the
causes; and one overall permutation test whose statistic is the sum of the per-cause
chi-square statistics, with the group labels of the errors permuted (this keeps each
error's causes together, so their correlation is respected). A chi-square test on the
cause counts would count a multi-cause error several times and is not used.
Human errors of different annotators on one image are not independent; the tests and
the pooled Wilson intervals ignore that (a note says so).

Error rates re-scored with the reviewed ground truth (:func:`reviewed_truth`) are given
beside the original ones by :func:`rescored_error_rates`: how many "errors" were label
noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from study_app.stats.agreement import kappa_interval
from study_app.stats.raters import HUMAN, UNIT_KEY, with_condition
from study_app.stats.rates import error_rates
from study_app.stats.results import Result, Summary, json_records
from study_app.stats.truth import TruthSource, truth_table

if TYPE_CHECKING:
    from study_app.protocol.taxonomy import Taxonomy

#: The group name of all people's errors together in the taxonomy table.
HUMANS_GROUP = "humans"
TAXONOMY_COLUMNS = [
    "group",
    "kind",
    "cause",
    "cause_name",
    "applies_to",
    "errors_reviewed",
    "count",
    "share",
    "wilson_low",
    "wilson_high",
]
TEST_COLUMNS = [
    "model",
    "cause",
    "cause_name",
    "humans_count",
    "humans_n",
    "model_count",
    "model_n",
    "odds_ratio",
    "pvalue",
    "pvalue_holm",
    "small_counts",
]
OVERALL_COLUMNS = ["model", "humans_n", "model_n", "statistic", "pvalue", "permutations", "causes_tested"]
KAPPA_COLUMNS = [
    "reviewer_a",
    "reviewer_b",
    "cause",
    "cause_name",
    "n",
    "both",
    "only_a",
    "only_b",
    "neither",
    "agreement",
    "kappa",
    "kappa_low",
    "kappa_high",
]
CORRECTION_COLUMNS = ["image_id", "original", "reviewed", "status", "reviewers", "proposals"]
MIN_EXPECTED = 5


def reviews_of_counted_errors(
    reviews: pd.DataFrame, raters: pd.DataFrame, *, correct: str
) -> tuple[pd.DataFrame, list[str]]:
    """The reviews of errors that the analysed rater table counts (its phases, its rule: an
    error reviewed under top-1 may be right under top-k), and notes: how many reviews that
    leaves out, and how many of each side's errors were reviewed (a share of 1 review of 200
    errors should not read like a finding)."""

    def error_keys(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
        return list(zip(frame["rater"].astype(str), frame["phase"].astype(str), frame["image_id"].astype(str)))

    errors = (
        raters.loc[~raters[correct].astype(bool), ["rater", "kind", "phase", "image_id"]].astype(str).drop_duplicates()
    )
    analysed = set(error_keys(errors))
    counted = reviews[[key in analysed for key in error_keys(reviews)]]
    notes = []
    if len(counted) < len(reviews):
        notes.append(
            f"{len(reviews) - len(counted)} review(s) of errors outside this analysis (other phases, or not an error "
            "under this rule) are not counted here"
        )
    reviewed = set(error_keys(counted))
    sides = [(HUMANS_GROUP, errors[errors["kind"] == HUMAN])]
    sides += [(str(name), part) for name, part in errors[errors["kind"] != HUMAN].groupby("rater", sort=True)]
    shares = [
        f"{name} {sum(key in reviewed for key in error_keys(part))} of {len(part)}" for name, part in sides if len(part)
    ]
    notes.append("errors reviewed: " + "; ".join(shares))
    return counted.reset_index(drop=True), notes


def consensus(reviews: pd.DataFrame, causes: Sequence[str]) -> pd.DataFrame:
    """One row per reviewed error: ``item, rater, kind, phase, image_id, reviewers`` and a
    boolean column per cause, true when at least half of the error's reviewers ticked it."""
    columns = ["item", "rater", "kind", "phase", "image_id", "reviewers", *causes]
    if reviews.empty:
        return pd.DataFrame(columns=columns).astype(dict.fromkeys(causes, bool))
    ticked = reviews["causes"].astype(str).str.split(";")
    marks = pd.DataFrame({cause: ticked.map(lambda keys, c=cause: c in keys) for cause in causes}, index=reviews.index)
    frame = pd.concat(
        [reviews[["item", "rater", "rater_kind", "phase", "image_id"]].rename(columns={"rater_kind": "kind"}), marks],
        axis=1,
    )
    grouped = frame.groupby("item", sort=True)
    first = grouped[["rater", "kind", "phase", "image_id"]].first()
    share = grouped[list(causes)].mean()
    out = first.assign(reviewers=grouped.size(), **{cause: share[cause] >= 0.5 for cause in causes})
    return out.reset_index()[columns]


def taxonomy_table(agreed: pd.DataFrame, taxonomy: Taxonomy, *, alpha: float = 0.05) -> pd.DataFrame:
    """Count and share of each cause among people's errors (pooled) and among each model's, with Wilson intervals."""
    rows = []
    groups = [(HUMANS_GROUP, HUMAN, agreed[agreed["kind"] == HUMAN])]
    models = agreed[agreed["kind"] != HUMAN]
    groups += [(str(name), "model", part) for name, part in models.groupby("rater", sort=True)]
    for group, kind, part in groups:
        n = len(part)
        for cause in taxonomy.causes:
            count = int(part[cause.key].sum()) if n else 0
            low, high = proportion_confint(count, n, alpha, method="wilson") if n else (np.nan, np.nan)
            rows.append(
                (group, kind, cause.key, cause.name, cause.applies_to, n, count, count / n if n else np.nan, low, high)
            )
    return pd.DataFrame(rows, columns=TAXONOMY_COLUMNS)


def _chi_square(count: np.ndarray, group_n: int, cause_total: np.ndarray, total: int) -> np.ndarray:
    """Pearson chi-square of 2x2 tables with fixed margins, from the group's cell ``count`` (vectorised)."""
    other_n = total - group_n
    denominator = group_n * other_n * cause_total * (total - cause_total)
    a, b = count, group_n - count
    c, d = cause_total - count, other_n - cause_total + count
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = total * (a * d - b * c) ** 2 / denominator
    return np.where(denominator > 0, statistic, 0.0)


def compare_causes(
    agreed: pd.DataFrame, taxonomy: Taxonomy, *, n_perm: int = 10_000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People's errors against each model's: per-cause Fisher exact tests (Holm) and an overall permutation test.

    Returns ``(per_cause, overall)`` with columns :data:`TEST_COLUMNS` and :data:`OVERALL_COLUMNS`.
    ``small_counts`` marks causes with an expected cell count below 5, where a chi-square
    test would be unreliable (Fisher's test is exact and is what the p-value comes from).
    """
    keys = list(taxonomy.keys)
    human = agreed[agreed["kind"] == HUMAN]
    per_cause, overall = [], []
    rng = np.random.default_rng(seed)
    for model, part in agreed[agreed["kind"] != HUMAN].groupby("rater", sort=True):
        if human.empty or part.empty:
            continue
        h = human[keys].to_numpy(dtype=bool)
        m = part[keys].to_numpy(dtype=bool)
        h_n, m_n = len(h), len(m)
        rows = []
        for j, cause in enumerate(taxonomy.causes):
            hc, mc = int(h[:, j].sum()), int(m[:, j].sum())
            table = np.array([[hc, h_n - hc], [mc, m_n - mc]])
            odds, pvalue = fisher_exact(table)
            expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
            rows.append(
                [
                    str(model),
                    cause.key,
                    cause.name,
                    hc,
                    h_n,
                    mc,
                    m_n,
                    odds,
                    pvalue,
                    np.nan,
                    bool((expected < MIN_EXPECTED).any()),
                ]
            )
        holm = multipletests([r[8] for r in rows], method="holm")[1]
        for row, adjusted in zip(rows, holm):
            row[9] = adjusted
        per_cause += rows
        overall.append(
            [str(model), h_n, m_n, *_permutation_test(h, m, n_perm, rng), int(((h.sum(0) + m.sum(0)) > 0).sum())]
        )
    return pd.DataFrame(per_cause, columns=TEST_COLUMNS), pd.DataFrame(overall, columns=OVERALL_COLUMNS)


def _permutation_test(h: np.ndarray, m: np.ndarray, n_perm: int, rng: np.random.Generator) -> tuple[float, float, int]:
    """Sum of per-cause chi-squares; p-value from permuted group labels.

    The p-value counts the observed statistic among the permutations, so it is never 0.
    """
    pooled = np.vstack([h, m]).astype(np.int64)
    total, group_n = len(pooled), len(m)
    cause_total = pooled.sum(axis=0)
    observed = _chi_square(m.sum(axis=0), group_n, cause_total, total).sum()
    exceed = 0
    for start in range(0, n_perm, 1000):
        size = min(1000, n_perm - start)
        in_group = np.argsort(rng.random((size, total)), axis=1)[:, :group_n]
        counts = pooled[in_group].sum(axis=1)
        statistic = _chi_square(counts, group_n, cause_total[None, :], total).sum(axis=1)
        exceed += int((statistic >= observed - 1e-9).sum())
    return float(observed), (exceed + 1) / (n_perm + 1), n_perm


def reviewer_agreement(reviews: pd.DataFrame, taxonomy: Taxonomy, *, alpha: float = 0.05) -> pd.DataFrame:
    """Cohen's kappa per cause for each pair of reviewers, on the errors both reviewed.

    Kappa is undefined (NaN) when both reviewers gave the same answer to every error
    (no variation to agree on); ``agreement`` (the share of errors they agree on) is still given.
    """
    rows = []
    reviewers = sorted(reviews["reviewer"].astype(str).unique())
    ticked = {
        r: reviews[reviews["reviewer"] == r].set_index("item")["causes"].astype(str).str.split(";") for r in reviewers
    }
    for i, first in enumerate(reviewers):
        for second in reviewers[i + 1 :]:
            shared = ticked[first].index.intersection(ticked[second].index).sort_values()
            if shared.empty:
                continue
            for cause in taxonomy.causes:
                a = ticked[first].loc[shared].map(lambda keys, c=cause.key: c in keys).to_numpy()
                b = ticked[second].loc[shared].map(lambda keys, c=cause.key: c in keys).to_numpy()
                cells = [int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()), int((~a & ~b).sum())]
                kappa, low, high = _kappa(np.array([[cells[0], cells[1]], [cells[2], cells[3]]]), alpha)
                rows.append(
                    [
                        first,
                        second,
                        cause.key,
                        cause.name,
                        len(shared),
                        *cells,
                        (cells[0] + cells[3]) / len(shared),
                        kappa,
                        low,
                        high,
                    ]
                )
    return pd.DataFrame(rows, columns=KAPPA_COLUMNS)


def _kappa(table: np.ndarray, alpha: float) -> tuple[float, float, float]:
    n = table.sum()
    expected = (table.sum(axis=1) * table.sum(axis=0)).sum() / n**2
    if expected >= 1 - 1e-12:
        return np.nan, np.nan, np.nan
    with np.errstate(divide="ignore", invalid="ignore"):  # its z test divides by 0 when one reviewer never varies
        result = cohens_kappa(table)  # simple kappa and its asymptotic standard error, as in agreement.label_kappa
    low, high = kappa_interval(result.kappa, np.sqrt(max(float(result.var_kappa), 0.0)), alpha)
    return float(result.kappa), float(low), float(high)


def reviewed_truth(reviews: pd.DataFrame, truth: TruthSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ground truth after review, and the table of proposed corrections.

    Each reviewer's proposal for an image is the one in their latest review of an error on
    it. An image is ``corrected`` when every reviewer who proposed something proposed the
    same labels; when they disagree it is ``disputed`` and keeps its original labels.
    Returns ``(truth, corrections)``: the truth table (``image_id, label_id``) with
    corrections applied, and one row per image with a proposal (:data:`CORRECTION_COLUMNS`).
    """
    original = truth_table(truth)
    proposed = reviews[reviews["proposed_truth"].astype(str) != ""].sort_values("reviewed_at", kind="stable")
    latest = proposed.drop_duplicates(["reviewer", "image_id"], keep="last")
    labels_of = original.groupby("image_id", sort=False)["label_id"].agg(";".join)
    rows, replaced = [], {}
    for image_id, part in latest.groupby("image_id", sort=True):
        proposals = sorted(set(part["proposed_truth"].astype(str)))
        status = "corrected" if len(proposals) == 1 else "disputed"
        if status == "corrected":
            replaced[image_id] = proposals[0].split(";")
        rows.append(
            [
                image_id,
                labels_of.get(image_id, ""),
                proposals[0] if status == "corrected" else "",
                status,
                ";".join(sorted(part["reviewer"].astype(str))),
                " | ".join(proposals),
            ]
        )
    kept = original[~original["image_id"].isin(list(replaced))]
    new = pd.DataFrame(
        [(i, label) for i, labels in replaced.items() for label in labels], columns=["image_id", "label_id"]
    )
    return pd.concat([kept, new], ignore_index=True), pd.DataFrame(rows, columns=CORRECTION_COLUMNS)


def rescored_error_rates(
    original: pd.DataFrame,
    rescored: pd.DataFrame,
    *,
    correct: str,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each rater's error rate with the original and with the reviewed ground truth, side by side.

    ``original`` and ``rescored`` are rater tables of the same answers scored against the
    two truths. Besides both rates (with the intervals of :func:`error_rates`), ``fixed``
    counts errors that the reviewed truth turns into right answers (label noise) and
    ``broken`` right answers that it turns into errors.
    """
    before = error_rates(original, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed)
    after = error_rates(rescored, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed)
    key = ["phase", "rater", "kind"]
    keep = ["n", "errors", "error_rate", "wilson_low", "wilson_high", "boot_low", "boot_high"]
    table = before[key + keep].merge(
        after[key + keep], on=key, suffixes=("_original", "_reviewed"), how="outer", sort=False
    )
    units = list(UNIT_KEY)  # the same answer in both tables: one image at two conditions is two answers
    paired = with_condition(original)[[*units, correct]].merge(
        with_condition(rescored)[[*units, correct]], on=units, suffixes=("_o", "_r")
    )
    paired = paired.astype({"rater": str, "phase": str})
    fixed = (
        (~paired[f"{correct}_o"].astype(bool) & paired[f"{correct}_r"].astype(bool))
        .groupby([paired["phase"], paired["rater"]])
        .sum()
    )
    broken = (
        (paired[f"{correct}_o"].astype(bool) & ~paired[f"{correct}_r"].astype(bool))
        .groupby([paired["phase"], paired["rater"]])
        .sum()
    )
    index = pd.MultiIndex.from_frame(table[["phase", "rater"]].astype(str))
    table["fixed"] = fixed.reindex(index).to_numpy()
    table["broken"] = broken.reindex(index).to_numpy()
    return table


@dataclass(frozen=True, repr=False)
class TaxonomyAnalysis(Result):
    """Everything the taxonomy section shows, as tables; ``notes`` say what to keep in mind."""

    taxonomy: pd.DataFrame
    tests: pd.DataFrame
    overall: pd.DataFrame
    agreement: pd.DataFrame
    corrections: pd.DataFrame
    rescored: pd.DataFrame
    reviews: int
    reviewers: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "taxonomy": self.taxonomy,
            "taxonomy_tests": self.tests,
            "taxonomy_overall": self.overall,
            "reviewer_agreement": self.agreement,
            "truth_corrections": self.corrections,
            "rescored_error_rates": self.rescored,
        }

    def to_json(self) -> dict[str, Any]:
        """The tables as lists of records (NaN as null), with the notes."""
        tables = {name: json_records(table) for name, table in self.tables().items()}
        return {"reviews": self.reviews, "reviewers": list(self.reviewers), "notes": list(self.notes), **tables}

    def summary(self) -> Summary:
        lines = [
            f"error taxonomy: {self.reviews} review(s) by "
            f"{len(self.reviewers)} reviewer(s) ({', '.join(self.reviewers)})"
        ]
        table = self.taxonomy[self.taxonomy["errors_reviewed"] > 0]
        for group, part in table.groupby("group", sort=False):
            lines.append(f"\n{group} ({part['errors_reviewed'].iloc[0]} errors reviewed)")
            for row in part.itertuples():
                lines.append(
                    f"  {row.cause_name:<32} {row.count:>5}  {100 * row.share:5.1f}%  "
                    f"[{100 * row.wilson_low:.1f}, {100 * row.wilson_high:.1f}]"
                )
        for row in self.overall.itertuples():
            lines.append(
                f"\nhumans vs {row.model}: causes differ? permutation "
                f"p = {row.pvalue:.4g} ({row.permutations} permutations)"
            )
            significant = self.tests[(self.tests["model"] == row.model) & (self.tests["pvalue_holm"] < 0.05)]
            for test in significant.itertuples():
                lines.append(
                    f"  {test.cause_name}: humans {test.humans_count}/{test.humans_n}, model "
                    f"{test.model_count}/{test.model_n}, Fisher p (Holm) = {test.pvalue_holm:.4g}"
                )
        if not self.agreement.empty:
            lines.append("\nreviewer agreement (Cohen's kappa per cause)")
            for row in self.agreement.itertuples():
                kappa = "undefined" if np.isnan(row.kappa) else f"{row.kappa:.3f}"
                lines.append(
                    f"  {row.reviewer_a} vs {row.reviewer_b}, {row.cause_name}: "
                    f"kappa {kappa}, agreement {100 * row.agreement:.1f}% (n {row.n})"
                )
        if not self.rescored.empty:
            lines.append("\nerror rates with the original and the reviewed ground truth")
            for row in self.rescored.itertuples():
                lines.append(
                    f"  {row.phase:<8} {row.rater:<30} {100 * row.error_rate_original:5.1f}% "
                    f"-> {100 * row.error_rate_reviewed:5.1f}%"
                    + ("" if np.isnan(row.fixed) else f"  ({int(row.fixed)} fixed, {int(row.broken)} broken)")
                )
        lines += [f"note: {note}" for note in self.notes]
        return Summary("\n".join(lines))


def analyse_taxonomy(
    reviews: pd.DataFrame,
    taxonomy: Taxonomy,
    original: pd.DataFrame,
    rescored: pd.DataFrame,
    corrections: pd.DataFrame,
    *,
    correct: str,
    alpha: float = 0.05,
    n_boot: int = 2000,
    n_perm: int = 10_000,
    seed: int = 0,
) -> TaxonomyAnalysis:
    """All taxonomy statistics from the current reviews, the rater tables scored with the original and
    the reviewed ground truth, and the corrections (both from :func:`reviewed_truth`).

    Causes and reviewer agreement count only the reviews of errors ``original`` counts
    (:func:`reviews_of_counted_errors`); the corrections come from every review, since a
    ground truth belongs to the image, whichever error showed it."""
    reviews, coverage = reviews_of_counted_errors(reviews, original, correct=correct)
    agreed = consensus(reviews, taxonomy.keys)
    tests, overall = compare_causes(agreed, taxonomy, n_perm=n_perm, seed=seed)
    notes = [
        "causes are multi-label: shares are of errors reviewed and need not add up to 100%; with "
        "several reviewers a cause counts when at least half of an error's reviewers ticked it",
        "the people's errors are pooled over annotators; errors of "
        "different annotators on one image are treated as independent",
        *coverage,
    ]
    if tests["small_counts"].any():
        notes.append(
            "some causes have expected counts below 5: their p-values "
            "come from Fisher's exact test, not a chi-square approximation"
        )
    blind = reviews["blind"].astype(bool) if "blind" in reviews.columns else pd.Series(dtype=bool)
    if len(blind) and not blind.all():
        notes.append(
            "some reviews were not blind: causes that apply to one side only could not be given to the other side, "
            "so their difference reflects the taxonomy as much as the raters"
        )
    given = {key for text in reviews["causes"].astype(str) for key in text.split(";") if key}
    unknown = sorted(given - set(taxonomy.keys))
    if unknown:
        notes.append(
            f"cause(s) {', '.join(unknown)} of earlier reviews are not "
            "in the protocol's taxonomy any more and are not counted"
        )
    if (corrections["status"] == "disputed").any():
        notes.append("reviewers proposed different ground truths for some images: those keep their original labels")
    return TaxonomyAnalysis(
        taxonomy_table(agreed, taxonomy, alpha=alpha),
        tests,
        overall,
        reviewer_agreement(reviews, taxonomy, alpha=alpha),
        corrections,
        rescored_error_rates(original, rescored, correct=correct, alpha=alpha, n_boot=n_boot, seed=seed),
        len(reviews),
        tuple(sorted(reviews["reviewer"].astype(str).unique())),
        tuple(notes),
    )

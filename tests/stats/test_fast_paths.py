"""The vectorised statistics against plain reference implementations (statsmodels, one pair at a time).

Label kappa for all pairs at once, Fleiss' kappa from the label grid, the GEE from
cluster sums, exact McNemar over many tables, reused bootstrap draws and the paired
bootstrap in blocks must give what the straightforward code gives, on random data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import example, given, strategies as st
from scipy.stats import norm
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.families import Gaussian
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from study_app.errors import StudyError
from study_app.stats import (
    HUMANS,
    class_error_comparison,
    exact_mcnemar,
    fleiss_kappa_labels,
    humans_vs_model_gee,
    label_kappa,
    label_kappa_table,
    paired_differences,
    rater_grid,
)
from study_app.stats.bootstrap import resample_counts
from study_app.stats.gee import FEW_CLUSTERS, exchangeable_linear_gee
from study_app.stats.independence import EXACT_BELOW
from tests.stats.test_properties import SETTINGS, rater_tables

NO_ANSWER = "(no answer)"


def reference_label_kappa(table: pd.DataFrame, a: str, b: str, alpha: float = 0.05) -> dict[str, float] | None:
    """One pair the straightforward way: pivot the top-1 labels, statsmodels' cohens_kappa."""
    rows = table[table["rater"].isin([a, b])]
    labels = rows["label"].astype(str).where(rows["label"].astype(str) != "", NO_ANSWER)
    wide = pd.DataFrame({"rater": rows["rater"].astype(str), "image_id": rows["image_id"].astype(str), "label": labels})
    wide = wide.pivot(index="image_id", columns="rater", values="label")[[a, b]].dropna()
    if wide.empty:
        return None
    categories, codes = np.unique(wide.to_numpy(dtype=str), return_inverse=True)
    codes = codes.reshape(-1, 2)
    counts = np.bincount(codes[:, 0] * len(categories) + codes[:, 1], minlength=len(categories) ** 2).reshape(
        len(categories), -1
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        result = cohens_kappa(counts)
    # A zero variance (perfect agreement, or one rater giving one label throughout) can
    # round to -1e-18, whose root statsmodels gives as NaN; the fast path gives 0.
    std_kappa = (
        np.sqrt(max(float(result.var_kappa), 0.0)) if float(result.var_kappa) > -1e-12 else float(result.std_kappa)
    )
    half = norm.isf(alpha / 2) * std_kappa
    pvalue = float(result.pvalue_two_sided) if np.isfinite(result.std_kappa0) and result.std_kappa0 > 0 else np.nan
    # Ours clips the interval to kappa's range and gives none where the variance is 0.
    low, high = (
        (max(float(result.kappa) - half, -1.0), min(float(result.kappa) + half, 1.0))
        if std_kappa > 1e-6
        else (np.nan, np.nan)
    )
    found = {
        "n_images": len(wide),
        "n_categories": len(categories),
        "kappa": float(result.kappa),
        "std_error": std_kappa,
        "ci_low": low,
        "ci_high": high,
    }
    # Below EXACT_BELOW shared images the p-value is a permutation test's (test_agreement checks it).
    return found | {"pvalue": pvalue} if len(wide) >= EXACT_BELOW else found


#: A zero variance computed in another order is +-1e-17, and its root +-1e-8.
ROOT_OF_ROUNDING = {"std_error": 1e-7, "ci_low": 1e-7, "ci_high": 1e-7}


def assert_close(found: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert np.isclose(found[key], value, rtol=1e-9, atol=ROOT_OF_ROUNDING.get(key, 1e-12), equal_nan=True), (
            key,
            found[key],
            value,
        )


@SETTINGS
@given(rater_tables(min_raters=2))
def test_label_kappa_of_every_pair_is_statsmodels_cohens_kappa(table):
    people = sorted(table.loc[table["kind"] == "human", "rater"].astype(str).unique())
    found = label_kappa_table(table).set_index(["rater_a", "rater_b"])
    expected = {(a, b): reference_label_kappa(table, a, b) for i, a in enumerate(people) for b in people[i + 1 :]}
    assert sorted(found.index) == sorted(pair for pair, result in expected.items() if result is not None)
    for pair, result in expected.items():
        if result is not None:
            assert_close(found.loc[pair].to_dict(), result)
            assert_close(vars(label_kappa(table, *pair)), result)


def test_label_kappa_of_many_annotators_in_blocks(monkeypatch):
    """Many pairs, split over several blocks, each still statsmodels' number."""
    import study_app.stats.agreement as agreement

    rng = np.random.default_rng(4)
    n_people, n_images = 9, 60
    truth = "".join(rng.choice(list("abcde"), n_images))
    answers = {
        f"A{i}": "".join(rng.choice(list("abcde-"), n_images, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05]))
        for i in range(n_people)
    }
    from tests.stats.builders import top1_table

    table = top1_table(answers, truth)
    table = table[~((table["rater"] == "A3") & (table["image_id"].isin([f"img{i}" for i in range(30)])))]  # A3 saw half
    monkeypatch.setattr(agreement, "_BLOCK_CELLS", 200)  # a few pairs per block
    found = label_kappa_table(table)
    assert len(found) == n_people * (n_people - 1) // 2
    for row in found.itertuples(index=False):
        assert_close(row._asdict(), reference_label_kappa(table, row.rater_a, row.rater_b))


@SETTINGS
@given(rater_tables(min_raters=3))
def test_fleiss_kappa_is_statsmodels_on_the_images_all_saw(table):
    people = sorted(table.loc[table["kind"] == "human", "rater"].astype(str).unique())
    if len(people) < 3:  # an annotator may have skipped every image
        with pytest.raises(StudyError, match="three or more"):
            fleiss_kappa_labels(table)
        return
    labels = table["label"].astype(str).where(table["label"].astype(str) != "", NO_ANSWER)
    wide = pd.DataFrame(
        {"rater": table["rater"].astype(str), "image_id": table["image_id"].astype(str), "label": labels}
    )
    wide = wide.pivot(index="image_id", columns="rater", values="label")[people].dropna()
    if wide.empty:
        with pytest.raises(StudyError, match="did not all see"):
            fleiss_kappa_labels(table)
        return
    codes = np.unique(wide.to_numpy(dtype=str), return_inverse=True)[1].reshape(wide.shape)
    counts, categories = aggregate_raters(codes)
    result = fleiss_kappa_labels(table)
    assert (result.n_images, result.n_categories) == (len(wide), len(categories))
    assert np.isclose(result.kappa, fleiss_kappa(counts, method="fleiss"), equal_nan=True)


def statsmodels_gee(endog, exog, groups, cov_type="robust"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GEE(endog, exog, groups, family=Gaussian(), cov_struct=Exchangeable()).fit(cov_type=cov_type)


@SETTINGS
@given(st.integers(0, 10_000), st.integers(3, 6), st.integers(20, 200), st.integers(8, 60))
@example(2265, 3, 30, 14)  # a design of condition ~2,500: the sandwich agrees to 1.5e-8 only
def test_gee_from_cluster_sums_is_statsmodels_gee(seed, distinct_rows, n, clusters):
    """Several clusters per coefficient (with 2 clusters for 3 coefficients the sandwich is
    near-singular and both fits agree only to its condition number). The estimates agree to
    1e-8; what is derived through the sandwich's inverse to 1e-6."""
    rng = np.random.default_rng(seed)
    design = np.column_stack([np.ones(distinct_rows), rng.normal(size=(distinct_rows, 2))])
    rows = np.concatenate([np.arange(distinct_rows), rng.integers(0, distinct_rows, n)])  # every row used: full rank
    groups = rng.integers(0, clusters, len(rows))
    endog = (rng.random(len(rows)) < 0.3 + 0.1 * (rows % 3)).astype(float) + rng.normal(scale=0.1, size=len(rows)) * (
        groups % 2
    )
    reference, fit = (
        statsmodels_gee(endog, design[rows], groups, "bias_reduced"),
        exchangeable_linear_gee(endog, design, rows, groups),
    )
    assert fit.converged == reference.converged
    if (
        not reference.converged
    ):  # an oscillating iteration (rho < 0 in tiny clusters) amplifies rounding: only the flag agrees
        return
    assert np.allclose(fit.params, reference.params, rtol=1e-8, atol=1e-10)
    assert np.allclose(fit.cov_robust, reference.cov_robust, rtol=1e-6, atol=1e-12)
    if fit.n_clusters < FEW_CLUSTERS:  # Mancl-DeRouen
        assert np.allclose(fit.cov_bias_reduced, reference.cov_robust_bc, rtol=1e-6, atol=1e-12)
    assert np.isclose(fit.dep_param, reference.cov_struct.dep_params, rtol=1e-8, atol=1e-12)
    robust_se = np.sqrt(np.diag(reference.cov_robust))  # the reference's own p-values are the bias-reduced ones
    assert np.allclose(fit.pvalues, 2 * norm.sf(np.abs(reference.params / robust_se)), rtol=1e-6, atol=1e-12)
    assert np.allclose(
        fit.conf_int(0.1),
        reference.params[:, None] + np.outer(robust_se, norm.ppf([0.05, 0.95])),
        rtol=1e-6,
        atol=1e-12,
    )
    reported = reference.bse if fit.n_clusters < FEW_CLUSTERS else robust_se
    assert np.allclose([fit.wald(column)[0] for column in range(len(fit.params))], reported, rtol=1e-6, atol=1e-12)


def test_gee_with_one_row_per_cluster_is_least_squares_with_robust_errors():
    rng = np.random.default_rng(1)
    design, rows = np.column_stack([np.ones(3), [0.0, 1.0, 2.0]]), rng.integers(0, 3, 40)
    endog = rng.random(40) + rows
    reference, fit = (
        statsmodels_gee(endog, design[rows], np.arange(40)),
        exchangeable_linear_gee(endog, design, rows, np.arange(40)),
    )
    assert fit.dep_param == 0 and np.allclose(fit.params, reference.params) and np.allclose(fit.bse, reference.bse)


def test_humans_vs_model_gee_is_statsmodels_on_the_whole_design():
    """The annotator-effects design written out in full, as the first version fitted it."""
    rng = np.random.default_rng(7)
    n_people, n_images = 6, 80
    truth = "a" * n_images
    answers = {f"A{i}": "".join(np.where(rng.random(n_images) < 0.6 + 0.05 * i, "a", "b")) for i in range(n_people)}
    answers["m"] = "".join(np.where(rng.random(n_images) < 0.7, "a", "b"))
    from tests.stats.builders import top1_table

    table = top1_table(answers, truth, models=("m",))
    table = table[~((table["rater"] == "A2") & (table["image_id"].isin([f"img{i}" for i in range(25)])))]
    result = humans_vs_model_gee(table, "m", alpha=0.1)
    grid = rater_grid(table, correct="correct_topk")
    people = grid.of_kind("human")
    person, image = np.nonzero(people.seen)
    error = np.concatenate([1.0 - people.correct[person, image], 1.0 - grid.correct[grid.row("m")]])
    effects = np.zeros((len(error), n_people - 1))
    for column in range(n_people - 1):
        effects[: len(person), column] = (person == column).astype(float) - (person == n_people - 1)
    exog = np.column_stack([np.ones(len(error)), np.r_[np.zeros(len(person)), np.ones(n_images)], effects])
    reference = statsmodels_gee(error, exog, np.concatenate([image, np.arange(n_images)]))
    high, low = -reference.conf_int(0.1)[1]  # 80 images: the robust sandwich, the normal reference
    assert result.df == np.inf
    assert result.statistic == pytest.approx(-reference.tvalues[1], rel=1e-9)
    assert result.pvalue == pytest.approx(reference.pvalues[1], rel=1e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert result.note == ""


def test_gee_below_40_images_tests_against_t_with_images_minus_one_degrees_of_freedom():
    """15 images: the bias-reduced standard error (statsmodels') against t with 14 degrees of freedom."""
    from tests.stats.builders import correctness_table

    rng = np.random.default_rng(5)
    patterns = {
        name: "".join(np.where(rng.random(15) < p, "1", "0")) for name, p in (("A", 0.8), ("B", 0.7), ("m", 0.5))
    }
    result = humans_vs_model_gee(correctness_table(patterns, models=("m",)), "m")
    error = np.array([[c == "0" for c in patterns[name]] for name in ("A", "B", "m")], dtype=float).ravel()
    exog = np.column_stack(
        [np.ones(45), np.r_[np.zeros(30), np.ones(15)], np.r_[np.ones(15), -np.ones(15), np.zeros(15)]]
    )
    reference = statsmodels_gee(error, exog, np.tile(np.arange(15), 3), "bias_reduced")
    se = reference.bse[1]
    assert result.df == 14
    assert result.statistic == pytest.approx(-reference.params[1] / se, rel=1e-9)
    assert result.pvalue == pytest.approx(2 * scipy.stats.t.sf(abs(reference.params[1] / se), 14), rel=1e-9)
    half = scipy.stats.t.ppf(0.975, 14) * se
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (-reference.params[1] - half, -reference.params[1] + half), rel=1e-9
    )


def test_exact_mcnemar_is_statsmodels():
    for only_a in range(0, 30, 3):
        for only_b in (0, 1, 2, 7, 29, 30):
            reference = mcnemar([[0, only_a], [only_b, 0]], exact=True)
            statistic, pvalue, _ = exact_mcnemar(only_a, only_b)
            assert (statistic, pvalue) == (float(reference.statistic), float(reference.pvalue))


def test_class_p_values_are_exact_mcnemar_of_each_class():
    rng = np.random.default_rng(3)
    from tests.stats.builders import top1_table

    truth = "".join(rng.choice(list("abcd"), 120))
    answers = {
        name: "".join(np.where(rng.random(120) < accuracy, list(truth), "e"))
        for name, accuracy in (("A", 0.7), ("B", 0.6), ("C", 0.8), ("m", 0.65))
    }
    table = top1_table(answers, truth, models=("m",))
    classes = class_error_comparison(table, "m").table
    for row in classes.itertuples():
        assert row.pvalue == float(mcnemar([[0, row.humans_better], [row.model_better, 0]], exact=True).pvalue)


def reference_counts(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    draws = rng.integers(0, n_items, size=(n_boot, n_items), dtype=np.int16 if n_items <= 32767 else np.int32)
    return np.array([np.bincount(row, minlength=n_items) for row in draws], dtype=np.float32)


@pytest.mark.parametrize("n_items, n_boot", [(1, 3), (7, 5), (1500, 40), (70_000, 3)])
def test_resample_counts_are_the_draws_counted_and_reuse_changes_nothing(n_items, n_boot):
    first, reference = np.random.default_rng(11), np.random.default_rng(11)
    counts = resample_counts(n_items, n_boot, first)
    assert np.array_equal(counts, reference_counts(n_items, n_boot, reference))
    again = np.random.default_rng(11)
    assert np.array_equal(resample_counts(n_items, n_boot, again), counts)  # reused or drawn: the same
    assert again.random() == first.random() == reference.random()  # the generator moved on as if it had drawn
    with pytest.raises(ValueError):
        counts[0, 0] = 5  # shared between callers: read-only


def test_paired_bootstrap_of_many_pairs_is_each_pair_on_its_own(monkeypatch):
    """Single-rater pairs use the first draws of the seed: in one table or alone, the same interval."""
    import study_app.stats.paired as paired

    rng = np.random.default_rng(8)
    from tests.stats.builders import correctness_table

    patterns = {
        name: "".join(np.where(rng.random(40) < p, "1", "0"))
        for name, p in (("A", 0.6), ("B", 0.7), ("C", 0.8), ("m", 0.75), ("n", 0.5))
    }
    table = correctness_table(patterns, models=("m", "n"))
    pairs = [("A", "m"), ("B", "m"), ("C", "n"), ("m", "n"), ("A", "n")]
    monkeypatch.setattr(paired, "_PAIRS_PER_BLOCK", 2)
    together = paired_differences(table, [*pairs, (HUMANS, "m")], n_boot=300, seed=4)
    for i, pair in enumerate(pairs):
        alone = paired_differences(table, [pair], n_boot=300, seed=4).iloc[0]
        pd.testing.assert_series_equal(together.iloc[i], alone, check_names=False)


def test_gee_without_any_spread_over_images_tests_nothing():
    """Every image shows the same difference (here: A always right, the model always wrong):
    the robust standard error is 0, and a p-value of 0 from it would be an artefact."""
    from tests.stats.builders import correctness_table

    result = humans_vs_model_gee(correctness_table({"A": "1111", "m": "0000"}, models=("m",)), "m")
    assert result.difference == -1.0 and np.isnan(result.pvalue) and np.isnan(result.ci_low)
    assert "standard error is 0" in result.note

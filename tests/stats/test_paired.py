"""Paired tests on shared images: hand-worked 2x2 tables, statsmodels cross-checks, bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as t_distribution
from statsmodels.stats.contingency_tables import cochrans_q, mcnemar

from study_app.errors import StudyError
from study_app.stats import (
    HUMANS,
    cochran_q_test,
    default_pairs,
    exact_mcnemar,
    humans_vs_model_gee,
    mcnemar_test,
    paired_comparisons,
    paired_differences,
    rater_grid,
)
from study_app.stats.bootstrap import draw_dtype
from tests.stats.builders import correctness_table

# both right: img0, img1; only A right: img2; only m right: img3..img8; both wrong: img9.
A_VS_M = {"A": "1110000000", "m": "1101111110"}


def test_mcnemar_by_hand():
    result = mcnemar_test(correctness_table(A_VS_M, models=("m",)), "A", "m")
    assert (result.both_right, result.only_a_right, result.only_b_right, result.both_wrong) == (2, 1, 6, 1)
    assert (result.error_a, result.error_b, result.n_images) == (0.7, 0.2, 10)
    # X ~ Binomial(7, 1/2): P(X <= 1) = 8/128, so p = 16/128; mid-p = 2 (1/128 + 7/256) = 9/128.
    statistic, pvalue = result
    assert statistic == 1 and pvalue == pytest.approx(16 / 128)
    assert result.midp_pvalue == pytest.approx(9 / 128)
    assert "midp pvalue" in result.summary()


def test_mcnemar_agrees_with_statsmodels_and_midp_is_smaller():
    for b, c in [(0, 0), (0, 5), (3, 3), (7, 20), (40, 12)]:
        statistic, pvalue, midp = exact_mcnemar(b, c)
        reference = mcnemar([[5, b], [c, 5]], exact=True)
        assert (statistic, pvalue) == pytest.approx((reference.statistic, reference.pvalue))
        assert midp <= pvalue
    assert exact_mcnemar(3, 3)[2] == pytest.approx(1.0)


def test_mcnemar_uses_only_shared_images():
    table = correctness_table({"A": "1111", "m": "0000"}, models=("m",))
    table = table[~((table["rater"] == "A") & (table["image_id"] == "img0"))]
    assert mcnemar_test(table, "A", "m").n_images == 3
    with pytest.raises(StudyError, match="no rater 'Z'"):
        mcnemar_test(table, "A", "Z")


def test_paired_bootstrap_matches_a_plain_loop_and_is_zero_for_twins():
    rng = np.random.default_rng(1)
    patterns = {name: "".join(rng.choice(["0", "1"], size=30, p=[0.3, 0.7])) for name in ("A", "m")}
    table = correctness_table(patterns, models=("m",))
    fast = paired_differences(table, [("A", "m")], n_boot=400, seed=11).iloc[0]
    grid = rater_grid(table, correct="correct_topk")
    errors = grid.errors
    draws = np.random.default_rng(11).integers(0, 30, size=(400, 30), dtype=draw_dtype(30))
    slow = [errors[0, d].mean() - errors[1, d].mean() for d in draws]
    assert fast[["boot_low", "boot_high"]].tolist() == pytest.approx(list(np.quantile(slow, [0.025, 0.975])), abs=1e-6)
    assert fast["difference"] == pytest.approx(errors[0].mean() - errors[1].mean())
    twins = paired_differences(
        correctness_table({"A": patterns["A"], "B": patterns["A"]}), [("A", "B")], n_boot=200
    ).iloc[0]
    assert (twins["difference"], twins["boot_low"], twins["boot_high"]) == (0, 0, 0)


def test_pooled_humans_against_a_model():
    table = correctness_table(
        {"A": "1110000000", "B": "1111100000", "C": "1111111000", "m": "1101111110"}, models=("m",)
    )
    row = paired_differences(table, [(HUMANS, "m")], n_boot=500, seed=2).iloc[0]
    assert row["error_a"] == pytest.approx((0.7 + 0.5 + 0.3) / 3) and row["error_b"] == pytest.approx(0.2)
    assert row["boot_low"] <= row["difference"] <= row["boot_high"]


def test_gee_by_hand():
    # One annotator: the estimate is the difference of the error rates, 0.7 - 0.2, and the
    # robust standard error over images is sqrt(sum (d_i - mean d)^2) / n with d_i the
    # per-image difference (0,0,-1,1,1,1,1,1,1,0): sqrt(4.5) / 10. Every image has the same
    # design, so each holds 1/10 of the bread A, (A - A/10)^-1 = (10/9) A^-1, and the
    # bias-reduced standard error is that over 0.9; 10 images: t with 9 degrees of freedom.
    one = humans_vs_model_gee(correctness_table(A_VS_M, models=("m",)), "m")
    assert one.difference == pytest.approx(0.5)
    assert one.statistic == pytest.approx(0.5 / (math.sqrt(4.5) / 10 / 0.9))
    assert one.df == 9 and one.pvalue == pytest.approx(2 * t_distribution.sf(0.5 / (math.sqrt(4.5) / 10 / 0.9), 9))
    assert (one.n_images, one.n_annotators, one.n_observations) == (10, 1, 20)
    assert one.ci_low < 0.5 < one.ci_high
    # Several annotators: the mean of their error rates against the model's.
    table = correctness_table(
        {"A": "1110000000", "B": "1111100000", "C": "1111111111", "m": "1101111110"}, models=("m",)
    )
    several = humans_vs_model_gee(table, "m")
    assert several.difference == pytest.approx((0.7 + 0.5 + 0.0) / 3 - 0.2)  # C makes no error: still defined
    assert several.human_error == pytest.approx(0.4) and 0 < several.pvalue < 1
    flat = humans_vs_model_gee(correctness_table({"A": "1111", "m": "1111"}, models=("m",)), "m")
    assert math.isnan(flat.pvalue) and "do not vary" in flat.note


def test_cochran_q_by_hand():
    # rows = images; X, Y, Z right on 5, 3, 2 of 6; row totals 3,2,1,2,0,2.
    # Q = (k-1)(k sum C^2 - N^2) / (k N - sum R^2) = 2 (3*38 - 100) / (30 - 22) = 3.5.
    table = correctness_table({"X": "111101", "Y": "110100", "Z": "100001"}, models=("X", "Y", "Z"))
    result = cochran_q_test(table)
    assert result.statistic == pytest.approx(3.5) and result.df == 2
    assert result.pvalue == pytest.approx(math.exp(-1.75))  # chi-square(2) tail
    reference = cochrans_q(np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1]]))
    assert result.statistic == pytest.approx(reference.statistic)
    pairwise = result.pairwise.set_index(["rater_a", "rater_b"])
    # discordant (2, 0), (3, 0), (2, 1): p = 0.5, 0.25, 1; Holm: 1, 0.75, 1.
    assert pairwise["pvalue"].tolist() == pytest.approx([0.5, 0.25, 1.0])
    assert pairwise["pvalue_holm"].tolist() == pytest.approx([1.0, 0.75, 1.0])
    with pytest.raises(StudyError, match="at least two"):
        cochran_q_test(table, ["X"])


def test_paired_comparisons_table():
    table = correctness_table(
        {"A": "1110000000", "B": "1111100000", "m": "1101111110", "n": "1111111111"}, models=("m", "n")
    )
    assert default_pairs(table) == [
        ("A", "m"),
        ("B", "m"),
        (HUMANS, "m"),
        ("A", "n"),
        ("B", "n"),
        (HUMANS, "n"),
        ("m", "n"),
    ]
    comparisons = paired_comparisons(table, n_boot=300).set_index(["rater_a", "rater_b"])
    first = comparisons.loc[("A", "m")]
    assert (first["only_a_right"], first["only_b_right"], first["mcnemar_p"]) == (1, 6, pytest.approx(0.125))
    assert np.isnan(comparisons.loc[(HUMANS, "m"), "mcnemar_p"]) and 0 < comparisons.loc[(HUMANS, "m"), "gee_p"] < 1
    assert 0 < comparisons.loc[(HUMANS, "n"), "gee_p"] < 1  # a model without errors is fine
    assert comparisons["n_images"].eq(10).all()
    # every annotator saw every image: the GEE's estimate is the difference shown
    assert comparisons.loc[(HUMANS, "m"), "gee_difference"] == pytest.approx(
        comparisons.loc[(HUMANS, "m"), "difference"]
    )


def test_the_gee_p_goes_with_the_gees_own_estimate_when_annotators_saw_different_images():
    """h1 saw only the hard images, h3 only easy ones: the GEE weighs answers by image and its
    estimate parts from the plain difference of rates. The table shows the estimate its p
    belongs to, and leaves out a fit that did not converge."""
    rng = np.random.default_rng(181)
    hard = rng.random(30) < 0.4
    seen = {"h1": np.flatnonzero(hard), "h2": np.arange(30), "h3": rng.choice(np.flatnonzero(~hard), 5, replace=False)}
    answers = {}
    for rater, images in seen.items():
        answers[rater] = "".join(
            "." if j not in images else "0" if rng.random() < (0.7 if hard[j] else 0.1) else "1" for j in range(30)
        )
    answers["M"] = "".join("0" if rng.random() < (0.6 if hard[j] else 0.05) else "1" for j in range(30))
    table = correctness_table(answers, models=("M",))
    gee = humans_vs_model_gee(table, "M")
    assert gee.converged and abs(gee.estimate - gee.difference) > 0.05
    assert gee.ci_low < gee.estimate < gee.ci_high
    row = paired_comparisons(table, n_boot=200).set_index(["rater_a", "rater_b"]).loc[(HUMANS, "M")]
    assert (row["gee_difference"], row["gee_p"]) == pytest.approx((gee.estimate, gee.pvalue))
    # six images, h1 on two of them: statsmodels' algorithm stops at its iteration limit
    small = correctness_table({"h1": "..00..", "h2": "010001", "M": "100010"}, models=("M",))
    assert not humans_vs_model_gee(small, "M").converged
    left_out = paired_comparisons(small, n_boot=200).set_index(["rater_a", "rater_b"]).loc[(HUMANS, "M")]
    assert np.isnan(left_out["gee_p"]) and np.isnan(left_out["gee_difference"])


def test_a_pair_with_no_shared_image_has_no_mcnemar_p():
    table = correctness_table({"h1": "11..", "h2": "1010", "M": "..01"}, models=("M",))
    row = paired_comparisons(table, n_boot=100).set_index(["rater_a", "rater_b"]).loc[("h1", "M")]
    assert row["n_images"] == 0 and np.isnan(row["mcnemar_p"]) and np.isnan(row["mcnemar_midp"])

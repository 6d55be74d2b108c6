"""Error consistency and label agreement: hand-worked values and statsmodels cross-checks."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from study_app.errors import StudyError
from study_app.stats import error_consistency, error_consistency_table, fleiss_kappa_labels, label_kappa, label_kappa_table

from .builders import correctness_table, top1_table

# both right img0-3; only A right img4-5; only B right img6; both wrong img7-9.
PAIR = {"A": "1111110000", "B": "1111001000"}


def test_error_consistency_by_hand():
    result = error_consistency(correctness_table(PAIR), "A", "B")
    # p_a = 0.6, p_b = 0.5; c_obs = 7/10; c_exp = 0.3 + 0.2 = 0.5; kappa = 0.2 / 0.5.
    assert (result.accuracy_a, result.accuracy_b, result.n_images) == (0.6, 0.5, 10)
    assert result.observed_consistency == pytest.approx(0.7)
    assert result.expected_consistency == pytest.approx(0.5)
    kappa, pvalue = result
    assert kappa == pytest.approx(0.4)
    # c_obs can range over [|0.6 + 0.5 - 1|, 1 - |0.6 - 0.5|] = [0.1, 0.9] -> kappa in [-0.8, 0.8].
    assert (result.kappa_min, result.kappa_max) == pytest.approx((-0.8, 0.8))
    # 7 consistent of 10 against Binomial(10, 0.5): P(X >= 7) = 176/1024, doubled.
    assert pvalue == pytest.approx(2 * 176 / 1024)


def test_error_consistency_is_cohens_kappa_on_correctness():
    table = correctness_table(PAIR)
    reference = cohens_kappa(np.array([[4, 2], [1, 3]]))  # rows A right/wrong, columns B right/wrong
    assert error_consistency(table, "A", "B").kappa == pytest.approx(reference.kappa)
    rng = np.random.default_rng(5)
    for _ in range(5):
        a, b = rng.random(50) < 0.7, rng.random(50) < 0.6
        patterns = {"A": "".join("1" if x else "0" for x in a), "B": "".join("1" if x else "0" for x in b)}
        counts = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
        assert error_consistency(correctness_table(patterns), "A", "B").kappa == pytest.approx(cohens_kappa(counts).kappa)


def test_identical_and_perfect_raters():
    table = correctness_table({"A": "1101", "B": "1101", "C": "1111", "D": "1111"})
    assert error_consistency(table, "A", "A").kappa == 1
    assert error_consistency(table, "A", "B").kappa == 1
    assert error_consistency(table, "C", "D").kappa == 1  # c_obs = 1 (the toolbox's convention)


def test_table_has_every_pair_with_its_kinds():
    table = correctness_table({"A": "1101", "B": "1001", "m": "1111", "n": "0111"}, models=("m", "n"))
    pairs = error_consistency_table(table)
    assert len(pairs) == 6
    assert pairs["pair"].tolist() == ["human-human", "human-model", "human-model", "human-model", "human-model", "model-model"]
    row = pairs[(pairs["rater_a"] == "A") & (pairs["rater_b"] == "B")].iloc[0]
    assert row["kappa"] == pytest.approx(error_consistency(table, "A", "B").kappa)


def test_label_kappa_by_hand():
    table = top1_table({"A": "aabbc", "B": "abbbc"}, truth="aaaaa")
    # p_o = 4/5; A's marginals (.4, .4, .2), B's (.2, .6, .2): p_e = .36; kappa = .44 / .64.
    result = label_kappa(table, "A", "B")
    assert result.kappa == pytest.approx(0.6875)
    assert (result.n_images, result.n_categories) == (5, 3)
    assert result.ci_low < result.kappa < result.ci_high
    both_silent = label_kappa(top1_table({"A": "a-b", "B": "a-b"}, truth="aaa"), "A", "B")
    assert both_silent.kappa == pytest.approx(1.0) and both_silent.n_categories == 3
    assert len(label_kappa_table(top1_table({"A": "ab", "B": "ab", "C": "ba"}, truth="aa"))) == 3


def test_label_kappa_interval_stays_in_range_and_is_absent_without_spread():
    # [[4, 1], [0, 1]]: kappa = 4/7 with a standard error whose Wald interval reaches 1.26
    near_one = label_kappa(top1_table({"A": "aaaaab", "B": "aaaabb"}, truth="aaaaaa"), "A", "B")
    assert near_one.kappa == pytest.approx(4 / 7) and near_one.ci_high == 1.0 and -1 <= near_one.ci_low < near_one.kappa
    # B gives one label throughout: kappa 0 with a vanishing variance, which is no certainty
    constant = label_kappa(top1_table({"A": "aaaaaaaaab", "B": "aaaaaaaaaa"}, truth="aaaaaaaaaa"), "A", "B")
    assert constant.kappa == 0 and np.isnan(constant.ci_low) and np.isnan(constant.ci_high)


def test_fleiss_kappa_by_hand_and_against_statsmodels():
    table = top1_table({"A": "aaba", "B": "aabb", "C": "abbc"}, truth="aaaa")
    result = fleiss_kappa_labels(table)
    # P_i = 1, 1/3, 1, 0 -> P = 7/12; p_j = 6/12, 5/12, 1/12 -> P_e = 62/144; kappa = (7/12 - 62/144) / (82/144).
    assert result.kappa == pytest.approx((7 / 12 - 62 / 144) / (82 / 144))
    assert result.kappa == pytest.approx(fleiss_kappa(np.array([[3, 0, 0], [2, 1, 0], [0, 3, 0], [1, 1, 1]])))
    assert (result.n_images, result.n_categories) == (4, 3)
    with pytest.raises(StudyError, match="three or more"):
        fleiss_kappa_labels(table, ["A", "B"])

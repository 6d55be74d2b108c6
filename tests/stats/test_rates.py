"""Error rates and their intervals: hand-worked values, statsmodels cross-checks, the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from study_app.errors import StudyError
from study_app.stats import HUMANS_MEAN, error_rates, rater_grid
from study_app.stats.bootstrap import draw_dtype, group_rate_replicates, percentile_interval, resample_counts
from study_app.stats.raters import concat_tables
from tests.stats.builders import correctness_table


def rate_row(table, rater, phase=None):
    rows = table[table["rater"] == rater]
    if phase is not None:
        rows = rows[rows["phase"] == phase]
    assert len(rows) == 1
    return rows.iloc[0]


def test_single_rater_intervals_by_hand_and_against_statsmodels():
    # 2 errors in 10: Wilson centre (0.2 + z^2/20) / (1 + z^2/10) = 0.28327, half-width
    # z / (1 + z^2/10) * sqrt(0.2 * 0.8 / 10 + z^2/400) = 0.22658 -> [0.0567, 0.5098];
    # Clopper-Pearson: Beta(0.025; 2, 9) = 0.0252, Beta(0.975; 3, 8) = 0.5561.
    table = correctness_table({"A": "1101111011", "m": "1111111111"}, models=("m",))
    rates = error_rates(table, n_boot=200)
    a = rate_row(rates, "A")
    assert (a["n"], a["errors"], a["error_rate"]) == (10, 2, 0.2)
    assert a[["wilson_low", "wilson_high"]].tolist() == pytest.approx([0.0567, 0.5098], abs=1e-4)
    assert a[["cp_low", "cp_high"]].tolist() == pytest.approx([0.0252, 0.5561], abs=1e-4)
    for method, columns in (("wilson", ["wilson_low", "wilson_high"]), ("beta", ["cp_low", "cp_high"])):
        assert a[columns].tolist() == pytest.approx(list(proportion_confint(2, 10, 0.05, method)))
    m = rate_row(rates, "m")
    assert m["error_rate"] == 0 and m["cp_low"] == 0 and m["cp_high"] == pytest.approx(1 - 0.025 ** (1 / 10))
    assert np.isnan(a["boot_low"]) and m["kind"] == "model"


def test_pooled_humans_are_the_mean_of_annotators_not_of_trials():
    table = correctness_table(
        {"A": "1101111011", "B": "0101010101", "C": "1111111011", "m": "1111111111"}, models=("m",)
    )
    table = table[~((table["rater"] == "C") & table["image_id"].isin([f"img{i}" for i in range(5)]))]  # C saw 5 images
    rates = error_rates(table, n_boot=500, seed=4)
    pooled = rate_row(rates, HUMANS_MEAN)
    assert rate_row(rates, "C")["error_rate"] == pytest.approx(0.2)
    assert pooled["error_rate"] == pytest.approx((0.2 + 0.5 + 0.2) / 3)  # trials pooled would give 8/25
    assert (pooled["n"], pooled["errors"], pooled["n_raters"]) == (25, 8, 3)
    assert pooled["boot_low"] <= pooled["error_rate"] <= pooled["boot_high"]
    assert np.isnan(pooled["wilson_low"])


def test_rates_per_phase_and_overall():
    table = concat_tables(
        correctness_table({"A": "1100", "m": "1111"}, models=("m",)),
        correctness_table({"A": "0000", "m": "1110"}, models=("m",), phase="late"),
    )
    rates = error_rates(table, n_boot=100)
    assert sorted(rates["phase"].unique()) == ["(all)", "late", "test"]
    assert rate_row(rates, "A", "(all)")["error_rate"] == pytest.approx(6 / 8)
    assert rate_row(rates, "A", "test")["error_rate"] == 0.5
    assert rate_row(rates, "m", "late")["error_rate"] == 0.25
    assert rate_row(rates, HUMANS_MEAN, "(all)")["n"] == 8


def test_a_model_prediction_shown_in_two_phases_counts_once_over_all_phases():
    """Counterbalanced designs show an image in two phases; the model's one prediction is
    copied into each, and pooled over phases must still count once (10 images, 3 wrong)."""
    from study_app.stats import raters_from_guesses, raters_from_predictions

    images = [f"i{j}" for j in range(10)]
    truth = dict.fromkeys(images, ("a",))
    people = pd.DataFrame(
        [
            dict(rater=h, kind="human", image_id=i, phase=p, rank=1, label_id="a")
            for h in ("h1", "h2")
            for p in "AB"
            for i in images
        ]
    )
    model = pd.DataFrame(
        {"model": "M", "image_id": images, "rank": 1, "label_id": ["b" if j % 4 == 0 else "a" for j in range(10)]}
    )
    table = concat_tables(
        raters_from_guesses(people, truth, k=1),
        raters_from_predictions(model, truth, k=1, phase_of=dict.fromkeys(images, ("A", "B"))),
    )
    rates = error_rates(table)
    overall, in_a = rate_row(rates, "M", "(all)"), rate_row(rates, "M", "A")
    assert (overall["n"], overall["errors"]) == (10, 3) == (in_a["n"], in_a["errors"])
    low, high = proportion_confint(3, 10, method="wilson")
    assert (overall["wilson_low"], overall["wilson_high"]) == pytest.approx((low, high))
    assert rate_row(rates, "h1", "(all)")["n"] == 20  # an annotator's two answers are two answers


def test_two_way_bootstrap_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    seen = rng.random((4, 12)) < 0.8
    errors = (seen & (rng.random((4, 12)) < 0.3)).astype(np.float32)
    n_boot = 300
    fast = group_rate_replicates(
        errors, seen, resample_counts(12, n_boot, np.random.default_rng(9)), np.random.default_rng(5)
    )
    draw_images = np.random.default_rng(9).integers(0, 12, size=(n_boot, 12), dtype=draw_dtype(12))
    draw_raters = np.random.default_rng(5).integers(0, 4, size=(n_boot, 4), dtype=draw_dtype(4))
    slow = []
    for images, raters in zip(draw_images, draw_raters):
        rates = [errors[r, images].sum() / seen[r, images].sum() if seen[r, images].sum() else np.nan for r in raters]
        slow.append(np.nanmean(rates) if not np.all(np.isnan(rates)) else np.nan)
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
    low, high = percentile_interval(fast)
    assert low <= np.nanmean(fast) <= high


def test_grid_refuses_a_rater_twice_on_one_image():
    twice = concat_tables(correctness_table({"A": "10"}), correctness_table({"A": "10"}, phase="other"))
    with pytest.raises(StudyError, match="several rows for image"):
        rater_grid(twice)

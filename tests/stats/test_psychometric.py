"""Psychometric fits: the formulas by hand, the optimiser against scipy and a brute-force grid,
interval coverage and the test's size by simulation, and degenerate raters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from study_app.errors import StudyError
from study_app.stats.psychometric import (
    FIT_COLUMNS,
    FitOptions,
    PsychometricError,
    compare_thresholds,
    fit_psychometric,
    fit_raters,
    level_counts,
    psychometric_curve,
    rater_stream,
    threshold_difference,
    threshold_level,
)

GUESS = 1 / 16
NOISE = np.array([0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9])  # Geirhos-style noise widths: accuracy falls
TRUE = {"alpha": 0.3, "beta": 2.5, "guess": GUESS, "lapse": 0.02, "direction": "decreasing"}


def simulate(rng: np.random.Generator, levels=NOISE, trials: int = 50, **parameters) -> np.ndarray:
    psi = psychometric_curve(levels, **{**TRUE, **parameters})
    return rng.binomial(np.full(len(levels), trials), psi)


# --- the formulas, by hand ---------------------------------------------------------------


def test_weibull_curve_equals_the_formula_in_both_directions():
    x = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    alpha, beta, guess, lapse = 1.5, 2.0, 0.25, 0.04
    cdf = 1 - np.exp(-((x / alpha) ** beta))
    rising = psychometric_curve(x, alpha=alpha, beta=beta, guess=guess, lapse=lapse)
    falling = psychometric_curve(x, alpha=alpha, beta=beta, guess=guess, lapse=lapse, direction="decreasing")
    np.testing.assert_allclose(rising, guess + (1 - guess - lapse) * cdf, rtol=1e-12)
    np.testing.assert_allclose(falling, guess + (1 - guess - lapse) * (1 - cdf), rtol=1e-12)
    assert rising[0] == pytest.approx(0.25) and falling[0] == pytest.approx(0.96)  # level 0: F = 0
    assert psychometric_curve(1.5, alpha=1.5, beta=3.0, guess=0.5) == pytest.approx(0.5 + 0.5 * (1 - math.exp(-1)))


def test_logistic_curve_equals_the_formula_in_both_directions():
    x = np.array([-3.0, -1.0, 0.0, 0.7, 40.0])
    alpha, beta, guess, lapse = 0.2, 0.8, 0.1, 0.0
    cdf = 1 / (1 + np.exp(-(x - alpha) / beta))
    rising = psychometric_curve(x, alpha=alpha, beta=beta, guess=guess, lapse=lapse, family="logistic")
    falling = psychometric_curve(x, alpha=alpha, beta=beta, guess=guess, family="logistic", direction="decreasing")
    np.testing.assert_allclose(rising, guess + (1 - guess) * cdf, rtol=1e-12)
    np.testing.assert_allclose(falling, guess + (1 - guess) * (1 - cdf), rtol=1e-12)


@pytest.mark.parametrize("direction", ["increasing", "decreasing"])
def test_weibull_threshold_is_the_closed_form(direction):
    # guess 0.5, lapse 0, accuracy 0.75: F = 1/2 at the threshold, so x = alpha * ln(2) ** (1 / beta)
    level = threshold_level(0.75, alpha=2.0, beta=1.0, guess=0.5, direction=direction)
    assert level == pytest.approx(2 * math.log(2), rel=1e-12)
    # guess 0.25, lapse 0.05, accuracy 0.6625: p = 0.4125 / 0.7 ... F = p rising, 1 - p falling
    p = (0.6625 - 0.25) / 0.7
    target = p if direction == "increasing" else 1 - p
    level = threshold_level(0.6625, alpha=3.0, beta=2.0, guess=0.25, lapse=0.05, direction=direction)
    assert level == pytest.approx(3.0 * (-math.log(1 - target)) ** 0.5, rel=1e-12)
    curve = psychometric_curve(level, alpha=3.0, beta=2.0, guess=0.25, lapse=0.05, direction=direction)
    assert curve == pytest.approx(0.6625, rel=1e-12)


@pytest.mark.parametrize("direction, sign", [("increasing", 1), ("decreasing", -1)])
def test_logistic_threshold_is_the_closed_form(direction, sign):
    # guess 0.25, lapse 0.05, accuracy 0.775: p = 0.525 / 0.7 = 0.75, x = alpha +- beta * ln 3
    level = threshold_level(0.775, alpha=1.0, beta=0.5, guess=0.25, lapse=0.05, family="logistic", direction=direction)
    assert level == pytest.approx(1.0 + sign * 0.5 * math.log(3), rel=1e-12)


def test_a_threshold_the_curve_never_reaches_is_infinite_not_a_number():
    # the curve tops out at 1 - lapse = 0.9 < 0.95
    assert threshold_level(0.95, alpha=1, beta=2, guess=0.5, lapse=0.1) == math.inf
    assert threshold_level(0.95, alpha=1, beta=2, guess=0.5, lapse=0.1, direction="decreasing") == -math.inf


# --- the optimiser against trusted ones --------------------------------------------------


def negative_loglik(params, levels, n, k, family, direction, lapse=None):
    alpha, beta = params[0], params[1]
    lapse_rate = params[2] if lapse is None else lapse
    psi = psychometric_curve(
        levels, alpha=alpha, beta=beta, guess=GUESS, lapse=lapse_rate, family=family, direction=direction
    )
    psi = np.clip(psi, 1e-12, 1 - 1e-12)
    return -float(np.sum(k * np.log(psi) + (n - k) * np.log1p(-psi)))


BOUNDS = {"weibull": [(1e-4, 20.0), (0.3, 50.0), (0.0, 0.1)], "logistic": [(-2.0, 3.0), (1e-4, 5.0), (0.0, 0.1)]}


def bounded_negative_loglik(params, levels, n, k, family):
    """The negative log-likelihood inside the bounds, a wall outside (for Nelder-Mead)."""
    if not all(low <= v <= high for v, (low, high) in zip(params, BOUNDS[family])):
        return 1e10
    return negative_loglik(params, levels, n, k, family, "decreasing")


@pytest.mark.parametrize("family", ["weibull", "logistic"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_maximum_likelihood_matches_multistart_scipy(family, seed):
    """scipy.optimize (Nelder-Mead, then L-BFGS-B, from 12 starts) finds the same maximum, no higher."""
    rng = np.random.default_rng(seed)
    n = np.full(len(NOISE), 40)
    k = simulate(rng, trials=40)
    fit = fit_psychometric(NOISE, n, k, FitOptions(GUESS, family=family, direction="decreasing", n_boot=0))
    assert fit.converged
    best = math.inf
    for alpha in (0.1, 0.3, 0.6):
        for beta in (1.0, 4.0) if family == "weibull" else (0.03, 0.15):
            for lapse in (0.01, 0.08):
                simplex = minimize(
                    bounded_negative_loglik,
                    [alpha, beta, lapse],
                    args=(NOISE, n, k, family),
                    method="Nelder-Mead",
                    options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
                )
                polished = minimize(
                    negative_loglik,
                    simplex.x,
                    args=(NOISE, n, k, family, "decreasing"),
                    method="L-BFGS-B",
                    bounds=BOUNDS[family],
                )
                best = min(best, simplex.fun, polished.fun)
    assert -fit.loglik == pytest.approx(best, abs=1e-4)
    assert fit.loglik == pytest.approx(
        -negative_loglik([fit.alpha, fit.beta, fit.lapse], NOISE, n, k, family, "decreasing"), abs=1e-9
    )


def test_maximum_likelihood_matches_a_brute_force_grid():
    """A fine grid over (alpha, beta) at a fixed lapse: no grid point beats the fit, the best is close to it."""
    rng = np.random.default_rng(7)
    n = np.full(len(NOISE), 60)
    k = simulate(rng, trials=60)
    fit = fit_psychometric(NOISE, n, k, FitOptions(GUESS, direction="decreasing", lapse=0.02, n_boot=0))
    alphas, betas = np.linspace(0.2, 0.45, 251), np.linspace(1.0, 6.0, 251)
    grid = np.array(
        [[negative_loglik([a, b], NOISE, n, k, "weibull", "decreasing", lapse=0.02) for b in betas] for a in alphas]
    )
    row, column = np.unravel_index(grid.argmin(), grid.shape)
    assert -fit.loglik <= grid.min() + 1e-9
    assert fit.alpha == pytest.approx(alphas[row], abs=0.002)
    assert fit.beta == pytest.approx(betas[column], abs=0.03)
    assert fit.lapse == 0.02


@pytest.mark.parametrize("family, alpha, beta", [("weibull", 0.3, 2.5), ("logistic", 0.3, 0.08)])
@pytest.mark.parametrize("direction", ["increasing", "decreasing"])
def test_many_trials_recover_the_true_curve(family, alpha, beta, direction):
    """With the expected counts of 100,000 trials per level the estimate is the truth."""
    levels = np.linspace(0.05, 0.9, 8)
    n = np.full(8, 100_000)
    psi = psychometric_curve(levels, alpha=alpha, beta=beta, guess=0.25, lapse=0.03, family=family, direction=direction)
    fit = fit_psychometric(levels, n, np.round(n * psi), FitOptions(0.25, family=family, direction=direction, n_boot=0))
    assert (fit.alpha, fit.beta, fit.lapse) == pytest.approx((alpha, beta, 0.03), rel=2e-3)
    truth = threshold_level(0.625, alpha=alpha, beta=beta, guess=0.25, lapse=0.03, family=family, direction=direction)
    assert fit.threshold == pytest.approx(truth, rel=1e-3) and fit.converged and fit.note == ""


# --- intervals and the test, by simulation -----------------------------------------------


def test_threshold_interval_covers_the_truth_in_at_least_90_of_100_data_sets():
    levels = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.9])
    accuracy = (1 + GUESS) / 2
    truth = threshold_level(accuracy, **TRUE)
    rng = np.random.default_rng(2024)
    covered = 0
    for replicate in range(100):
        k = simulate(rng, levels=levels, trials=50)
        fit = fit_psychometric(
            levels, np.full(8, 50), k, FitOptions(GUESS, direction="decreasing", n_boot=200, seed=replicate)
        )
        low, high = fit.threshold_interval
        covered += low <= truth <= high
    assert covered >= 90, covered


def test_threshold_difference_keeps_its_size_under_the_null():
    """Model and 8 annotators share one curve: the test rejects at 5% in 2%-9% of 200 data sets."""
    rng = np.random.default_rng(11)
    rejections = 0
    for replicate in range(200):
        model = simulate(rng, trials=50)
        humans = np.stack([simulate(rng, trials=20) for _ in range(8)])
        result = compare_thresholds(
            NOISE,
            np.full(8, 50),
            model,
            np.full((8, 8), 20),
            humans,
            FitOptions(GUESS, direction="decreasing", n_boot=200, seed=replicate),
        )
        rejections += result.pvalue < 0.05
    assert 4 <= rejections <= 18, rejections


def test_threshold_difference_finds_a_real_difference():
    rng = np.random.default_rng(5)
    model = simulate(rng, trials=100, alpha=0.15)
    humans = np.stack([simulate(rng, trials=30) for _ in range(6)])
    result = compare_thresholds(
        NOISE,
        np.full(8, 100),
        model,
        np.full((6, 8), 30),
        humans,
        FitOptions(GUESS, direction="decreasing", n_boot=500),
    )
    statistic, pvalue = result
    assert pvalue < 0.01 and statistic < 0
    assert result.interval[1] < 0
    assert statistic == pytest.approx(result.model_threshold - result.humans_threshold)
    assert "Threshold difference" in result.summary()


# --- degenerate raters -------------------------------------------------------------------


def assert_no_numbers(fit, words: str):
    assert words in fit.note
    assert math.isnan(fit.threshold) and all(math.isnan(v) for v in fit.threshold_interval)


def test_all_correct_at_every_level_says_so_instead_of_numbers():
    n = np.full(len(NOISE), 50)
    fit = fit_psychometric(NOISE, n, n, FitOptions(GUESS, direction="decreasing", n_boot=50))
    assert_no_numbers(fit, "no threshold: every trial is correct at every level, accuracy never falls below 0.531")
    assert math.isnan(fit.alpha) and math.isnan(fit.beta) and not fit.converged


def test_all_at_chance_says_so():
    rng = np.random.default_rng(3)
    n = np.full(len(NOISE), 50)
    fit = fit_psychometric(NOISE, n, rng.binomial(n, GUESS), FitOptions(GUESS, direction="decreasing", n_boot=50))
    assert_no_numbers(fit, "consistent with chance (0.0625) at every level")


def test_one_level_and_no_trials_say_so():
    assert_no_numbers(
        fit_psychometric([0.1], [20], [12], FitOptions(GUESS, n_boot=10)), "only one level with trials (0.1)"
    )
    assert_no_numbers(fit_psychometric([0.1, 0.2], [0, 0], [0, 0], FitOptions(GUESS, n_boot=10)), "no trials")


def test_a_level_without_trials_is_ignored_and_named():
    rng = np.random.default_rng(4)
    n = np.full(len(NOISE), 50)
    k = simulate(rng)
    with_gap = fit_psychometric(
        NOISE,
        np.where(NOISE == 0.2, 0, n),
        np.where(NOISE == 0.2, 0, k),
        FitOptions(GUESS, direction="decreasing", n_boot=0),
    )
    without = fit_psychometric(
        NOISE[NOISE != 0.2], n[NOISE != 0.2], k[NOISE != 0.2], FitOptions(GUESS, direction="decreasing", n_boot=0)
    )
    assert "levels without trials ignored: 0.2" in with_gap.note
    assert with_gap.n_levels == 7 and with_gap.threshold == pytest.approx(without.threshold, rel=1e-9)


def test_a_non_monotone_mess_is_flagged_as_a_poor_fit():
    n = np.full(len(NOISE), 100)
    k = np.array([95, 20, 90, 15, 95, 20, 90, 15])
    fit = fit_psychometric(NOISE, n, k, FitOptions(GUESS, direction="decreasing", n_boot=100))
    assert "poor fit" in fit.note and fit.gof_pvalue < 0.05


def test_a_flat_accuracy_that_cannot_place_the_curve_reports_no_threshold():
    """A pilot's flat, noisy accuracy (as simulate gives it) leaves the parameters unidentified:
    the threshold read off them was a number with an interval that did not contain it."""
    fit = fit_psychometric(
        np.array([0, 0.1, 0.35, 0.6]),
        np.array([15, 15, 15, 15]),
        np.array([11, 14, 14, 13]),
        FitOptions(1 / 1000, family="weibull", direction="increasing", threshold_accuracy=0.5, n_boot=200, seed=1),
    )
    assert not fit.converged
    assert math.isnan(fit.threshold) and all(math.isnan(v) for v in fit.threshold_interval)
    assert fit.note.startswith("no threshold: the curve's location went to its search limit")


def test_a_threshold_beyond_the_tested_levels_is_not_extrapolated():
    # accuracy only starts to fall at the last levels: the fitted 0.53 crossing lies beyond 0.9
    rng = np.random.default_rng(8)
    k = simulate(rng, trials=50, alpha=3.0, beta=3.0)
    fit = fit_psychometric(NOISE, np.full(8, 50), k, FitOptions(GUESS, direction="decreasing", n_boot=50))
    assert_no_numbers(fit, "no threshold: fitted accuracy stays above 0.531 over the tested range [0, 0.9]")
    assert not math.isnan(fit.alpha)  # the curve itself is still reported


def test_bad_input_is_a_study_error():
    with pytest.raises(PsychometricError, match="Weibull is defined for levels >= 0"):
        fit_psychometric([-1, 0, 1], [10, 10, 10], [5, 5, 5], FitOptions(0.5))
    with pytest.raises(StudyError, match="threshold accuracy 0.4 must lie between the guess rate 0.5 and 1"):
        fit_psychometric([0, 1], [10, 10], [5, 5], FitOptions(0.5, threshold_accuracy=0.4))
    with pytest.raises(StudyError, match="0 <= correct <= trials"):
        fit_psychometric([0, 1], [10, 10], [11, 5], FitOptions(0.5))
    with pytest.raises(StudyError, match="unknown psychometric family 'probit'"):
        fit_psychometric([0, 1], [10, 10], [5, 5], FitOptions(0.5, family="probit"))
    with pytest.raises(PsychometricError, match="beta .* must be > 0"):
        psychometric_curve([0.5], alpha=1.0, beta=-2.0, guess=0.5)
    with pytest.raises(PsychometricError, match="n_boot -1"):
        fit_psychometric([0, 1], [10, 10], [5, 5], FitOptions(0.5, n_boot=-1))


def test_fixed_lapse_and_summary():
    rng = np.random.default_rng(9)
    fit = fit_psychometric(
        NOISE, np.full(8, 50), simulate(rng), FitOptions(GUESS, direction="decreasing", lapse=0.0, n_boot=100)
    )
    assert fit.lapse == 0.0 and fit.n_boot == 100 and fit.n_trials == 400
    text = fit.summary()
    assert text.startswith("Psychometric function (maximum likelihood)")
    assert "threshold interval" in text and f"{fit.threshold:.4g}" in text


# --- the rater table ---------------------------------------------------------------------


def rater_table_with_conditions(seed: int = 0) -> pd.DataFrame:
    """Annotators a1, a2 and model m on noise levels written as strings ("0.00" and "0" are one level)."""
    rng = np.random.default_rng(seed)
    rows = []
    for rater, kind, trials in (("a1", "human", 30), ("a2", "human", 30), ("m", "model", 60), ("perfect", "model", 10)):
        psi = psychometric_curve(NOISE, **TRUE)
        for level, p in zip(NOISE, psi):
            written = "0.00" if level == 0 and rater == "a2" else f"{level:g}"
            hits = np.ones(trials, bool) if rater == "perfect" else rng.random(trials) < p
            rows += [{"rater": rater, "kind": kind, "condition": written, "correct_top1": hit} for hit in hits]
    return pd.DataFrame(rows)


def test_fit_raters_gives_one_tidy_row_per_rater_equal_to_the_single_fit():
    raters = rater_table_with_conditions()
    table = fit_raters(raters, FitOptions(GUESS, direction="decreasing", n_boot=100, seed=3))
    assert list(table.columns) == list(FIT_COLUMNS)
    assert list(table["rater"]) == ["a1", "a2", "m", "perfect"]
    counts = level_counts(raters)
    assert len(counts[counts["rater"] == "a2"]) == 8  # "0.00" is level 0
    for rater in ("a1", "m"):
        mine = counts[counts["rater"] == rater]
        single = fit_psychometric(
            mine["level"], mine["n"], mine["correct"], FitOptions(GUESS, direction="decreasing", n_boot=100)
        )
        row = table[table["rater"] == rater].iloc[0]
        assert row["threshold"] == pytest.approx(single.threshold, rel=1e-9)
        assert row["alpha"] == pytest.approx(single.alpha, rel=1e-9)
    perfect = table[table["rater"] == "perfect"].iloc[0]
    assert math.isnan(perfect["threshold"]) and "every trial is correct" in perfect["note"]
    # a rater's interval does not depend on the other raters in the table
    alone = fit_raters(raters[raters["rater"] == "m"], FitOptions(GUESS, direction="decreasing", n_boot=100, seed=3))
    assert alone.iloc[0]["threshold_low"] == table[table["rater"] == "m"].iloc[0]["threshold_low"]
    assert isinstance(rater_stream(3, "m"), np.random.Generator)


def test_fit_raters_refuses_conditions_that_are_not_numbers():
    raters = rater_table_with_conditions()
    with pytest.raises(PsychometricError, match="not numbers: 'c05'"):
        fit_raters(raters.assign(condition=raters["condition"].replace("0.1", "c05")), FitOptions(GUESS))
    with pytest.raises(PsychometricError, match="no conditions"):
        fit_raters(raters.assign(condition=""), FitOptions(GUESS))


def test_threshold_difference_on_a_rater_table():
    raters = rater_table_with_conditions(seed=1)
    result = threshold_difference(raters, "m", FitOptions(GUESS, direction="decreasing", n_boot=200))
    assert result.model == "m" and result.n_annotators == 2
    assert 0 <= result.pvalue <= 1 and result.interval[0] <= result.statistic <= result.interval[1]
    none = threshold_difference(raters, "perfect", FitOptions(GUESS, direction="decreasing", n_boot=50))
    assert math.isnan(none.pvalue) and none.note.startswith("no test: model: no threshold")
    with pytest.raises(PsychometricError, match="no model 'a1'"):
        threshold_difference(raters, "a1", FitOptions(GUESS))

"""Psychometric fits benchmark: every rater of a degradation experiment, with bootstrap thresholds.

Workload (the size issue #19 names): 100 annotators x 10,000 trials over 8 noise levels
(1,250 trials per level) plus 3 models with 10,000 trials each, a rater table of about
1,030,000 rows. Steps, each the fastest of ``--repeat`` runs:

1. ``fit_raters`` without bootstrap (counts per level from the table, 103 ML fits);
2. ``fit_raters`` with 200 and with 1,000 parametric bootstrap replicates per rater;
3. ``threshold_difference`` of each model against the annotators (1,000 replicates).

Target: fits with 200 replicates and the three tests together under 5 s. Baseline, in
the same run: one ``scipy.optimize.minimize`` (L-BFGS-B, from the best of 12 starts)
per fit, measured on a share of the fits and scaled to all the fits that step makes.
The benchmark also measures the threshold test's type-I error (simulated null) and the
interval's coverage (simulated Weibull), the numbers the tests check with fewer runs.

Run: ``python -m benchmarks.bench_psychometric`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from study_app.stats.psychometric import (
    FitOptions,
    compare_thresholds,
    fit_psychometric,
    fit_raters,
    level_counts,
    psychometric_curve,
    threshold_difference,
    threshold_level,
)

from .common import Result, run_main

LEVELS = np.array([0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9])
GUESS = 1 / 16
CURVE = {"beta": 2.5, "guess": GUESS, "lapse": 0.02, "direction": "decreasing"}
MODELS = {"model-a": 0.15, "model-b": 0.3, "model-c": 0.6}  # Weibull alpha: the noise width they tolerate


@dataclass(frozen=True)
class Workload:
    annotators: int = 100
    trials: int = 10_000
    repeat: int = 3
    baseline_fits: int = 40
    null_runs: int = 500
    coverage_runs: int = 200


QUICK = Workload(annotators=10, trials=800, repeat=1, baseline_fits=5, null_runs=20, coverage_runs=20)


def make_raters(size: Workload, seed: int = 0) -> pd.DataFrame:
    """The rater table's columns a fit needs: rater, kind, condition (as written), correct_top1."""
    rng = np.random.default_rng(seed)
    alphas = {f"a{i:03d}": float(0.3 * np.exp(rng.normal(0, 0.15))) for i in range(size.annotators)}
    frames = []
    for rater, alpha in [*alphas.items(), *MODELS.items()]:
        level = rng.integers(0, len(LEVELS), size.trials)
        psi = psychometric_curve(LEVELS, alpha=alpha, **CURVE)
        frames.append(
            pd.DataFrame(
                {
                    "rater": rater,
                    "kind": "model" if rater in MODELS else "human",
                    "condition": pd.Categorical([f"{v:g}" for v in LEVELS])[level],
                    "correct_top1": rng.random(size.trials) < psi[level],
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table.astype({"rater": "category", "kind": "category"})  # as in the rater table


def fastest(step: Callable[[], object], repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best


def scipy_fit_seconds(counts: pd.DataFrame, fits: int) -> float:
    """Seconds per ML fit the straightforward way: scipy.optimize from the best of 12 starts."""
    rows = counts[counts["rater"].isin(counts["rater"].unique()[:fits])]
    starts = [(a, b, lapse) for a in (0.1, 0.3, 0.6) for b in (1.0, 4.0) for lapse in (0.01, 0.08)]
    started = time.perf_counter()
    for _, mine in rows.groupby("rater", observed=True):
        data = (mine["n"].to_numpy(float), mine["correct"].to_numpy(float))
        best = min(starts, key=lambda start: _negative_loglik(np.array(start), *data))
        minimize(_negative_loglik, best, args=data, method="L-BFGS-B", bounds=[(1e-3, 20), (0.3, 50), (0, 0.1)])
    return (time.perf_counter() - started) / rows["rater"].nunique()


def _negative_loglik(params: np.ndarray, n: np.ndarray, k: np.ndarray) -> float:
    alpha, beta, lapse = params
    psi = np.clip(GUESS + (1 - GUESS - lapse) * np.exp(-((LEVELS / alpha) ** beta)), 1e-12, 1 - 1e-12)
    return -float(np.sum(k * np.log(psi) + (n - k) * np.log1p(-psi)))


def null_rejections(runs: int) -> float:
    """Share of simulated nulls (model and 8 annotators on one curve) with p < 0.05."""
    rng = np.random.default_rng(11)
    psi = psychometric_curve(LEVELS, alpha=0.3, **CURVE)
    rejected = 0
    for run in range(runs):
        model, humans = rng.binomial(50, psi), rng.binomial(20, psi, size=(8, len(LEVELS)))
        result = compare_thresholds(
            LEVELS,
            np.full(len(LEVELS), 50),
            model,
            np.full(humans.shape, 20),
            humans,
            FitOptions(GUESS, direction="decreasing", n_boot=200, seed=run),
        )
        rejected += result.pvalue < 0.05
    return rejected / runs


def coverage(runs: int) -> float:
    """Share of simulated Weibull data sets (8 levels x 50 trials) whose 95% interval covers the threshold."""
    rng = np.random.default_rng(2024)
    levels = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.9])
    psi = psychometric_curve(levels, alpha=0.3, **CURVE)
    truth = threshold_level((1 + GUESS) / 2, alpha=0.3, **CURVE)
    covered = 0
    for run in range(runs):
        fit = fit_psychometric(
            levels,
            np.full(8, 50),
            rng.binomial(50, psi),
            FitOptions(GUESS, direction="decreasing", n_boot=200, seed=run),
        )
        covered += fit.threshold_interval[0] <= truth <= fit.threshold_interval[1]
    return covered / runs


def run(quick: bool) -> list[Result]:
    size = QUICK if quick else Workload()
    raters = make_raters(size)
    raters_n = raters["rater"].nunique()
    options = FitOptions(GUESS, direction="decreasing")
    per_fit = scipy_fit_seconds(level_counts(raters), size.baseline_fits)
    results = []
    label = f"{raters_n} raters x {len(LEVELS)} levels, {len(raters):,} trials"
    for n_boot in (0, 200, 1000):
        seconds = fastest(lambda n_boot=n_boot: fit_raters(raters, replace(options, n_boot=n_boot)), size.repeat)
        results.append(
            Result(
                "psychometric",
                f"fit_raters, {n_boot} replicates ({label})",
                seconds,
                "s",
                "< 5 s" if n_boot == 200 else "",
                per_fit * raters_n * (1 + n_boot),
                "scipy.optimize per fit, scaled",
                None if n_boot != 200 else seconds < 5,
            )
        )
    fits_200 = results[1].value
    tests = fastest(
        lambda: [threshold_difference(raters, model, replace(options, n_boot=1000)) for model in MODELS], size.repeat
    )
    results.append(
        Result(
            "psychometric",
            "threshold_difference, 3 models vs annotators, 1000 replicates",
            tests,
            "s",
            "",
            per_fit * len(MODELS) * 2 * 1001,
            "scipy.optimize per fit, scaled",
        )
    )
    results.append(
        Result(
            "psychometric", "fits (200 replicates) + 3 tests", fits_200 + tests, "s", "< 5 s", met=fits_200 + tests < 5
        )
    )
    results.append(
        Result(
            "psychometric",
            f"threshold test type-I error at 5% ({size.null_runs} simulated nulls)",
            100 * null_rejections(size.null_runs),
            "%",
            "2-9 %",
        )
    )
    results.append(
        Result(
            "psychometric",
            f"95% threshold interval coverage ({size.coverage_runs} simulated Weibull data sets)",
            100 * coverage(size.coverage_runs),
            "%",
            ">= 90 %",
        )
    )
    return results


if __name__ == "__main__":
    run_main(__doc__.splitlines()[0], run)

"""Error consistency benchmark: the calibration of its tests and intervals, and their cost.

Calibration (seeded simulations; issue #26):

1. type-I error of the independence test at alpha 0.05 over 1,000 pairs of independent
   raters on n = 200 images, accuracies 0.9/0.9 and 0.6/0.8 (target 2-7 %): Fisher's
   exact test against the binomial test it replaced (Geirhos et al.: consistent images
   against Binomial(n, c_exp) with c_exp estimated from the same data), on the same
   pairs; plus Fisher's exact size at 0.9/0.9 by enumerating every table, so the
   simulated share can be read against the truth;
2. power at kappa 0.19 on n = 160 images (accuracies 0.8/0.8), both tests, same pairs;
3. the percentile bootstrap interval's coverage of kappa (one pair, n = 200, kappa 0.19);
4. type-I error of the paired bootstrap test of two models' consistency with the
   annotators when both models are equally human-like (5 annotators, 200 images whose
   difficulty everyone shares).

Cost: :func:`~study_app.stats.agreement.consistency_analysis` (Fisher for every pair,
10,000 bootstrap replicates of every pair's kappa, the ceiling and the model
differences) on the report benchmark's large design, 100 annotators and 3 models on
1,500 images (5,253 pairs). Baseline, in the same run: a loop over the replicates with
one pair's 2x2 table per resample (numpy, per pair), measured on a share of the pairs and
scaled.

Run: ``python -m benchmarks.bench_consistency`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, multinomial

from study_app.stats.consistency import bootstrap_consistency
from study_app.stats.grid import RaterGrid
from study_app.stats.independence import fisher_exact_pvalues

from .common import Result, run_main

ALPHA = 0.05


@dataclass(frozen=True)
class Workload:
    null_pairs: int = 1000
    power_pairs: int = 2000
    coverage_runs: int = 500
    difference_runs: int = 500
    annotators: int = 100
    images: int = 1500
    n_boot: int = 10_000
    baseline_pairs: int = 20


QUICK = Workload(
    null_pairs=200,
    power_pairs=200,
    coverage_runs=20,
    difference_runs=20,
    annotators=10,
    images=300,
    n_boot=500,
    baseline_pairs=3,
)


def binomial_pvalues(n, right_a, right_b, both_right) -> np.ndarray:
    """The replaced test: consistent images against Binomial(n, c_exp), two-sided by doubling the smaller tail."""
    p_a, p_b = right_a / n, right_b / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    consistent = n - right_a - right_b + 2 * both_right
    return np.minimum(1.0, 2 * np.minimum(binom.cdf(consistent, n, expected), binom.sf(consistent - 1, n, expected)))


def cells(accuracy_a: float, accuracy_b: float, kappa: float) -> np.ndarray:
    """Probabilities of (both right, only A right, only B right, both wrong) for the given
    accuracies and kappa of correctness (0: independent), from
    ``kappa = 2 (P(both wrong) - q_a q_b) / (q_a + q_b - 2 q_a q_b)``."""
    q_a, q_b = 1 - accuracy_a, 1 - accuracy_b
    both_wrong = q_a * q_b + kappa * (q_a + q_b - 2 * q_a * q_b) / 2
    return np.array([1 - q_a - q_b + both_wrong, q_b - both_wrong, q_a - both_wrong, both_wrong])


def correlated_pairs(
    rng: np.random.Generator, pairs: int, n: int, accuracy_a: float, accuracy_b: float, kappa: float
) -> tuple[np.ndarray, ...]:
    """The margins ``n, right_a, right_b, both_right`` of ``pairs`` simulated pairs on ``n`` images."""
    counts = rng.multinomial(n, cells(accuracy_a, accuracy_b, kappa), size=pairs)
    return np.full(pairs, n), counts[:, 0] + counts[:, 1], counts[:, 0] + counts[:, 2], counts[:, 0]


def fisher_exact_size(n: int, accuracy_a: float, accuracy_b: float) -> float:
    """P(Fisher p < alpha) under independence, summed over every 2x2 table of probability above 1e-15."""
    rr, rw, wr = (g.ravel() for g in np.meshgrid(np.arange(n + 1), np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    ww = n - rr - rw - wr
    keep = ww >= 0
    rr, rw, wr, ww = rr[keep], rw[keep], wr[keep], ww[keep]
    cells = [
        accuracy_a * accuracy_b,
        accuracy_a * (1 - accuracy_b),
        (1 - accuracy_a) * accuracy_b,
        (1 - accuracy_a) * (1 - accuracy_b),
    ]
    probability = multinomial.pmf(np.stack([rr, rw, wr, ww], axis=1), n, cells)
    likely = probability > 1e-15
    pvalues = fisher_exact_pvalues(np.full(likely.sum(), n), (rr + rw)[likely], (rr + wr)[likely], rr[likely])
    return float(probability[likely][pvalues < ALPHA].sum())


def coverage(runs: int) -> float:
    """Share of simulated pairs (n = 200, accuracies 0.8/0.8, kappa 0.19) whose 95% interval covers 0.19."""
    rng = np.random.default_rng(19)
    kinds, raters = np.array(["human", "model"], dtype=object), np.array(["a", "m"], dtype=object)
    covered = 0
    for run in range(runs):
        cell = rng.choice(4, size=200, p=cells(0.8, 0.8, 0.19))
        correct = np.stack([cell <= 1, (cell == 0) | (cell == 2)])
        grid = RaterGrid(raters, kinds, np.arange(200), np.ones((2, 200), dtype=bool), correct)
        found = bootstrap_consistency(grid, np.array([0]), np.array([1]), n_boot=999, alpha=ALPHA, seed=run)
        covered += found.ci_low[0] <= 0.19 <= found.ci_high[0]
    return covered / runs


def difference_rejections(runs: int) -> float:
    """Share of simulated nulls with p < alpha: two models as human-like as each other.

    All raters share the images' difficulty.
    """
    rng = np.random.default_rng(7)
    people, n = 5, 200
    kinds = np.array(["human"] * people + ["model"] * 2, dtype=object)
    raters = np.array([f"r{i}" for i in range(people + 2)], dtype=object)
    first, second = np.repeat(np.arange(people), 2), np.tile([people, people + 1], people)
    rejected = 0
    for run in range(runs):
        difficulty = rng.normal(0, 1.5, n)
        correct = rng.random((people + 2, n)) < 1 / (1 + np.exp(difficulty - 1.5))
        grid = RaterGrid(raters, kinds, np.arange(n), np.ones(correct.shape, dtype=bool), correct)
        rejected += (
            bootstrap_consistency(grid, first, second, n_boot=999, alpha=ALPHA, seed=run).differences["pvalue"].iloc[0]
            < ALPHA
        )
    return rejected / runs


def large_design(size: Workload) -> tuple[RaterGrid, np.ndarray, np.ndarray]:
    """Annotators (accuracies 0.85-0.97) and 3 models on every image, errors sharing image difficulty."""
    rng = np.random.default_rng(0)
    raters = size.annotators + 3
    skill = np.concatenate([rng.uniform(1.8, 3.5, size.annotators), [3.0, 2.2, 1.4]])
    difficulty = rng.normal(0, 1, size.images)
    correct = rng.random((raters, size.images)) < 1 / (1 + np.exp(difficulty[None, :] - skill[:, None]))
    kinds = np.array(["human"] * size.annotators + ["model"] * 3, dtype=object)
    names = np.array([f"A{i:03d}" for i in range(size.annotators)] + ["model-a", "model-b", "model-c"], dtype=object)
    grid = RaterGrid(names, kinds, np.arange(size.images), np.ones((raters, size.images), dtype=bool), correct)
    first, second = np.triu_indices(raters, k=1)
    return grid, first, second


def loop_seconds(grid: RaterGrid, first: np.ndarray, second: np.ndarray, n_boot: int, pairs: int) -> float:
    """The straightforward path: per pair, per replicate, resample images and count the 2x2 table."""
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for a, b in zip(first[:pairs], second[:pairs]):
        kappas = np.empty(n_boot)
        for r in range(n_boot):
            images = rng.integers(0, grid.seen.shape[1], grid.seen.shape[1])
            x, y = grid.correct[a, images], grid.correct[b, images]
            u, v, w, n = np.sum(~x), np.sum(~y), np.sum(~x & ~y), len(images)
            kappas[r] = 2 * (w * n - u * v) / (n * (u + v) - 2 * u * v)
        np.quantile(kappas, [ALPHA / 2, 1 - ALPHA / 2])
    return (time.perf_counter() - start) * len(first) / pairs


def run(quick: bool) -> list[Result]:
    size = QUICK if quick else Workload()
    rng = np.random.default_rng(26)
    results = []
    for accuracy_a, accuracy_b in ((0.9, 0.9), (0.6, 0.8)):
        margins = correlated_pairs(rng, size.null_pairs, 200, accuracy_a, accuracy_b, 0.0)
        fisher = np.mean(fisher_exact_pvalues(*margins) < ALPHA)
        old = np.mean(binomial_pvalues(*margins) < ALPHA)
        results.append(
            Result(
                "consistency",
                "Fisher type-I error at 5%, n = 200, accuracies "
                f"{accuracy_a}/{accuracy_b} ({size.null_pairs} null pairs)",
                100 * fisher,
                "%",
                "2-7 %",
                met=None if quick else 0.02 <= fisher <= 0.07,
            )
        )
        results.append(
            Result("consistency", f"replaced binomial test, same pairs ({accuracy_a}/{accuracy_b})", 100 * old, "%", "")
        )
    if not quick:
        results.append(
            Result(
                "consistency",
                "Fisher exact size at 5%, n = 200, 0.9/0.9 (every table enumerated)",
                100 * fisher_exact_size(200, 0.9, 0.9),
                "%",
                "",
            )
        )
    margins = correlated_pairs(rng, size.power_pairs, 160, 0.8, 0.8, 0.19)
    results.append(
        Result(
            "consistency",
            f"Fisher power at kappa 0.19, n = 160, 0.8/0.8 ({size.power_pairs} pairs)",
            100 * np.mean(fisher_exact_pvalues(*margins) < ALPHA),
            "%",
            "",
        )
    )
    results.append(
        Result(
            "consistency",
            "replaced binomial test's power, same pairs",
            100 * np.mean(binomial_pvalues(*margins) < ALPHA),
            "%",
            "",
        )
    )
    covered = coverage(size.coverage_runs)
    results.append(
        Result(
            "consistency",
            f"95% bootstrap interval coverage of kappa 0.19, n = 200 ({size.coverage_runs} pairs, 999 replicates)",
            100 * covered,
            "%",
            ">= 93 %",
            met=None if quick else covered >= 0.93,
        )
    )
    rejected = difference_rejections(size.difference_runs)
    results.append(
        Result(
            "consistency",
            f"model-difference test type-I error at 5% ({size.difference_runs} nulls, 999 replicates)",
            100 * rejected,
            "%",
            "2-8 %",
            met=None if quick else 0.02 <= rejected <= 0.08,
        )
    )
    grid, first, second = large_design(size)
    start = time.perf_counter()
    boot = bootstrap_consistency(grid, first, second, n_boot=size.n_boot, alpha=ALPHA, seed=0)
    fisher_exact_pvalues(
        np.full(len(first), size.images),
        grid.correct[first].sum(axis=1),
        grid.correct[second].sum(axis=1),
        (grid.correct[first] & grid.correct[second]).sum(axis=1),
    )
    seconds = time.perf_counter() - start
    assert boot.ceiling is not None and len(boot.differences) == 3
    results.append(
        Result(
            "consistency",
            f"intervals, ceiling, differences and Fisher: {len(first):,} "
            f"pairs, {size.images:,} images, {size.n_boot:,} replicates",
            seconds,
            "s",
            "",
            loop_seconds(grid, first, second, size.n_boot, size.baseline_pairs),
            "numpy loop per pair and replicate, scaled",
        )
    )
    return results


if __name__ == "__main__":
    run_main(__doc__.splitlines()[0], run)

"""Per-condition statistics benchmark: rates, fits and error consistency of a degradation experiment.

Workload (the size issue #19 names): 100 annotators x 10,000 trials over 8 noise levels
plus 3 models with 10,000 trials each, a rater table of 1,030,000 rows built by the real
scorer (``raters_from_guesses``: one top-1 guess per trial, 16 classes). The annotators
see 10,000 source images in a Latin square (image i at level (i + annotator) mod 8, so
1,250 trials per level and no image at two levels); the three models see the same 10,000
stimuli, each image at one seeded random level (so ``scope="shared"`` keeps about 1/8 of
each annotator's trials). Correctness is drawn from Weibull curves as in
``bench_psychometric`` (annotators around alpha 0.3, models 0.15 / 0.3 / 0.6); a wrong
trial gets another class's label. Steps, each the fastest of ``--repeat`` runs:

1. ``condition_rates`` in both scopes: Wilson and Clopper-Pearson for every rater, and the
   pooled humans' cluster bootstrap at its default 2,000 replicates;
2. ``fit_raters``: 103 Weibull fits with 200 bootstrap replicates each;
3. ``condition_consistency``: error consistency per level and averaged;
4. ``condition_tests``: McNemar per (annotator, model, level) and the pooled humans'
   paired bootstrap per (model, level), at its default 2,000 replicates.

Target: steps 1-3 together under 5 s (and 1-4 reported beside it). Baselines, in the
same run on the same table: pandas ``groupby(...).apply`` with statsmodels'
``proportion_confint`` per (scope, rater, level) plus a Python loop over bootstrap
replicates for the pooled humans (a share of the replicates measured, scaled); one
``scipy.optimize.minimize`` per fit (``bench_psychometric``'s, a share measured, scaled);
a pandas merge and Cohen's kappa per (model, annotator, level) (a share measured,
scaled).

Run: ``python -m benchmarks.bench_conditions`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from study_app.stats.conditions import (
    condition_consistency,
    condition_level,
    condition_rates,
    condition_tests,
    shared_stimuli,
)
from study_app.stats.psychometric import FitOptions, fit_raters, level_counts, psychometric_curve
from study_app.stats.raters import HUMAN, MODEL, raters_from_guesses

from .bench_psychometric import CURVE, GUESS, LEVELS, MODELS, scipy_fit_seconds
from .common import Result, machine, print_table

CLASSES = 16  # guess rate 1/16, as bench_psychometric's curves assume
N_BOOT_RATES = 2000  # condition_rates' default
N_BOOT_FITS = 200


@dataclass(frozen=True)
class Workload:
    annotators: int = 100
    images: int = 10_000
    repeat: int = 3
    baseline_fits: int = 20
    baseline_replicates: int = 20  # of the pooled humans' 2,000 per (scope, level)
    baseline_pairs: int = 40  # (model, annotator, level) kappas of 2,400


QUICK = Workload(annotators=10, images=400, repeat=1, baseline_fits=3, baseline_replicates=2, baseline_pairs=5)


def make_raters(size: Workload, seed: int = 0) -> pd.DataFrame:
    """The rater table, scored by ``raters_from_guesses`` from one top-1 guess per trial."""
    rng = np.random.default_rng(seed)
    levels = np.array([condition_level(f"{v:g}") for v in LEVELS], dtype=object)
    image_ids = np.array([f"img{i:05d}" for i in range(size.images)], dtype=object)
    classes = np.array([f"c{c:02d}" for c in range(CLASSES)], dtype=object)
    truth = rng.integers(0, CLASSES, size.images)
    alphas = {f"a{i:03d}": float(0.3 * np.exp(rng.normal(0, 0.15))) for i in range(size.annotators)}
    model_level = rng.integers(0, len(LEVELS), size.images)
    frames = []
    for number, (rater, alpha) in enumerate([*alphas.items(), *MODELS.items()]):
        is_model = rater in MODELS
        level = model_level if is_model else (np.arange(size.images) + number) % len(LEVELS)
        right = rng.random(size.images) < psychometric_curve(LEVELS, alpha=alpha, **CURVE)[level]
        label = np.where(right, truth, (truth + rng.integers(1, CLASSES, size.images)) % CLASSES)
        frames.append(
            pd.DataFrame(
                {
                    "rater": rater,
                    "kind": MODEL if is_model else HUMAN,
                    "image_id": image_ids,
                    "phase": "main",
                    "condition": levels[level],
                    "rank": 1,
                    "label_id": classes[label],
                }
            )
        )
    guesses = pd.concat(frames, ignore_index=True)
    return raters_from_guesses(guesses, pd.DataFrame({"image_id": image_ids, "label_id": classes[truth]}), k=1)


def naive_rates(raters: pd.DataFrame, replicates: int, seed: int = 0) -> float:
    """Seconds of the straightforward per-condition rates, the bootstrap scaled from ``replicates``."""
    scopes = (raters, shared_stimuli(raters))
    started = time.perf_counter()
    for rows in scopes:
        rows.astype({"rater": str, "condition": str}).groupby(["phase", "condition", "rater"]).apply(
            _intervals, include_groups=False
        )
    exact = time.perf_counter() - started
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    for rows in scopes:  # two-way cluster bootstrap of the annotators' mean per level, one replicate at a time
        human = rows[rows["kind"] == HUMAN].astype({"rater": str, "condition": str, "image_id": str})
        for _, cell in human.groupby("condition"):
            table = cell.pivot_table(index="image_id", columns="rater", values="correct_top1", aggfunc="first")
            for _ in range(replicates):
                images = rng.integers(0, table.shape[0], table.shape[0])
                people = rng.integers(0, table.shape[1], table.shape[1])
                (1 - table.iloc[images, people]).mean(axis=0).mean()
    return exact + (time.perf_counter() - started) * N_BOOT_RATES / replicates


def _intervals(rows: pd.DataFrame) -> pd.Series:
    n, errors = len(rows), int((~rows["correct_top1"].astype(bool)).sum())
    wilson = proportion_confint(errors, n, 0.05, method="wilson")
    exact = proportion_confint(errors, n, 0.05, method="beta")
    return pd.Series({"n": n, "errors": errors, "rate": errors / n, "wilson": wilson, "cp": exact})


def naive_consistency(raters: pd.DataFrame, pairs: int) -> float:
    """Seconds of a pandas merge + Cohen's kappa per (model, annotator, level), scaled from ``pairs``."""
    table = raters.astype({"rater": str, "condition": str, "image_id": str})
    humans = sorted(table.loc[table["kind"] == HUMAN, "rater"].unique())
    models = sorted(table.loc[table["kind"] == MODEL, "rater"].unique())
    levels = sorted(table["condition"].unique())
    work = [(m, h, lv) for m in models for h in humans for lv in levels]
    started = time.perf_counter()
    for model, human, level in work[:pairs]:
        at = table[table["condition"] == level]
        both = at[at["rater"] == model].merge(at[at["rater"] == human], on="image_id", suffixes=("_m", "_h"))
        a, b = both["correct_top1_m"].to_numpy(bool), both["correct_top1_h"].to_numpy(bool)
        observed = np.mean(a == b)
        expected = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
        (observed - expected) / (1 - expected) if expected < 1 else np.nan
    return (time.perf_counter() - started) * len(work) / min(pairs, len(work))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fastest(step: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of the fastest of ``repeat`` runs: the machine is
    shared, so the CPU time says what the step costs when the wall clock waits for others."""
    best = (np.inf, np.inf)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_seconds()
        step()
        best = min(best, (time.perf_counter() - wall, cpu_seconds() - cpu))
    return best


def run(size: Workload) -> list[Result]:
    built = time.perf_counter()
    raters = make_raters(size)
    built = time.perf_counter() - built
    options = FitOptions(GUESS, direction="decreasing", n_boot=N_BOOT_FITS)
    label = f"{raters['rater'].nunique()} raters x {len(LEVELS)} levels, {len(raters):,} trials"
    steps = {
        "condition_rates, both scopes (2000 pooled-humans replicates)": lambda: condition_rates(
            raters, scope=("all", "shared")
        ),
        f"fit_raters, {N_BOOT_FITS} replicates": lambda: fit_raters(raters, options),
        "condition_consistency": lambda: condition_consistency(raters),
        "condition_tests (2000 paired replicates per model and level)": lambda: condition_tests(raters),
    }
    timed = {name: fastest(step, size.repeat) for name, step in steps.items()}
    seconds = {name: wall for name, (wall, _) in timed.items()}
    cpu = [used for _, used in timed.values()]
    fits = raters["rater"].nunique() * (1 + N_BOOT_FITS)
    baselines = [
        (
            naive_rates(raters, size.baseline_replicates),
            "pandas groupby/apply + proportion_confint, bootstrap loop scaled",
        ),
        (scipy_fit_seconds(level_counts(raters), size.baseline_fits) * fits, "scipy.optimize per fit, scaled"),
        (naive_consistency(raters, size.baseline_pairs), "pandas merge + kappa per pair and level, scaled"),
        (None, ""),
    ]
    results = [
        Result("conditions", f"{name} ({label})", value, "s", "", base, base_label)
        for (name, value), (base, base_label) in zip(seconds.items(), baselines)
    ]
    values = list(seconds.values())
    base_total = sum(base for base, _ in baselines[:3])
    results.append(
        Result(
            "conditions",
            "rates (both scopes) + fits (200 replicates) + consistency",
            sum(values[:3]),
            "s",
            "< 5 s",
            base_total,
            "sum of the three baselines",
            sum(values[:3]) < 5,
        )
    )
    results.append(Result("conditions", "rates + fits + consistency + condition_tests", sum(values), "s", ""))
    results.append(
        Result("conditions", f"building the rater table (raters_from_guesses, {len(raters):,} trials)", built, "s", "")
    )
    results.append(
        Result(
            "conditions",
            "process CPU time of rates + fits + consistency (same runs; "
            f"load average {' / '.join(f'{v:.1f}' for v in _load())})",
            sum(cpu[:3]),
            "s",
            "",
        )
    )
    results.append(Result("conditions", "process CPU time of condition_tests (same run)", cpu[3], "s", ""))
    return results


def _load() -> tuple[float, ...]:
    with open("/proc/loadavg", encoding="utf-8") as handle:
        return tuple(float(v) for v in handle.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI smoke run: checks that it runs, not the timings)"
    )
    parser.add_argument("--repeat", type=int, help="runs per step; the fastest counts (default 3, 1 with --quick)")
    args = parser.parse_args()
    size = QUICK if args.quick else Workload()
    if args.repeat:
        size = Workload(**{**size.__dict__, "repeat": args.repeat})
    print(f"machine: {machine()}")
    print_table(run(size))


if __name__ == "__main__":
    main()

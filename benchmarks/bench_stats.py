"""Statistics engine benchmark: 1,000,000 answers against a straightforward pandas version.

Workload (a large crowd study): 1,000 annotators x 1,000 images with top-5 answers
(1,000,000 answers, about 5,000,000 guess rows, 2% non-answers) plus 3 models:

1. scoring: the rater table (top-1 and top-5 correctness of every answer);
2. error rates with intervals: Wilson and Clopper-Pearson for each of the 1,003 raters
   and the three crowds (plurality vote, optimistic, strict majority), and the two-way
   (images x annotators) cluster bootstrap of the annotators' mean (2,000 replicates);
3. paired bootstrap: 10,000 replicates of the error difference, annotators vs each model.

Target: the three steps together under 5 s, and at least 20x faster than the baseline:
pandas ``groupby(...).apply`` for scoring and the per-rater intervals, and a Python loop
over bootstrap replicates (resampling an annotators x images error table), measured in
the same run. The whole baseline takes about ten minutes, so by default it runs on a
share of the work (``--baseline-share``: that share of the annotators for scoring, of
the replicates for the bootstrap loops; the parts that do not grow with them run whole)
and is scaled up linearly; ``--baseline-share 1`` measures all of it. The engine's time
is the fastest of ``--repeat`` runs.

Run: ``python -m benchmarks.bench_stats`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from study_app.protocol.labels import LabelSet
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study
from study_app.stats import HUMANS, error_rates, paired_differences, rater_table

from .common import Result, machine, print_table

K = 5
MODELS = {"model-a": 0.95, "model-b": 0.9, "model-c": 0.8}  # top-5 accuracy
STEPS = ("scoring", "error rates + intervals", "paired bootstrap")


@dataclass(frozen=True)
class Workload:
    annotators: int = 1000
    images: int = 1000
    classes: int = 1000
    rate_replicates: int = 2_000
    paired_replicates: int = 10_000


QUICK = Workload(annotators=50, images=200, classes=100, rate_replicates=200, paired_replicates=1000)


def make_data(size: Workload, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Answers (the store's tidy table), model predictions and ground truth."""
    rng = np.random.default_rng(seed)
    names = np.array([f"n{c:08d}" for c in range(size.classes)], dtype=object)
    image_ids = np.array([f"ILSVRC2012_val_{i:08d}" for i in range(size.images)], dtype=object)
    truth_code = rng.integers(0, size.classes, size=size.images)

    def ranked(truth: np.ndarray, accuracy: np.ndarray | float) -> np.ndarray:
        guesses = rng.integers(0, size.classes, size=(len(truth), K))
        right = rng.random(len(truth)) < accuracy
        guesses[right, rng.integers(0, K, size=len(truth))[right]] = truth[right]
        return guesses

    annotator = np.repeat(np.arange(size.annotators), size.images)
    image = np.tile(np.arange(size.images), size.annotators)
    guesses = ranked(truth_code[image], rng.uniform(0.85, 0.97, size=size.annotators)[annotator])
    silent = rng.random(len(image)) < 0.02  # one row without a rank each
    rank = np.tile(np.arange(1, K + 1, dtype=float), len(image))
    keep = ~np.repeat(silent, K) | (rank == 1)
    rank[np.repeat(silent, K)] = np.nan
    trial = np.repeat(np.arange(len(image)), K)[keep]
    labels = np.where(np.isnan(rank), "", names[guesses.ravel()])[keep]
    answers = pd.DataFrame(
        {
            "annotator": pd.array(
                np.array([f"A{a:04d}" for a in range(size.annotators)], dtype=object)[annotator[trial]], dtype="str"
            ),
            "phase": "test",
            "trial": np.argsort(rng.random((size.annotators, size.images)), axis=1).ravel()[trial],
            "image_id": pd.array(image_ids[image[trial]], dtype="str"),
            "rank": pd.array(rank[keep]).astype("Int64"),
            "label_id": pd.array(labels, dtype="str"),
            "rt_ms": rng.gamma(4, 400, size=len(image))[trial],
            "outcome": np.where(silent[trial], "timeout", "answer"),
            "trial_uuid": pd.array(
                np.array([f"t{t:07d}" for t in range(len(image))], dtype=object)[trial], dtype="str"
            ),
            "superseded": False,
        }
    )
    predictions = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": model,
                    "image_id": np.repeat(image_ids, K),
                    "rank": np.tile(np.arange(1, K + 1), size.images),
                    "label_id": names[ranked(truth_code, accuracy).ravel()],
                    "score": np.nan,
                }
            )
            for model, accuracy in MODELS.items()
        ],
        ignore_index=True,
    )
    return answers, predictions, pd.DataFrame({"image_id": image_ids, "label_id": names[truth_code]})


def named_data(size: Workload, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, LabelSet]:
    """:func:`make_data` with the ILSVRC class ids and names of demo-imagenet, as a real study has."""
    labels = load_study(BUNDLED_PROTOCOLS / "demo-imagenet", check_images=False).labels
    real = {f"n{c:08d}": label.label_id for c, label in enumerate(labels.classes[: size.classes])}
    answers, predictions, truth = make_data(size, seed)
    answers["label_id"] = answers["label_id"].map(lambda name: real.get(name, name))
    predictions["label_id"] = predictions["label_id"].map(real)
    truth["label_id"] = truth["label_id"].map(real)
    return answers, predictions, truth, labels


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


# --- the engine ----------------------------------------------------------------------------


def engine(answers: pd.DataFrame, predictions: pd.DataFrame, truth: pd.DataFrame, size: Workload) -> dict[str, float]:
    scoring, raters = timed(lambda: rater_table(answers, predictions, truth, k=K))
    rates, _ = timed(lambda: error_rates(raters, n_boot=size.rate_replicates))
    pairs = [(HUMANS, model) for model in MODELS]
    paired, _ = timed(lambda: paired_differences(raters, pairs, n_boot=size.paired_replicates))
    return dict(zip(STEPS, (scoring, rates, paired)))


# --- the straightforward pandas baseline ---------------------------------------------------


def naive_score(answers: pd.DataFrame, predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """One ``apply`` per (rater, image): is the truth the first guess, among the first K?"""
    valid = dict(zip(truth["image_id"], truth["label_id"]))

    def judge(trial: pd.DataFrame) -> tuple[bool, bool]:
        labels = trial.sort_values("rank")["label_id"].tolist()
        answered = trial["outcome"].iloc[0] == "answer"
        return answered and labels[0] == valid[trial.name[1]], answered and valid[trial.name[1]] in labels[:K]

    parts = []
    for kind, frame, rater in (
        ("human", answers, "annotator"),
        ("model", predictions.assign(outcome="answer"), "model"),
    ):
        judged = frame.groupby([rater, "image_id"]).apply(judge, include_groups=False)
        table = pd.DataFrame(judged.tolist(), index=judged.index, columns=["correct_top1", "correct_topk"])
        parts.append(table.reset_index().rename(columns={rater: "rater"}).assign(kind=kind))
    return pd.concat(parts, ignore_index=True)


def naive_interval(rows: pd.DataFrame) -> pd.Series:
    errors, n = int((~rows["correct_topk"]).sum()), len(rows)
    wilson, exact = proportion_confint(errors, n, method="wilson"), proportion_confint(errors, n, method="beta")
    return pd.Series(
        {
            "n": n,
            "error_rate": errors / n,
            "wilson_low": wilson[0],
            "wilson_high": wilson[1],
            "cp_low": exact[0],
            "cp_high": exact[1],
        }
    )


def naive_intervals(raters: pd.DataFrame) -> pd.DataFrame:
    """Wilson and Clopper-Pearson for every rater and for the three crowds, by ``apply``."""
    table = raters.groupby("rater").apply(naive_interval, include_groups=False)
    people = raters[raters["kind"] == "human"]
    by_image = people.groupby("image_id")
    rng = np.random.default_rng(0)

    def plurality_right(rows: pd.DataFrame) -> bool:
        counts = rows.loc[rows["label"] != "", "label"].value_counts()
        if counts.empty:
            return False
        winner = rng.choice(counts.index[counts == counts.max()])
        return bool(rows.loc[rows["label"] == winner, "correct_top1"].iloc[0])

    crowds = {
        "strict majority": by_image["correct_topk"].apply(lambda c: c.sum() * 2 > len(c)),
        "optimistic": by_image["correct_topk"].apply(lambda c: c.any()),
        "plurality vote": by_image.apply(plurality_right, include_groups=False),
    }
    for name, right in crowds.items():
        table.loc[name] = naive_interval(pd.DataFrame({"correct_topk": right}))
    return table


def error_matrix(raters: pd.DataFrame) -> pd.DataFrame:
    """Annotators x images errors, the table the bootstrap loops draw from."""
    return 1 - raters[raters["kind"] == "human"].pivot(index="rater", columns="image_id", values="correct_topk").astype(
        float
    )


def naive_two_way(errors: pd.DataFrame, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """One replicate: resampled annotators' mean error, and the resampled images."""
    images = rng.integers(0, errors.shape[1], errors.shape[1])
    people = rng.integers(0, errors.shape[0], errors.shape[0])
    return errors.iloc[people, images].mean(axis=1).mean(), images


def naive_pooled_bootstrap(errors: pd.DataFrame, replicates: int, rng: np.random.Generator) -> np.ndarray:
    return np.quantile([naive_two_way(errors, rng)[0] for _ in range(replicates)], [0.025, 0.975])


def naive_paired(raters: pd.DataFrame, errors: pd.DataFrame, replicates: int, rng: np.random.Generator) -> pd.DataFrame:
    models = {
        m: 1 - raters[raters["rater"] == m].set_index("image_id")["correct_topk"].reindex(errors.columns).astype(float)
        for m in MODELS
    }
    differences: dict[str, list[float]] = {m: [] for m in MODELS}
    for _ in range(replicates):
        human, images = naive_two_way(errors, rng)
        for model, model_errors in models.items():
            differences[model].append(human - model_errors.iloc[images].mean())
    return pd.DataFrame(
        [{"model": m, "low": np.quantile(d, 0.025), "high": np.quantile(d, 0.975)} for m, d in differences.items()]
    )


def baseline(
    answers: pd.DataFrame, predictions: pd.DataFrame, truth: pd.DataFrame, size: Workload, share: float
) -> dict[str, tuple[float, float]]:
    """(measured seconds, seconds scaled to the whole workload) per step."""
    rng = np.random.default_rng(1)
    keep = set(sorted(answers["annotator"].unique())[: max(1, round(size.annotators * share))])
    scoring, _ = timed(lambda: naive_score(answers[answers["annotator"].isin(keep)], predictions, truth))
    # The later steps need every rater; they start from the engine's table (untimed), so
    # that only the baseline's statistics are timed.
    raters = rater_table(answers, predictions, truth, k=K)[
        ["rater", "kind", "image_id", "label", "correct_top1", "correct_topk"]
    ]
    raters = raters.astype({"rater": str, "kind": str, "image_id": str, "label": str})
    intervals, _ = timed(lambda: naive_intervals(raters))
    matrix, errors = timed(lambda: error_matrix(raters))
    rate_share = max(1, round(size.rate_replicates * share))
    paired_share = max(1, round(size.paired_replicates * share))
    pooled, _ = timed(lambda: naive_pooled_bootstrap(errors, rate_share, rng))
    paired, _ = timed(lambda: naive_paired(raters, errors, paired_share, rng))
    return {
        "scoring": (scoring, scoring * size.annotators / len(keep)),
        "error rates + intervals": (
            intervals + matrix + pooled,
            intervals + matrix + pooled * size.rate_replicates / rate_share,
        ),
        "paired bootstrap": (matrix + paired, matrix + paired * size.paired_replicates / paired_share),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI smoke run: checks that it runs, not the timings)"
    )
    parser.add_argument(
        "--baseline-share",
        type=float,
        default=0.05,
        help="share of the work the pandas baseline runs (default 0.05; 1: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the engine; the fastest counts (default 3)")
    args = parser.parse_args(argv)
    if not 0 < args.baseline_share <= 1:
        parser.error("--baseline-share must be in (0, 1]")
    size = QUICK if args.quick else Workload()
    answers, predictions, truth = make_data(size)
    print(f"machine: {machine()}")
    print(
        f"workload: {answers['trial_uuid'].nunique():,} answers ({len(answers):,} rows), {len(MODELS)} models, "
        f"{size.images:,} images, {size.rate_replicates:,} + {size.paired_replicates:,} bootstrap replicates"
    )
    runs = [engine(answers, predictions, truth, size) for _ in range(max(1, args.repeat))]
    fastest = min(runs, key=lambda run: sum(run.values()))
    naive = baseline(answers, predictions, truth, size, args.baseline_share)
    how = "measured in full" if args.baseline_share == 1 else f"{args.baseline_share:.0%} measured, scaled"
    print(f"\n{'step':<26}{'engine s':>10}{'baseline s':>13}{'measured s':>13}{'ratio':>9}")
    for step in STEPS:
        measured, scaled = naive[step]
        print(f"{step:<26}{fastest[step]:>10.2f}{scaled:>13.1f}{measured:>13.1f}{scaled / fastest[step]:>8.0f}x")
    total, total_naive = sum(fastest.values()), sum(scaled for _, scaled in naive.values())
    print(
        f"{'total':<26}{total:>10.2f}{total_naive:>13.1f}"
        f"{sum(m for m, _ in naive.values()):>13.1f}{total_naive / total:>8.0f}x\n"
    )
    print_table(
        [
            Result(
                "stats",
                f"scoring + rates + {size.paired_replicates:,} paired replicates",
                total,
                "s",
                "< 5 s and >= 20x baseline",
                total_naive,
                f"pandas groupby/apply, {how}",
                met=total < 5 and total_naive / total >= 20,
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

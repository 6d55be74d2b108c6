"""Report benchmark: the whole comparison report of a large study, statistics and rendering.

Two workloads (the ILSVRC human study, grown): 1,000 classes (the real ILSVRC label set
with its WordNet hierarchy), 3 models, real JPEG files (generated) for the gallery
thumbnails, and

- 20 annotators x 1,500 test images = 30,000 top-5 answers (issue 7: under 10 s);
- 100 annotators x 1,500 images = 150,000 answers, 4,950 annotator pairs (issue 11:
  statistics and report under 10 s).

Measured: the statistics (``stats.compare``, then :func:`study_app.report.analyse` adds
the top-1 rates and the learning-curve blocks), the rendering from those results
(figures as SVG and PNG, tables, galleries, HTML, Markdown and every file written), and
the two together.

Baseline, in the same run: the per-pair path this engine replaced for the two analyses
that grow with the pairs of raters: Cohen's kappa of each annotator pair from a pandas
pivot and crosstab with statsmodels' ``cohens_kappa``, and statsmodels' ``GEE`` on the
full annotator-effects design for each model. It runs on a share (``--baseline-share``:
of the annotator pairs; four times that share of the images for the GEE of one model,
whose cost grows with the images and which has a fixed part that scaling would
overcount on a tiny share) and is scaled up; the baseline total is the measured report with our two
analyses swapped for it. The shares it computes are checked against the engine's
numbers (the largest difference is printed).

Run: ``python -m benchmarks.bench_report`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.families import Gaussian
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.stats.inter_rater import cohens_kappa

from study_app.analysis.resampling import Resampling
from study_app.report import ReportData, Settings, analyse, build_document, write_document
from study_app.stats import HUMAN, MODEL, humans_vs_model_gee, label_kappa_table, rater_grid, rater_table
from study_app.stats.agreement import NO_ANSWER

from .bench_stats import Workload, named_data, timed
from .common import Result, machine, print_table
from .make_fixture import synthetic_jpeg

K = 5
SIZES = (Workload(annotators=20, images=1500, classes=1000), Workload(annotators=100, images=1500, classes=1000))
QUICK = Workload(annotators=5, images=200, classes=100)
TARGET_S = 10.0


def report_data(size: Workload, work: Path) -> ReportData:
    """The workload as report inputs, with the ILSVRC label names and a JPEG per image."""
    answers, predictions, truth, labels = named_data(size)
    raters = rater_table(answers, predictions, truth, k=K, labels=labels)
    rng = np.random.default_rng(0)
    paths = {}
    for image_id in truth["image_id"]:
        paths[image_id] = work / f"{image_id}.jpg"
        synthetic_jpeg(paths[image_id], (160, 120), rng)
    facts = (("study", f"benchmark: {size.classes} classes, {size.annotators} annotators, {size.images} images"),)
    return ReportData("bench", raters, "top-k", K, facts, labels, paths)


# --- the per-pair baseline ----------------------------------------------------------------


def pivot_kappa(raters: pd.DataFrame, a: str, b: str) -> float:
    """Cohen's kappa of two annotators' top-1 labels: pivot, crosstab, statsmodels."""
    rows = raters[raters["rater"].isin([a, b])].assign(label=lambda f: f["label"].astype(str).replace("", NO_ANSWER))
    wide = rows.pivot(index="image_id", columns="rater", values="label").dropna()
    crossed = pd.crosstab(wide[a], wide[b])
    categories = crossed.index.union(crossed.columns)
    return float(cohens_kappa(crossed.reindex(index=categories, columns=categories, fill_value=0).to_numpy()).kappa)


def full_design_gee(raters: pd.DataFrame, model: str) -> float:
    """The GEE p-value of annotators vs ``model`` with every annotator-effect column written out."""
    grid = rater_grid(raters, correct="correct_topk")
    people, model_row = grid.of_kind(HUMAN), grid.row(model)
    person, image = np.nonzero(people.seen & grid.seen[model_row])
    shared = np.flatnonzero(grid.seen[model_row])
    coding = np.vstack([np.eye(len(people.raters) - 1), -np.ones(len(people.raters) - 1)])  # sum-to-zero effects
    exog = np.column_stack(
        [
            np.ones(len(person) + len(shared)),
            np.r_[np.zeros(len(person)), np.ones(len(shared))],
            np.vstack([coding[person], np.zeros((len(shared), len(people.raters) - 1))]),
        ]
    )
    error = np.r_[~people.correct[person, image], ~grid.correct[model_row, shared]].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            GEE(error, exog, np.r_[image, shared], family=Gaussian(), cov_struct=Exchangeable()).fit().pvalues[1]
        )


def per_pair_path(raters: pd.DataFrame, comparison, share: float) -> tuple[float, float, float]:
    """(engine seconds, baseline seconds scaled to the whole, largest difference of their numbers)
    for the annotator-pair label kappas and the GEE of each model."""
    people = sorted(raters.loc[raters["kind"] == HUMAN, "rater"].astype(str).unique())
    models = sorted(raters.loc[raters["kind"] == MODEL, "rater"].astype(str).unique())
    engine, _ = timed(lambda: (label_kappa_table(raters), [humans_vs_model_gee(raters, m) for m in models]))
    pairs = list(itertools.combinations(people, 2))
    some = pairs[:: max(1, round(1 / share))]
    kappa_s, kappas = timed(lambda: [pivot_kappa(raters, a, b) for a, b in some])
    fast = comparison.label_agreement.set_index("raters")["kappa"]
    difference = max(abs(k - fast[f"{a} & {b}"]) for (a, b), k in zip(some, kappas))
    images = sorted(raters["image_id"].astype(str).unique())
    part = raters[raters["image_id"].astype(str).isin(images[:: max(1, round(1 / min(1.0, 4 * share)))])]
    gee_s, pvalue = timed(lambda: full_design_gee(part, models[0]))
    difference = max(difference, abs(pvalue - humans_vs_model_gee(part, models[0]).pvalue))
    return (
        engine,
        kappa_s * len(pairs) / len(some) + gee_s * len(models) * len(images) / part["image_id"].nunique(),
        difference,
    )


# --- the measurement ------------------------------------------------------------------------


def measure(size: Workload, settings: Settings, share: float) -> list[Result]:
    """Time the statistics, the rendering and the whole report of one workload once each."""
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-report-", dir=base))
    try:
        data = report_data(size, work)
        answers = int((data.raters["kind"] == HUMAN).sum())
        cpu = time.process_time()
        statistics, analysis = timed(lambda: analyse(data, settings))
        rendering, files = timed(lambda: write_document(build_document(data, settings, analysis), work / "report"))
        cpu = time.process_time() - cpu  # all threads: above the wall time when BLAS runs on both cores
        engine, naive, difference = per_pair_path(data.raters, analysis.comparison, share)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    label = f"{size.classes} classes, {size.annotators} annotators, {answers:,} answers"
    how = (
        f"per-pair kappa and full-design GEE, {share:.0%} measured, scaled"
        if share < 1
        else "per-pair kappa and full-design GEE"
    )
    print(
        f"{label}: report {statistics + rendering:.1f} s wall, {cpu:.1f} s CPU (load "
        f"average {os.getloadavg()[0]:.1f}); pairwise parts {engine:.2f} s (engine) vs "
        f"{naive:.1f} s (baseline); largest difference of their numbers {difference:.1e}"
    )
    whole = statistics + rendering
    return [
        Result("report", f"statistics (analyse) - {label}", statistics, "s", "", statistics - engine + naive, how),
        Result("report", f"rendering ({len(files)} files) - {label}", rendering, "s", ""),
        Result(
            "report",
            f"whole report - {label}",
            whole,
            "s",
            f"< {TARGET_S:g} s",
            whole - engine + naive,
            how,
            whole < TARGET_S,
        ),
    ]


def run(quick: bool = False, share: float = 0.05) -> list[Result]:
    settings = Settings(Resampling(n_boot=1000 if quick else 10_000))
    return [row for size in ((QUICK,) if quick else SIZES) for row in measure(size, settings, 1.0 if quick else share)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument(
        "--baseline-share",
        type=float,
        default=0.05,
        help="share of the per-pair baseline measured (default 0.05; 1: all)",
    )
    args = parser.parse_args()
    if not 0 < args.baseline_share <= 1:
        parser.error("--baseline-share must be in (0, 1]")
    print(f"machine: {machine()}")
    print_table(run(args.quick, args.baseline_share))


if __name__ == "__main__":
    main()

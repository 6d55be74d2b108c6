"""Report benchmark: the whole comparison report of a large study, statistics and rendering.

Workload (the ILSVRC human study, grown): 1,000 classes (the real ILSVRC label set with
its WordNet hierarchy), 20 annotators x 1,500 test images = 30,000 top-5 answers, and 3
models; real JPEG files (generated) for the gallery thumbnails.

Measured: the statistics (``stats.compare``, then :func:`study_app.report.analyse` adds the
top-1 rates and the learning-curve blocks), the rendering from those results (figures
as SVG and PNG, tables, galleries, HTML, Markdown and every file written), and the two
together. Target: the whole report under 10 s. The baseline, measured in the same run,
is ``stats.compare`` alone: the report's own cost is the difference.

The trend over trials (``stats.error_by_trial``: statsmodels' ConditionalLogit) recurses
once per trial of a session, so 1,500 trials exceed Python's default recursion limit;
this benchmark raises the limit to measure the rest (see the report of issue 7).

Run: ``python -m benchmarks.bench_report`` (``--quick``: small sizes, for CI).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from study_app.protocol import BUNDLED_PROTOCOLS, load_study
from study_app.report import ReportData, Settings, analyse, build_document, write_document
from study_app.stats import compare, rater_table

from .bench_stats import Workload, make_data
from .common import Result, machine, print_table
from .make_fixture import synthetic_jpeg

K = 5
FULL = Workload(annotators=20, images=1500, classes=1000)
QUICK = Workload(annotators=5, images=200, classes=100)
TARGET_S = 10.0


def report_data(size: Workload, work: Path) -> ReportData:
    """The workload as report inputs, with the ILSVRC label names and a JPEG per image."""
    labels = load_study(BUNDLED_PROTOCOLS / "demo-imagenet", check_images=False).labels
    real = {f"n{c:08d}": label.label_id for c, label in enumerate(labels.classes[: size.classes])}
    answers, predictions, truth = make_data(size)
    answers["label_id"] = answers["label_id"].map(lambda name: real.get(name, name))
    predictions["label_id"] = predictions["label_id"].map(real)
    truth["label_id"] = truth["label_id"].map(real)
    raters = rater_table(answers, predictions, truth, K, labels)
    rng = np.random.default_rng(0)
    paths = {}
    for image_id in truth["image_id"]:
        paths[image_id] = work / f"{image_id}.jpg"
        synthetic_jpeg(paths[image_id], (160, 120), rng)
    facts = (("study", f"benchmark: {size.classes} classes, {size.annotators} annotators, {size.images} images"),)
    return ReportData("bench", raters, "top-k", K, facts, labels, paths)


def run(quick: bool = False) -> list[Result]:
    """Time the statistics, the rendering and the whole report once each."""
    size = QUICK if quick else FULL
    settings = Settings(n_boot=1000 if quick else 10_000)
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-report-", dir=base))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * size.images + 1000))
    try:
        data = report_data(size, work)
        answers = int((data.raters["kind"] == "human").sum())
        start = time.perf_counter()
        comparison = compare(data.raters, settings.alpha, data.rule, data.k, settings.n_boot, settings.seed, data.labels)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        analysis = analyse(data, settings, comparison)
        statistics = baseline + time.perf_counter() - start
        start = time.perf_counter()
        files = write_document(build_document(data, settings, analysis), work / "report")
        rendering = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)
        shutil.rmtree(work, ignore_errors=True)
    label = f"{size.classes} classes, {size.annotators} annotators, {answers:,} answers"
    return [
        Result("report", f"statistics (analyse) - {label}", statistics, "s", "", baseline, "stats.compare alone"),
        Result("report", f"rendering ({len(files)} files) - {label}", rendering, "s", f"< {TARGET_S:g} s", baseline, "stats.compare alone", rendering < TARGET_S),
        Result("report", f"whole report - {label}", statistics + rendering, "s", f"< {TARGET_S:g} s", baseline, "stats.compare alone",
               statistics + rendering < TARGET_S),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print_table(run(args.quick))


if __name__ == "__main__":
    main()

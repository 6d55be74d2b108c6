"""Benchmark of the model runner's runtimes: PyTorch eager vs onnxruntime on the CPU.

Workload: EfficientNet-Lite0 (the bundled ``efficientnet-lite0`` spec) on the 20 real
``demo-imagenet`` photos, decoded and preprocessed once, repeated to ``--images``
inputs (default 64) and run in batches of ``--batch-size`` (default 32), as ``predict``
does. Both runtimes use their default thread pools (all cores). Each is warmed up with
one batch, then timed over ``--repeats`` passes; the median pass gives images/s.
Decoding is left out: it is the same code for both and runs in parallel with the model.

Target: onnxruntime at least 4x PyTorch eager. Timings are wall-clock on this machine;
only the ratio is meant to travel. Needs torch and onnxruntime (the ``models`` extra).

Run: ``python -m benchmarks.bench_models`` (``--help`` for options; ``--quick`` for CI).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from study_app.models import find_spec, load_spec
from study_app.models.backends import Backend, open_backend
from study_app.models.provenance import cpu_description
from study_app.protocol.study import load_study

from .common import Result, print_table

TARGET_RATIO = 4.0


def median_pass_seconds(engine: Backend, inputs: np.ndarray, batch_size: int, repeats: int) -> tuple[float, np.ndarray]:
    """Median wall-clock time of one pass over ``inputs``, and that pass's outputs."""
    engine.run(inputs[:batch_size], True)  # warm-up: allocations, kernel selection
    times, outputs = [], np.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = np.concatenate(
            [engine.run(inputs[i : i + batch_size], True) for i in range(0, len(inputs), batch_size)]
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times), outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images", type=int, default=64, help="inputs per pass (the 20 photos repeated; default %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="(default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per runtime (default %(default)s)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="32 inputs in one batch, median of 2 passes (CI smoke run; small batches favour eager PyTorch)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.batch_size, args.repeats = 32, 32, 2

    study = load_study("demo-imagenet", check_images=False)
    spec = load_spec(find_spec("efficientnet-lite0", study.root))
    photos = [spec.preprocess.load(study.images[i].path) for i in sorted(study.images)]
    inputs = np.stack([photos[i % len(photos)] for i in range(args.images)])

    print(f"machine: {cpu_description()}")
    print(
        f"model: {spec.name}, {args.images} inputs ({len(photos)} real photos "
        f"repeated), batch {args.batch_size}, median of {args.repeats} passes"
    )
    results = {}
    for label, backend in (("PyTorch eager", "torch"), ("onnxruntime", "onnxruntime")):
        engine = open_backend(spec, backend, "cpu")
        seconds, outputs = median_pass_seconds(engine, inputs, args.batch_size, args.repeats)
        results[label] = (args.images / seconds, outputs, engine.describe())

    eager_rate, eager_out, _ = results["PyTorch eager"]
    print()
    print(f"| {'runtime':<28} | {'images/s':>9} | {'ms/image':>9} | {'vs eager':>8} | {'max |dp| vs eager':>17} |")
    print(f"|{'-' * 30}|{'-' * 10}:|{'-' * 10}:|{'-' * 9}:|{'-' * 18}:|")
    for label, (rate, outputs, runtime) in results.items():
        version = runtime.get("torch_version") or runtime.get("onnxruntime_version")
        name = f"{label} {version}"
        print(
            f"| {name:<28} | {rate:9.1f} | {1000 / rate:9.1f} | "
            f"{rate / eager_rate:7.2f}x | {np.abs(outputs - eager_out).max():17.2e} |"
        )
    ratio = results["onnxruntime"][0] / eager_rate
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\ntarget onnxruntime >= {TARGET_RATIO:g}x eager: {verdict} ({ratio:.2f}x)\n")
    measure = f"{spec.name} ms/image, onnxruntime (batch {args.batch_size}, {args.images} inputs)"
    target = f">= {TARGET_RATIO:g}x baseline"
    print_table(
        [
            Result(
                "models",
                measure,
                1000 / results["onnxruntime"][0],
                "ms",
                target,
                1000 / eager_rate,
                "PyTorch eager",
                ratio >= TARGET_RATIO,
            )
        ]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared helpers for the benchmarks: machine description, percentiles, result rows."""

from __future__ import annotations

import argparse
import os
import platform
import resource
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def machine() -> str:
    """CPU model, cores, memory and OS, for RESULTS.md."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    values = np.asarray(samples_ms, dtype=float)
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/statm", encoding="utf-8") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


@dataclass(frozen=True)
class Result:
    """One measured quantity with its target and its baseline in the same run."""

    benchmark: str
    measure: str
    value: float
    unit: str
    target: str
    baseline: float | None = None
    baseline_label: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.value == 0:
            return None
        return self.baseline / self.value

    def row(self) -> str:
        base = f"{self.baseline:.3g} {self.unit} ({self.baseline_label})" if self.baseline is not None else ""
        ratio = f"{self.ratio:.1f}x" if self.ratio is not None else ""
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return (
            f"| {self.benchmark} | {self.measure} | {self.value:.3g} "
            f"{self.unit} | {self.target} | {met} | {base} | {ratio} |"
        )


TABLE_HEADER = (
    "| benchmark | measure | value | target | met | baseline (same run) | baseline / value |\n"
    "|---|---|---|---|---|---|---|"
)


def print_table(results: list[Result]) -> None:
    print(TABLE_HEADER)
    for result in results:
        print(result.row())


def run_main(description: str, run: Callable[[bool], list[Result]]) -> None:
    """Command line of a benchmark module: ``--quick`` for the CI smoke run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI smoke run: checks that it runs, not the timings)"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print_table(run(args.quick))

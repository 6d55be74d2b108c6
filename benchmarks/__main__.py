"""``python -m benchmarks [--quick] [--only MODULE ...]``: run benchmarks, print one table, update RESULTS.md.

Each benchmark module runs in its own process (so one's memory or threads cannot skew
another's numbers) and prints its rows; this collects them. A module's rows carry its
name without ``bench_`` in the first column (``bench_gui`` -> ``gui``); a run replaces
only the rows of the modules it ran (and that succeeded), and their line in the table of
runs, so ``--only gui`` leaves every other row, with its date and machine, as it was.

``--quick`` shrinks every size and generates its fixtures into a temporary folder that
is deleted afterwards; it is the CI smoke run: it fails only when a benchmark crashes,
never on timings, and leaves RESULTS.md alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import TABLE_HEADER, machine
from .results_file import ModuleRun, ResultsFile

MODULES = (
    "bench_store",
    "bench_gui",
    "bench_startup",
    "bench_stats",
    "bench_psychometric",
    "bench_mixed",
    "bench_consistency",
    "bench_conditions",
    "bench_models",
    "bench_report",
    "bench_review",
    "bench_postgres",
    "bench_web",
    "bench_scale",
)
RESULTS = Path(__file__).with_name("RESULTS.md")
ROOT = Path(__file__).parent.parent


def group_of(module: str) -> str:
    """The first-column name of a module's rows."""
    return module.removeprefix("bench_")


def run_module(name: str, quick: bool, env: dict[str, str]) -> tuple[list[str], str]:
    """(table rows, error text) of one benchmark module; its own output goes to our stderr as it comes."""
    command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if quick else [])]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    rows = [
        line for line in result.stdout.splitlines() if line.startswith(f"| {group_of(name)} |") and line.count("|") == 8
    ]
    if result.returncode != 0:
        return rows, f"{name} failed (exit status {result.returncode}); its output is above"
    if not rows:
        return rows, f"{name} printed no result rows (rows start with '| {group_of(name)} |')"
    return rows, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes in a temporary folder; fails only on crashes; RESULTS.md untouched",
    )
    parser.add_argument(
        "--only", nargs="+", choices=MODULES, metavar="MODULE", help=f"run only these modules ({', '.join(MODULES)})"
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    scratch = Path(tempfile.mkdtemp(prefix="bench-quick-")) if args.quick else None
    if scratch:
        env["BENCH_DIR"] = str(scratch)
    errors: list[str] = []
    collected: list[str] = []
    measured: dict[str, tuple[list[str], ModuleRun]] = {}
    try:
        for name in args.only or MODULES:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            started = datetime.datetime.now(datetime.UTC)
            rows, error = run_module(name, args.quick, env)
            seconds = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
            print(f"{name}: {len(rows)} rows in {seconds:.0f} s", file=sys.stderr, flush=True)
            collected.extend(rows)
            if error:
                errors.append(error)
            else:
                measured[group_of(name)] = rows, ModuleRun(name, started.strftime("%Y-%m-%d %H:%M UTC"), machine())
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join([TABLE_HEADER, *collected]))
    for error in errors:
        print(error, file=sys.stderr)
    if not args.quick and measured:
        table = ResultsFile.read(RESULTS)  # read only now: notes may have been edited while the benchmarks ran
        for group, (rows, run) in measured.items():
            table.replace(group, rows, run)
        table.write(RESULTS, [group_of(name) for name in MODULES])
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks [--quick]``: every benchmark, one table, and RESULTS.md rewritten.

Each benchmark module runs in its own process (so one's memory or threads cannot skew
another's numbers) and prints its rows; this collects them. ``--quick`` shrinks every
size for CI, where only crashes count, never timings, and leaves RESULTS.md alone.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

from .common import TABLE_HEADER, machine

MODULES = ("bench_store", "bench_gui", "bench_stats", "bench_models", "bench_report")
RESULTS = Path(__file__).with_name("RESULTS.md")


def run_module(name: str, quick: bool) -> tuple[list[str], str]:
    """(table rows, error text) of one benchmark module."""
    if not Path(__file__).with_name(f"{name}.py").exists():
        return [], ""
    command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if quick else [])]
    result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    rows = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| ") and not line.startswith(("| benchmark", "|---")) and line.count("|") == 8
    ]
    error = "" if result.returncode == 0 else f"{name} failed ({result.returncode}):\n{result.stderr[-2000:]}"
    return rows, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; fails only on crashes; RESULTS.md untouched")
    parser.add_argument("--only", nargs="+", choices=MODULES, help="run only these benchmark modules")
    args = parser.parse_args()
    rows: list[str] = []
    errors: list[str] = []
    for name in args.only or MODULES:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        found, error = run_module(name, args.quick)
        rows.extend(found)
        if error:
            errors.append(error)
    table = "\n".join([TABLE_HEADER, *rows])
    print(table)
    for error in errors:
        print(error, file=sys.stderr)
    if not args.quick and not errors:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        notes = old[old.index("## Notes") :] if "## Notes" in old else ""  # hand-written explanations stay
        RESULTS.write_text(
            f"# Benchmark results\n\nMachine: {machine()}. Date: {stamp}. Command: `python -m benchmarks`.\n\n{table}\n\n{notes}",
            encoding="utf-8",
        )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

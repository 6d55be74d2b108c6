"""Mutation fuzzing of protocol folders and prediction files: only our clear errors may escape.

Each case starts from a small valid study (two classes, four PNG images), mutates one of
its files (byte flips, insertions, deletions, truncation, repeated or swapped lines,
random TOML values or keys, random CSV cells) and loads the study, or reads the mutated
predictions file through both readers. A :class:`~study_app.errors.StudyError` is the
expected outcome of bad input; any other exception is a bug and is reported with the
seed that reproduces it.

The test suite runs a few thousand cases; for a longer run::

    python -m tests.reliability.fuzz --cases 100000 [--seed 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from study_app.errors import Problem, StudyError
from study_app.importers.predictions import read_prediction_file
from study_app.io.csvfiles import write_csv
from study_app.protocol.study import load_study

STUDY_TOML = """format = 1
name = "fuzz"
version = "1"
title = "Fuzz"
description = "two classes"
seed = 3
instructions = "instructions.md"

[labels]
file = "labels.csv"
hierarchy = "hierarchy.csv"
nodes = "nodes.csv"
examples = "examples.csv"
examples_per_class = 1

[images]
manifest = "manifest.csv"
max_pixels = 100000

[[phases]]
name = "training"
split = "train"
feedback = true
answers = 1
break_every = 1

[[phases]]
name = "test"
split = "test"
n = 2
answers = 2
mode = "ranked"
order = "random"
time_limit_s = 2.5
[phases.presentation]
fixation_ms = 100
image_ms = 50
mask_ms = 50

[models]
predictions = []

[keys]
submit = "F12"
"""

PREDICTIONS = [
    ["m", "a1", "1", "cat", "0.9"],
    ["m", "a1", "2", "dog", "0.1"],
    ["m", "b1", "1", "dog", "0.8"],
    ["m", "b1", "2", "cat", "0.2"],
    ["m", "a2", "1", "cat", ""],
    ["m", "b2", "1", "cat", "1e-3"],
]

#: Files of the study that a mutation may hit, with how often.
TARGETS = (
    ("study.toml", 8),
    ("labels.csv", 2),
    ("manifest.csv", 3),
    ("hierarchy.csv", 1),
    ("nodes.csv", 1),
    ("examples.csv", 1),
    ("predictions.csv", 2),
    ("instructions.md", 1),
)

TOML_VALUES = (
    '""',
    '"x"',
    '"../x"',
    '"/etc/passwd"',
    "0",
    "-1",
    "1",
    "99999999999999999999",
    "1e308",
    "inf",
    "nan",
    "-0.0",
    "true",
    "false",
    "[]",
    '[1, "a"]',
    "{}",
    "{a = 1}",
    "1979-05-27T07:32:00Z",
    '"\\u0000"',
    "'''\nmulti\n'''",
    '"ranked"',
    '"multi-label"',
    '"random"',
    '"fixed"',
    "10",
    "11",
    "2",
    '["predictions.csv", 3]',
    '["predictions.csv"]',
)
TOML_KEYS = (
    "name",
    "seed",
    "format",
    "file",
    "manifest",
    "root",
    "split",
    "n",
    "answers",
    "mode",
    "order",
    "feedback",
    "break_every",
    "time_limit_s",
    "countdown",
    "image_ms",
    "fixation_ms",
    "mask_ms",
    "predictions",
    "hierarchy",
    "nodes",
    "examples",
    "examples_root",
    "max_pixels",
    "instructions",
    "allow_overlap",
    "submit",
    "quit",
    "nmae",
    "labels",
    "images",
    "phases",
    "presentation",
    "keys",
    "models",
)
CSV_CELLS = (
    "",
    " ",
    "cat",
    "dog",
    "animal",
    "a1",
    "b2",
    "0",
    "-1",
    "1.5",
    "nan",
    "inf",
    "1e400",
    "99999999999999999999",
    "train",
    "test",
    "images/a1.png",
    "../x",
    "/etc/passwd",
    "images",
    "a;b",
    ";",
    '"',
    '""',
    "x,y",
    "\u202e",
    "=1+1",
    "\x00",
    "\ufeff",
    "é",
    "😀",
    "a\nb",
    "cat;cat",
    "model",
    "rank",
    "label_id",
    "score",
    "image_id",
)


def write_base(root: Path) -> None:
    """The valid study every case starts from."""
    images = root / "images"
    images.mkdir(parents=True)
    colours = {
        "a1": (200, 0, 0),
        "a2": (190, 10, 0),
        "b1": (0, 0, 200),
        "b2": (0, 10, 190),
        "ea": (250, 0, 0),
        "eb": (0, 0, 250),
    }
    for name, colour in colours.items():
        Image.new("RGB", (6, 4), colour).save(images / f"{name}.png")
    write_csv(
        root / "labels.csv",
        ["label_id", "name", "synonyms", "definition"],
        [["cat", "cat", "kitty", "a feline"], ["dog", "dog", "", "a canid"]],
    )
    write_csv(root / "nodes.csv", ["label_id", "name", "synonyms", "definition"], [["animal", "animal", "", ""]])
    write_csv(root / "hierarchy.csv", ["child", "parent"], [["cat", "animal"], ["dog", "animal"]])
    write_csv(root / "examples.csv", ["label_id", "path"], [["cat", "images/ea.png"], ["dog", "images/eb.png"]])
    write_csv(
        root / "manifest.csv",
        ["image_id", "path", "labels", "split"],
        [
            ["a1", "images/a1.png", "cat", "train"],
            ["b1", "images/b1.png", "dog", "train"],
            ["a2", "images/a2.png", "cat", "test"],
            ["b2", "images/b2.png", "dog;cat", "test"],
        ],
    )
    write_csv(root / "predictions.csv", ["model", "image_id", "rank", "label_id", "score"], PREDICTIONS)
    (root / "instructions.md").write_text("Pick the class.\n", encoding="utf-8")
    (root / "study.toml").write_text(STUDY_TOML, encoding="utf-8")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def mutate(data: bytes, rng: random.Random, is_toml: bool) -> bytes:
    """One to three random edits of ``data``."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(10)
        if kind == 0 and data:  # flip bits of a few bytes
            buf = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            data = bytes(buf)
        elif kind == 1:  # insert random bytes
            at = rng.randrange(len(data) + 1)
            data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:]
        elif kind == 2 and data:  # delete a range
            at = rng.randrange(len(data))
            data = data[:at] + data[at + rng.randint(1, 40) :]
        elif kind == 3:  # truncate
            data = data[: rng.randrange(len(data) + 1)]
        elif kind == 4:  # repeat or drop a line
            lines = _lines(data)
            i = rng.randrange(len(lines))
            lines[i : i + 1] = [lines[i]] * rng.choice((0, 2, 3))
            data = b"\n".join(lines)
        elif kind == 5:  # swap two lines
            lines = _lines(data)
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif kind == 6:  # change the encoding of the file or prepend a BOM
            text = data.decode("utf-8", "replace")
            data = rng.choice(
                (
                    text.encode("utf-16"),
                    text.encode("latin-1", "replace"),
                    b"\xef\xbb\xbf" + data,
                    text.encode("utf-8") + "é".encode("latin-1"),
                )
            )
        elif is_toml and kind in (7, 8):  # a random value for a random key
            lines = _lines(data)
            i = rng.randrange(len(lines))
            key = (
                rng.choice(TOML_KEYS)
                if kind == 8 or b"=" not in lines[i]
                else lines[i].split(b"=")[0].decode("utf-8", "replace").strip()
            )
            lines.insert(i, f"{key} = {rng.choice(TOML_VALUES)}".encode())
            if kind == 7 and b"=" in lines[i + 1]:
                del lines[i + 1]
            data = b"\n".join(lines)
        elif is_toml:  # a random table header
            lines = _lines(data)
            header = rng.choice(
                (
                    "[labels]",
                    "[images]",
                    "[[phases]]",
                    "[phases.presentation]",
                    "[models]",
                    "[keys]",
                    "[x]",
                    "[[labels]]",
                    "[phases]",
                )
            )
            lines.insert(rng.randrange(len(lines) + 1), header.encode())
            data = b"\n".join(lines)
        else:  # a random cell in a random row (CSV)
            lines = _lines(data)
            i = rng.randrange(len(lines))
            cells = lines[i].split(b",")
            cells[rng.randrange(len(cells))] = rng.choice(CSV_CELLS).encode("utf-8")
            lines[i] = b",".join(cells)
            data = b"\n".join(lines)
    return data


@dataclass
class Failure:
    seed: int
    target: str
    error: str


def _check(call) -> str | None:
    """Run ``call``; None for success or a clear error, else the traceback."""
    try:
        call()
    except StudyError as exc:
        if not str(exc).strip():
            return "StudyError without a message"
        problems: list[Problem] = getattr(exc, "problems", [])
        if any(not p.file or not p.message for p in problems):
            return f"a problem without file or message: {exc}"
    except Exception:  # noqa: BLE001 - anything else escaping is exactly what we hunt for
        return traceback.format_exc()
    return None


def run_case(base: Path, work: Path, seed: int) -> Failure | None:
    """Mutate one file of the base study (restored afterwards) and load the study or read the file."""
    rng = random.Random(seed)
    target = rng.choices([t for t, _ in TARGETS], [w for _, w in TARGETS])[0]
    original = (base / target).read_bytes()
    path = work / target
    path.write_bytes(mutate(original, rng, target.endswith(".toml")))
    try:
        if target == "predictions.csv":  # the reader of compare/report, which checks tidy files as the loader does
            calls = (lambda: read_prediction_file(path, image_ids={"a1", "a2", "b1", "b2"}, label_ids={"cat", "dog"}),)
        else:
            calls = (lambda: load_study(work, check_images=True),)
        for call in calls:
            error = _check(call)
            if error:
                return Failure(seed, target, error)
        return None
    finally:
        path.write_bytes(original)


def run(cases: int, first_seed: int = 0, stop_after: int = 20) -> tuple[int, list[Failure]]:
    """Run ``cases`` seeded cases; returns (cases run, failures) and stops after ``stop_after`` failures."""
    failures: list[Failure] = []
    memory = Path("/dev/shm")  # thousands of small writes: in memory where the system offers it
    folder = memory if memory.is_dir() and os.access(memory, os.W_OK) else None
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory(prefix="study-fuzz-", dir=folder) as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # the validation cache runs too, but not in the user's
        try:
            return _run_in(Path(tmp), cases, first_seed, stop_after, failures)
        finally:
            if saved_cache is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = saved_cache


def _run_in(
    tmp: Path, cases: int, first_seed: int, stop_after: int, failures: list[Failure]
) -> tuple[int, list[Failure]]:
    base, work = tmp / "base", tmp / "work"
    write_base(base)
    shutil.copytree(base, work)
    load_study(work)  # the base study itself must be valid
    for seed in range(first_seed, first_seed + cases):
        failure = run_case(base, work, seed)
        if failure:
            failures.append(failure)
            if len(failures) >= stop_after:
                return seed - first_seed + 1, failures
    return cases, failures


def run_parallel(cases: int, first_seed: int = 0, workers: int | None = None) -> tuple[int, list[Failure]]:
    """:func:`run` split into consecutive seed ranges over worker processes (one per core, at most 4)."""
    workers = max(1, min(4, workers or os.cpu_count() or 1))
    if workers == 1:
        return run(cases, first_seed)
    size = -(-cases // workers)
    starts = range(first_seed, first_seed + cases, size)
    counts = [min(size, first_seed + cases - start) for start in starts]
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold a QApplication
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = list(pool.map(run, counts, starts))
    return sum(done for done, _ in results), [failure for _, found in results for failure in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="first seed (each case uses seed, seed+1, ...)")
    parser.add_argument("--workers", type=int, help="processes (default: one per core, at most 4)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    done, failures = run_parallel(args.cases, args.seed, args.workers)
    for failure in failures:
        print(f"--- seed {failure.seed} ({failure.target})\n{failure.error}")
    print(f"{done} cases in {time.monotonic() - started:.1f} s: {len(failures)} uncaught exception(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

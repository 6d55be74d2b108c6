"""A small degradation study for the tests of ``compare`` and ``report`` on conditions."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from study_app.authoring.degraded import write_degraded_study
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from tests.factory import make_study

LEVELS = ["0", "0.1", "0.35", "0.6"]


def make_degraded_study(root: Path) -> tuple[Path, Path, Path]:
    """The tiny study (4 classes, 16 test images) degraded with uniform noise at ``LEVELS``, four
    simulated annotators in a pilot store, and the source's model predictions carried over to
    every degraded stimulus (``<source>@<level>``): the study folder, the store, the predictions."""
    source = make_study(root / "source", per_class_test=4)
    out, _ = write_degraded_study(source, "uniform_noise", [float(level) for level in LEVELS], 1, root / "degraded")
    store = root / "pilot.sqlite"
    run_pilot(load_study(out), 4, store, accuracy=0.8, seed=3)
    predictions = pd.read_csv(source / "predictions.csv", dtype=str)
    stimuli = pd.read_csv(out / "manifest.csv", dtype=str)[["image_id", "source_image_id"]]
    carried = stimuli.merge(predictions.rename(columns={"image_id": "source_image_id"}), on="source_image_id")
    carried[["model", "image_id", "rank", "label_id", "score"]].to_csv(root / "predictions.csv", index=False)
    return out, store, root / "predictions.csv"


def run_command(add_command: Callable[[argparse._SubParsersAction], None], argv: list[str]) -> int:
    """Parse ``argv`` with the parser that ``add_command`` builds and run its handler in-process
    (errors propagate as exceptions, so a test sees a ``StudyError`` itself)."""
    parser = argparse.ArgumentParser(prog="python main.py")
    add_command(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)

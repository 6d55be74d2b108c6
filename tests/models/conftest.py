"""Shared fixtures: the real demo studies, bundled specs and one prediction run per backend.

Runs are session-scoped (EfficientNet-Lite0 in PyTorch eager mode takes seconds per
batch on a small CPU). The ONNX export cache goes to the session's private cache folder
(tests/conftest.py), never the user's ~/.cache.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from study_app.models import find_spec, load_spec, predict_study
from study_app.models.spec import ModelSpec
from study_app.protocol.study import Study, load_study

#: Runs ``predict`` as the installed CLI will, whether or not study_app.cli.main wires it in yet.
PREDICT_SCRIPT = (
    "import argparse, sys\n"
    "from study_app.cli.models import add_predict_command\n"
    "parser = argparse.ArgumentParser(); add_predict_command(parser.add_subparsers())\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def predict_command(*args: str) -> list[str]:
    return [sys.executable, "-c", PREDICT_SCRIPT, "predict", *args]


@pytest.fixture(scope="session")
def imagenet_study() -> Study:
    return load_study("demo-imagenet", check_images=False)


@pytest.fixture(scope="session")
def lite0_spec(imagenet_study: Study) -> ModelSpec:
    return load_spec(find_spec("efficientnet-lite0", imagenet_study.root))


@pytest.fixture(scope="session")
def imagenet_runs(
    tmp_path_factory: pytest.TempPathFactory, imagenet_study: Study, lite0_spec: ModelSpec
) -> dict[str, pd.DataFrame]:
    """EfficientNet-Lite0 predictions of the 20 demo photos from each available backend."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("imagenet-runs")
    frames = {}
    for backend in ("onnxruntime", "torch"):
        out = folder / f"{backend}.csv"
        result = predict_study(imagenet_study, lite0_spec, out, backend=backend, batch_size=8, progress=False)
        assert result.predicted == 20 and not result.interrupted
        frames[backend] = pd.read_csv(out, dtype={"label_id": str})
    return frames

"""``compare --json`` and every table it writes, byte for byte as before the columnar predictions.

Issue #25 changed how predictions are read (columns of category codes, Parquet) and scored
(joins on codes instead of per-row strings); the results must not change. The recorded
outputs in ``golden/compare.json`` were made by the code before that change (commit
561748c) on the inputs built here, which are deterministic: the bundled studies' own
prediction files, a generated ILSVRC-style study (``benchmarks.make_fixture``: 1000
classes, 4 models, 2 annotators) as tidy CSV, a wide CSV of two of its models, and the
pilot stores of the tiny study and of its degraded copy (conditions). The Parquet copy of
the generated predictions must give exactly the CSV's outputs.

``python -m tests.analysis.test_compare_golden`` rewrites the recording with whatever code
is on the path: do it only on purpose, when a result is meant to change.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.make_fixture import make_fixture
from study_app.cli.compare import add_compare_commands
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study
from study_app.session.pilot import run_pilot
from tests.degraded import make_degraded_study, run_command
from tests.factory import make_study

GOLDEN = Path(__file__).with_name("golden") / "compare.json"
N_BOOT = ["--n-boot", "300"]
CASES = (
    "digits predictions alone",
    "imagenet predictions alone",
    "fixture answers and tidy CSV",
    "fixture wide CSVs alone",
    "tiny study store, every phase",
    "degraded study store",
)


def build_inputs(root: Path) -> dict[str, list[str]]:
    """Every case's input files under ``root``, and the ``compare`` arguments that read them."""
    digits, imagenet = BUNDLED_PROTOCOLS / "demo-digits", BUNDLED_PROTOCOLS / "demo-imagenet"
    fixture = make_fixture(
        root / "fixture",
        classes=1000,
        examples_per_class=0,
        test_images=400,
        train_images=0,
        models=4,
        annotators=2,
        annotated_images=150,
        images=False,
        parquet=True,
    )
    tidy = pd.read_csv(fixture / "predictions.csv", dtype=str)
    for model in ("model-001", "model-003"):
        wide = tidy[tidy["model"] == model].pivot(index="image_id", columns="rank", values="label_id")
        wide.columns = [f"top{rank}" for rank in wide.columns]
        wide.reset_index().to_csv(root / f"{model}-wide.csv", index=False)
    tiny = make_study(root / "tiny")
    run_pilot(load_study(tiny, check_images=False), 3, root / "tiny.sqlite", accuracy=0.7, seed=5)
    degraded, degraded_store, degraded_predictions = make_degraded_study(root / "degraded")
    files = ["--truth", str(fixture / "manifest.csv"), "--answers", str(fixture / "answers.csv")]
    return {
        "digits predictions alone": [
            "--truth",
            str(digits / "manifest.csv"),
            "--predictions",
            str(digits / "predictions" / "models.csv"),
        ],
        "imagenet predictions alone": [
            "--truth",
            str(imagenet / "manifest.csv"),
            "--predictions",
            str(imagenet / "predictions" / "efficientnet-lite0.csv"),
        ],
        "fixture answers and tidy CSV": [*files, "--predictions", str(fixture / "predictions.csv")],
        "fixture wide CSVs alone": [
            "--truth",
            str(fixture / "manifest.csv"),
            "--predictions",
            str(root / "model-001-wide.csv"),
            str(root / "model-003-wide.csv"),
        ],
        "tiny study store, every phase": [
            "--study",
            str(tiny),
            "--store",
            str(root / "tiny.sqlite"),
            "--phase",
            "training",
            "--phase",
            "test",
        ],
        "degraded study store": [
            "--study",
            str(degraded),
            "--store",
            str(degraded_store),
            "--predictions",
            str(degraded_predictions),
        ],
    }


def outputs(argv: list[str], out: Path, root: Path) -> dict:
    """The JSON ``compare`` prints and the SHA-256 of each table it writes (paths made relative to ``root``)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert run_command(add_compare_commands, ["compare", *argv, *N_BOOT, "--json", "--out", str(out)]) == 0
    text = printed.getvalue().replace(str(root), "<root>")
    tables = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(out.glob("*.csv"))}
    shutil.rmtree(out)
    return {"json": json.loads(text), "tables": tables}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    return root, build_inputs(root)


@pytest.mark.parametrize("case", CASES)
def test_compare_outputs_are_unchanged(cases, case):
    root, argv = cases
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))[case]
    assert outputs(argv[case], root / "out", root) == recorded


def test_parquet_predictions_give_the_csv_outputs(cases):
    root, argv = cases
    csv_argv = argv["fixture answers and tidy CSV"]
    parquet_argv = [a.replace("predictions.csv", "predictions.parquet") for a in csv_argv]
    assert parquet_argv != csv_argv
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))["fixture answers and tidy CSV"]
    from_parquet = outputs(parquet_argv, root / "out", root)
    assert from_parquet["tables"] == recorded["tables"]
    # the JSON names the prediction file nowhere but in the notes of what was read
    assert from_parquet["json"] == recorded["json"]


def main() -> None:
    root = Path(sys.argv[1])
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    argv = build_inputs(root)
    assert tuple(argv) == CASES
    recorded = {case: outputs(arguments, root / "out", root) for case, arguments in argv.items()}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} ({len(recorded)} cases)")


if __name__ == "__main__":
    main()

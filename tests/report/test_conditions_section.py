"""The report's Conditions section: present (with its figure, thresholds and the headline's
statement that it pools conditions) exactly when the data has conditions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from study_app.cli.report import add_report_command
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from tests.degraded import LEVELS, make_degraded_study, run_command
from tests.factory import make_study

RAW = Path("/work/shared/data/model-vs-human/raw-data")
POOLS = "These rates pool all condition levels"


def run(argv: list[str]) -> int:
    return run_command(add_report_command, ["report", *argv])


@pytest.fixture(scope="module")
def degraded_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("condition-report")
    study, store, predictions = make_degraded_study(root)
    argv = ["--study", str(study), "--store", str(store), "--predictions", str(predictions), "--n-boot", "200"]
    assert run([*argv, "--out", str(root / "report")]) == 0
    return root, argv


def test_a_study_with_conditions_gets_the_section_with_figure_thresholds_and_the_pooling_note(degraded_report):
    root, _ = degraded_report
    report = root / "report"
    markdown = (report / "report.md").read_text(encoding="utf-8")
    html = (report / "index.html").read_text(encoding="utf-8")
    assert '<a href="#conditions">Conditions</a>' in html and "## Conditions" in markdown
    errors = markdown.split("## Error rates", 1)[1].split("###", 1)[0]
    assert f"{POOLS} (test: {', '.join(LEVELS)})" in errors  # the pooled headline says what it pools
    section = markdown.split("## Conditions", 1)[1].split("\n## ", 1)[0]
    assert "![Accuracy by condition: test](figures/accuracy-by-condition-test.png)" in section
    assert (report / "figures" / "accuracy-by-condition-test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "### Psychometric thresholds" in section and "### Error consistency per condition" in section
    for level in LEVELS:  # the annotators' mean and each model at every level
        for rater in ("humans (mean of annotators)", "model-a", "model-b"):
            assert f"| test | {level} | {rater} |" in section, (level, rater)
    rates = pd.read_csv(report / "tables" / "conditions.csv", dtype={"condition": str})
    assert set(rates["scope"]) == {"all", "shared"} and sorted(rates["condition"].unique()) == LEVELS
    assert (rates.loc[rates["kind"] == "human", "rater"].nunique()) == 4
    fits = pd.read_csv(report / "tables" / "psychometric.csv")
    assert "humans (pooled trials)" in set(fits["rater"]) and (fits["guess"] == 0.25).all()
    consistency = pd.read_csv(report / "tables" / "condition_consistency.csv", dtype={"condition": str})
    assert sorted(consistency["condition"].unique()) == LEVELS and set(consistency["model"]) == {"model-a", "model-b"}


def test_the_section_is_byte_reproducible(degraded_report):
    root, argv = degraded_report
    assert run([*argv, "--out", str(root / "again")]) == 0
    for name in (
        "figures/accuracy-by-condition-test.svg",
        "figures/accuracy-by-condition-test.png",
        "tables/conditions.csv",
        "tables/psychometric.csv",
        "tables/condition_consistency.csv",
    ):
        assert (root / "report" / name).read_bytes() == (root / "again" / name).read_bytes(), name
    first, second = (
        (root / folder / "report.md").read_text(encoding="utf-8").split("## Conditions", 1)[1]
        for folder in ("report", "again")
    )
    assert first == second


def test_a_study_without_conditions_has_no_section_and_no_pooling_note(tmp_path):
    study = make_study(tmp_path / "plain")
    run_pilot(load_study(study), 2, tmp_path / "pilot.sqlite", seed=1)
    assert (
        run(
            [
                "--study",
                str(study),
                "--store",
                str(tmp_path / "pilot.sqlite"),
                "--n-boot",
                "200",
                "--out",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Conditions" not in markdown and POOLS not in markdown and "condition level" not in markdown
    assert (
        not list((tmp_path / "report").rglob("*condition*"))
        and not (tmp_path / "report" / "tables" / "psychometric.csv").exists()
    )


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_model_vs_human_gets_the_section_with_each_model_and_decreasing_fits(tmp_path):
    assert (
        run(
            [
                "--model-vs-human",
                str(RAW),
                "--dataset",
                "uniform-noise",
                "--n-boot",
                "200",
                "--out",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert POOLS in markdown and "## Conditions" in markdown
    fits = pd.read_csv(tmp_path / "report" / "tables" / "psychometric.csv")
    assert set(fits["direction"]) == {"decreasing"} and (fits["guess"] == 1 / 16).all()
    assert {"resnet50", "bagnet33", "simclr_resnet50x1"} <= set(fits["rater"])
    assert "### Model against annotators: threshold difference" in markdown

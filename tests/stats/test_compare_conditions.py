"""``compare`` on inputs with conditions: a ``new-study degrade`` study after ``simulate``, and
model-vs-human raw data, writing ``conditions.csv`` and ``psychometric.csv``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study_app.cli.compare import add_compare_commands
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from tests.degraded import LEVELS, make_degraded_study, run_command
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT.parent.parent / "shared" / "data" / "model-vs-human" / "raw-data"
if not RAW.is_dir():
    RAW = Path("/work/shared/data/model-vs-human/raw-data")
POOLED = "humans (mean of annotators)"


def run(argv: list[str]) -> int:
    return run_command(add_compare_commands, ["compare", *argv])


@pytest.fixture(scope="module")
def degraded(tmp_path_factory):
    return make_degraded_study(tmp_path_factory.mktemp("conditions"))


def compare_degraded(degraded, out: Path, *extra: str) -> int:
    study, store, predictions = degraded
    return run(
        [
            "--study",
            str(study),
            "--store",
            str(store),
            "--predictions",
            str(predictions),
            "--n-boot",
            "200",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_a_degraded_study_gets_conditions_and_psychometric_tables(degraded, tmp_path, capsys):
    assert compare_degraded(degraded, tmp_path / "out") == 0
    printed = capsys.readouterr().out
    assert (
        "Per-condition error rates (%)" in printed
        and "humans (mean)" in printed
        and "Psychometric thresholds" in printed
    )
    rates = pd.read_csv(tmp_path / "out" / "conditions.csv", dtype={"condition": str})
    assert {
        "phase",
        "condition",
        "rater",
        "kind",
        "scope",
        "n",
        "errors",
        "error_rate",
        "wilson_low",
        "wilson_high",
        "boot_low",
        "boot_high",
    } <= set(rates.columns)
    assert set(rates["scope"]) == {"all", "shared"}
    raters = pd.read_csv(tmp_path / "out" / "raters.csv", dtype={"condition": str})
    annotators = sorted(raters.loc[raters["kind"] == "human", "rater"].unique())
    assert len(annotators) == 4
    for scope in ("all", "shared"):
        for level in LEVELS:
            cell = rates[(rates["scope"] == scope) & (rates["condition"] == level)]
            assert sorted(cell["rater"]) == sorted([*annotators, "model-a", "model-b", POOLED]), (scope, level)
    everything = rates[rates["scope"] == "all"]
    # every trial of each rater counted at its level: the models saw each of 16 sources at each level
    assert (everything.loc[everything["kind"] == "model", "n"] == 16).all()
    people = everything[everything["kind"] == "human"]
    answered = (
        raters[raters["kind"] == "human"]
        .groupby(["rater", "condition"])
        .agg(n=("image_id", "size"), right=("correct_topk", "sum"))
    )
    mine = people.set_index(["rater", "condition"]).loc[answered.index]
    assert (mine["n"] == answered["n"]).all() and (mine["errors"] == answered["n"] - answered["right"]).all()
    pooled = everything[everything["kind"] == "humans"].set_index("condition")["error_rate"]
    assert np.allclose(pooled.loc[LEVELS], people.groupby("condition")["error_rate"].mean().loc[LEVELS], atol=1e-12)

    fits = pd.read_csv(tmp_path / "out" / "psychometric.csv")
    assert sorted(fits["rater"]) == sorted([*annotators, "model-a", "model-b", "humans (pooled trials)"])
    assert (fits["guess"] == 0.25).all()  # four classes
    assert {"alpha", "beta", "lapse", "threshold", "threshold_low", "threshold_high", "note"} <= set(fits.columns)


def test_the_psychometric_direction_is_an_option_and_json_carries_the_conditions(degraded, tmp_path, capsys):
    assert compare_degraded(degraded, tmp_path / "out", "--json", "--psychometric-direction", "increasing") == 0
    result = json.loads(capsys.readouterr().out)
    conditions = result["conditions"]
    assert conditions["psychometric_direction"] == "increasing"
    assert {row["direction"] for row in conditions["psychometric"]} == {"increasing"}
    assert len(conditions["conditions"]) == len(pd.read_csv(tmp_path / "out" / "conditions.csv"))
    assert any("--psychometric-direction" in note for note in conditions["notes"])


def test_a_study_without_conditions_writes_no_condition_tables(tmp_path, capsys):
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
                str(tmp_path / "out"),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["conditions"] is None
    assert not (tmp_path / "out" / "conditions.csv").exists() and not (tmp_path / "out" / "psychometric.csv").exists()


def direct_counts(dataset: str) -> pd.DataFrame:
    """Trials and errors per rater and level, straight from the raw CSV files with pandas."""
    frames = []
    for path in sorted((RAW / dataset).glob("*.csv")):
        frame = pd.read_csv(path, dtype=str)
        frames.append(
            frame.assign(
                rater=f"{dataset}:{frame['subj'].iloc[0]}" if "subject" in path.name else frame["subj"].iloc[0]
            )
        )
    trials = pd.concat(frames, ignore_index=True)
    trials["level"] = trials["condition"].astype(float)
    trials["error"] = trials["object_response"] != trials["category"]
    return trials.groupby(["rater", "level"])["error"].agg(n="size", errors="sum").reset_index()


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_model_vs_human_per_condition_accuracies_equal_pandas_on_the_raw_files(tmp_path):
    out = tmp_path / "mvh"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "compare",
            "--model-vs-human",
            str(RAW),
            "--dataset",
            "uniform-noise",
            "--n-boot",
            "200",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Per-condition error rates (%)" in done.stdout
    rates = pd.read_csv(out / "conditions.csv", dtype={"condition": str})
    single = rates[(rates["scope"] == "all") & (rates["kind"] != "humans")].assign(
        level=lambda t: t["condition"].astype(float)
    )
    direct = direct_counts("uniform-noise")
    merged = direct.merge(single, on=["rater", "level"], how="outer", suffixes=("_direct", ""), indicator=True)
    assert (
        merged["_merge"] == "both"
    ).all()  # every rater and every level of the raw files, the benchmark's excluded ones too
    assert len(set(merged["rater"])) == 7 and merged["level"].nunique() == 8  # 4 subjects and 3 models, 8 noise widths
    assert (merged["n_direct"] == merged["n"]).all() and (merged["errors_direct"] == merged["errors"]).all()
    assert np.allclose(1 - merged["error_rate"], 1 - merged["errors_direct"] / merged["n_direct"], rtol=0, atol=1e-15)
    humans = rates[(rates["scope"] == "all") & (rates["kind"] == "humans")].set_index("condition")["error_rate"]
    subjects = single[single["kind"] == "human"].groupby("condition")["error_rate"].mean()
    assert np.allclose(humans.sort_index(), subjects.sort_index(), rtol=0, atol=1e-15)
    fits = pd.read_csv(out / "psychometric.csv")
    assert (fits["guess"] == 1 / 16).all() and set(fits["direction"]) == {"decreasing"}  # accuracy falls with noise
    assert len(fits) == 8  # 7 raters and the annotators' pooled trials
    tests = pd.read_csv(out / "threshold_tests.csv")
    assert (
        sorted(tests["model"]) == ["bagnet33", "resnet50", "simclr_resnet50x1"] and (tests["n_annotators"] == 4).all()
    )
    pooled = fits.set_index("rater").loc["humans (pooled trials)", "threshold"]
    assert np.allclose(tests["humans_threshold"], pooled, rtol=1e-9)  # the same fit as psychometric.csv's pooled row
    assert np.allclose(tests["difference"], tests["model_threshold"] - tests["humans_threshold"], rtol=1e-12)


def test_model_vs_human_options_are_checked(tmp_path, capsys):
    from study_app.errors import StudyError

    with pytest.raises(StudyError, match="--model-vs-human needs --dataset"):
        run(["--model-vs-human", str(tmp_path)])
    with pytest.raises(StudyError, match="give one source"):
        run(["--model-vs-human", str(tmp_path), "--dataset", "edge", "--study", "demo-digits"])


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_a_data_set_with_word_levels_gets_rates_but_no_fits_and_says_so(tmp_path, capsys):
    argv = ["--model-vs-human", str(RAW), "--dataset", "contrast", "--dataset", "uniform-noise", "--n-boot", "200"]
    assert run([*argv, "--out", str(tmp_path / "out"), "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["conditions"]["notes"]
    assert any(
        note.startswith("contrast: no psychometric fits, condition levels are not finite numbers ('c01'")
        for note in notes
    )
    rates = pd.read_csv(tmp_path / "out" / "conditions.csv", dtype={"condition": str})
    assert "c05" in set(rates.loc[rates["phase"] == "contrast", "condition"])  # word levels as written
    assert set(pd.read_csv(tmp_path / "out" / "psychometric.csv")["phase"]) == {"uniform-noise"}

"""``python main.py new-study degrade`` as a user runs it: real subprocesses on the bundled demo study."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "study_app" / "protocols" / "demo-imagenet"
LEVELS = ["0", "0.1", "0.35", "0.6"]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def degrade(
    source: str | Path, out: Path, *extra: str, levels=LEVELS, transform="uniform_noise"
) -> subprocess.CompletedProcess:
    return run(
        "new-study",
        "degrade",
        "--from",
        str(source),
        "--transform",
        transform,
        "--levels",
        *levels,
        "--seed",
        "1",
        "--out",
        str(out),
        *extra,
    )


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def degraded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("degrade") / "noise"
    done = degrade("demo-imagenet", out, "--presentation-ms", "200")
    assert done.returncode == 0, done.stderr
    return out


def test_the_degraded_demo_validates_and_runs_through_simulate_and_export(degraded, tmp_path):
    checked = run("validate", "--study", str(degraded))
    assert checked.returncode == 0, checked.stderr
    assert "trials per condition: 0: 15, 0.1: 15, 0.35: 15, 0.6: 15" in checked.stdout
    assert "image 200 ms, mask 200 ms" in checked.stdout
    manifest = pd.read_csv(degraded / "manifest.csv", dtype=str, keep_default_na=False)
    assert list(manifest.columns) == [
        "image_id",
        "path",
        "condition",
        "source_image_id",
        "source_sha256",
        "labels",
        "split",
    ]
    assert all(Image.open(degraded / p).format == "PNG" for p in manifest["path"])
    training = manifest[manifest["split"] == "train"]
    assert set(training["condition"]) == {"0"} and len(training) == 5  # the first level given
    toml = (degraded / "study.toml").read_text(encoding="utf-8")
    assert '[stimuli]\ntransform = "uniform_noise"\nlevels = ["0", "0.1", "0.35", "0.6"]\nseed = 1' in toml

    store = tmp_path / "pilot.sqlite"
    simulated = run("simulate", "--study", str(degraded), "--annotators", "4", "--store", str(store))
    assert simulated.returncode == 0, simulated.stderr
    exported = run("export", "--store", str(store), "--out", str(tmp_path / "answers.csv"))
    assert exported.returncode == 0, exported.stderr
    answers = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False)
    tests = answers[answers["phase"] == "test"].drop_duplicates("trial_uuid")
    assert (tests["condition"] == tests["image_id"].str.split("@").str[1]).all()
    assert tests.groupby("annotator")["source_image_id"].agg(lambda s: s.is_unique).all()  # never one source twice
    assert (
        tests.groupby(["source_image_id", "condition"]).size().eq(1).all() and len(tests) == 60
    )  # 4 annotators: every stimulus once
    per_annotator = tests.groupby(["annotator", "condition"]).size().unstack()
    assert per_annotator.shape == (4, 4) and per_annotator.to_numpy().min() == 3 and per_annotator.to_numpy().max() == 4


def test_the_same_seed_writes_a_byte_identical_folder(degraded, tmp_path):
    again = degrade("demo-imagenet", tmp_path / "again", "--presentation-ms", "200")
    assert again.returncode == 0, again.stderr
    assert files_of(tmp_path / "again") == files_of(degraded)


@pytest.mark.parametrize(
    ("levels", "transform", "message"),
    [
        (["0", "2"], "uniform_noise", "level 2 is outside [0, 1]"),
        (["0", "nan"], "uniform_noise", "level nan is not a number"),
        (["0", "0.1"], "blur", "blur"),
    ],
    ids=["out-of-range", "nan", "unknown-transform"],
)
def test_bad_levels_and_transforms_are_clear_errors_and_write_nothing(tmp_path, levels, transform, message):
    done = degrade("demo-imagenet", tmp_path / "out", levels=levels, transform=transform)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert message in done.stderr
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []  # no staging folder left either


def test_an_existing_folder_and_a_folder_inside_a_protocol_are_refused(degraded, tmp_path):
    (tmp_path / "taken").mkdir()
    for out, message in ((tmp_path / "taken", "exists already"), (degraded / "inner", "protocol")):
        done = degrade("demo-imagenet", out)
        assert done.returncode == 1 and "Traceback" not in done.stderr and message in done.stderr, done.stderr
    assert not (degraded / "inner").exists() and list((tmp_path / "taken").iterdir()) == []


def test_the_degraded_study_keeps_working_when_its_source_images_change(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(DEMO, source)
    done = degrade(source, tmp_path / "noise", levels=["0", "0.35"])
    assert done.returncode == 0, done.stderr
    first = pd.read_csv(tmp_path / "noise" / "manifest.csv", dtype=str).iloc[0]
    Image.new("RGB", (64, 64), (255, 0, 0)).save(
        source / "images" / f"{first['source_image_id']}.jpg"
    )  # the source changes
    checked = run("validate", "--study", str(tmp_path / "noise"))
    assert checked.returncode == 0, checked.stderr  # it reads only its own PNGs
    assert "later changes to the source images do not change it" in checked.stdout

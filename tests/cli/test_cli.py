"""The command line as a user runs it: real subprocesses of ``python main.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_help_lists_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("validate", "new-study"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "study, counts",
    [("demo-imagenet", ("classes: 1000", "images: 20")), ("demo-digits", ("classes: 10", "images: 1797"))],
)
def test_validate_bundled(study, counts):
    result = run("validate", "--study", study)
    assert result.returncode == 0, result.stderr
    for text in counts:
        assert text in result.stdout
    assert "OK: no problems found" in result.stdout


def test_validate_reports_problems_without_traceback(tiny_study):
    (tiny_study / "labels.csv").write_text("label_id,name\ncat,cat\ncat,cat again\n")
    result = run("validate", "--study", str(tiny_study))
    assert result.returncode == 1
    assert "labels.csv:3 [label_id]: duplicate label_id 'cat'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_study_is_a_clear_error(tmp_path):
    result = run("validate", "--study", "nope", cwd=tmp_path)
    assert result.returncode == 1 and "no study 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_main_job_without_a_screen_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 1 and "no screen found" in result.stderr and "Traceback" not in result.stderr


def test_options_without_a_command_open_the_annotation_session(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    argv = [sys.executable, str(ROOT / "main.py"), "--study", "demo-digits", "--annotator", "Z01"]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1 and "no screen found" in result.stderr  # it went to annotate, not to usage


def test_import_of_a_bad_table_names_the_cell_and_creates_no_store(tmp_path, tiny_study):
    store = tmp_path / "r.sqlite"
    assert run("simulate", "--study", str(tiny_study), "--annotators", "1", "--store", str(store)).returncode == 0
    assert run("export", "--store", str(store), "--out", str(tmp_path / "a.csv")).returncode == 0
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("rt_ms")] = "abc"
    (tmp_path / "bad.csv").write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n", encoding="utf-8")
    (tmp_path / "bad.manifest.json").write_text(
        (tmp_path / "a.manifest.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for table, message in (
        ("bad.csv", "bad.csv:4 [rt_ms]: 'abc' is not a number"),
        ("nothing.csv", "nothing.csv: no such file"),
    ):
        result = run("import", str(tmp_path / table), "--store", str(tmp_path / "new.sqlite"))
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "new.sqlite").exists()
    result = run("import", str(tmp_path / "a.csv"), "--store", str(tmp_path / "new.sqlite"))
    assert result.returncode == 0 and "imported" in result.stdout


def test_progress_takes_the_study_by_name_or_folder_and_refuses_an_unknown_one(tmp_path, tiny_study):
    store = tmp_path / "r.sqlite"
    assert run("simulate", "--study", str(tiny_study), "--annotators", "1", "--store", str(store)).returncode == 0
    by_folder = run("progress", "--store", str(store), "--study", str(tiny_study))
    assert by_folder.returncode == 0 and "1 annotator(s)" in by_folder.stdout
    unknown = run("progress", "--store", str(store), "--study", "nosuch")
    assert unknown.returncode == 1 and "no study 'nosuch'" in unknown.stderr and "(studies: " in unknown.stderr


def test_progress_with_the_study_alone_reads_its_default_store(tmp_path, tiny_study):
    """Issue #22 item 13: ``--study`` alone is enough (results/<study>/results.sqlite), as for export."""
    from study_app.protocol.study import study_name
    from study_app.store.results_store import STORE_FILE

    results = tmp_path / "results"
    store = results / study_name(str(tiny_study)) / STORE_FILE
    assert run("simulate", "--study", str(tiny_study), "--annotators", "1", "--store", str(store)).returncode == 0
    alone = run("progress", "--study", str(tiny_study), "--results", str(results))
    assert alone.returncode == 0, alone.stderr
    assert "1 annotator(s)" in alone.stdout
    assert alone.stdout == run("progress", "--study", str(tiny_study), "--store", str(store)).stdout
    neither = run("progress")
    assert neither.returncode == 1 and "progress needs the study (--study NAME" in neither.stderr
    assert "Traceback" not in neither.stderr


def test_the_results_folder_is_set_by_the_environment_and_the_option_wins(tmp_path, tiny_study, monkeypatch):
    """``$STUDY_APP_RESULTS`` moves every default results path; ``--results`` (before or after the
    command's name) wins over it for that command only; without either, ``./results``."""
    from study_app.cli.main import main

    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "STUDY_APP_RESULTS": str(tmp_path / "from-env")}

    def main_py(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )

    simulated = main_py("simulate", "--study", str(tiny_study), "--annotators", "1")
    assert simulated.returncode == 0, simulated.stderr
    pilot = tmp_path / "from-env" / "tiny" / "pilot.sqlite"
    assert pilot.is_file() and not (work / "results").exists()
    compared = main_py("compare", "--study", str(tiny_study), "--store", str(pilot), "--n-boot", "200")
    assert compared.returncode == 0, compared.stderr
    assert (tmp_path / "from-env" / "tiny" / "compare-pilot" / "rates.csv").is_file()
    before = main_py("--results", str(tmp_path / "option"), "simulate", "--study", str(tiny_study), "--annotators", "1")
    assert before.returncode == 0, before.stderr
    assert (tmp_path / "option" / "tiny" / "pilot.sqlite").is_file()
    monkeypatch.setenv("STUDY_APP_RESULTS", str(tmp_path / "from-env"))
    assert (
        main(
            [
                "compare",
                "--study",
                str(tiny_study),
                "--store",
                str(pilot),
                "--n-boot",
                "200",
                "--results",
                str(tmp_path / "after"),
            ]
        )
        == 0
    )
    assert (tmp_path / "after" / "tiny" / "compare-pilot" / "rates.csv").is_file()
    assert os.environ["STUDY_APP_RESULTS"] == str(tmp_path / "from-env")  # for that command only
    monkeypatch.delenv("STUDY_APP_RESULTS")
    monkeypatch.chdir(work)
    assert main(["compare", "--study", str(tiny_study), "--store", str(pilot), "--n-boot", "200"]) == 0
    assert (work / "results" / "tiny" / "compare-pilot" / "rates.csv").is_file()


def test_results_before_options_still_opens_the_annotation_session(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    argv = [
        sys.executable,
        str(ROOT / "main.py"),
        "--results",
        str(tmp_path / "r"),
        "--study",
        "demo-digits",
        "--annotator",
        "Z01",
    ]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1 and "no screen found" in result.stderr  # it went to annotate, not to usage

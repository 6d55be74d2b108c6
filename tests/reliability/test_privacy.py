"""Privacy: annotator ids are pseudonyms; exports and reports carry no computer names or home
folder paths unless asked."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from study_app.errors import StudyError
from study_app.gui.start_dialog import StartDialog
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.schedule import check_annotator_id
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text", ["alice@uni.example", "Alice Smith", "a" * 65, "-A01", "../A01", "A01;DROP", "Ålice", ""]
)
def test_names_and_addresses_are_refused_as_ids(text):
    with pytest.raises(StudyError, match="pseudonym"):
        check_annotator_id(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_accepted_id_is_a_plain_token(text):
    """Property: whatever is typed, an accepted id has only letters, digits, '_', '.', '-' and no '@'."""
    try:
        annotator = check_annotator_id(text)
    except StudyError:
        return
    assert 1 <= len(annotator) <= 64 and annotator.isascii()
    assert all(ch.isalnum() or ch in "_.-" for ch in annotator) and annotator[0].isalnum()


def test_start_dialog_will_not_start_with_an_email_address(qtbot, tiny_study, tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        dialog = StartDialog(load_study(tiny_study), store)
        qtbot.addWidget(dialog)
        dialog.id_field.setText("alice.smith@uni.example")
        assert not dialog.buttons.button(dialog.buttons.Ok).isEnabled()
        assert "pseudonym" in dialog.state.text()
        dialog.id_field.setText("A07")
        assert dialog.buttons.button(dialog.buttons.Ok).isEnabled()


def filled_store(study_dir: Path, path: Path, annotators=("P01", "P02")) -> Path:
    study = load_study(study_dir)
    with ResultsStore(path) as store:
        for annotator in annotators:
            controller = SessionController(study, store, annotator)
            while not controller.complete:
                trial = controller.current()
                now = utc_now()
                controller.submit(Response((study.truth(trial.image_id)[0],), 800.0, now, now))
            controller.finish()
    return path


def run_cli(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_export_leaves_the_computer_name_out_unless_asked(tiny_study, tmp_path):
    store = filled_store(tiny_study, tmp_path / "results.sqlite")
    host = socket.gethostname()
    with ResultsStore(store, readonly=True) as opened:
        assert {row[0] for row in opened.conn.execute("SELECT machine FROM sessions")} == {host}  # kept locally
    done = run_cli(
        ["export", "--study", str(tiny_study), "--store", str(store), "--out", str(tmp_path / "a" / "answers.csv")]
    )
    assert done.returncode == 0, done.stderr
    manifest = (tmp_path / "a" / "answers.manifest.json").read_text()
    table = (tmp_path / "a" / "answers.csv").read_text()
    assert {s["machine"] for s in json.loads(manifest)["sessions"]} == {""}
    for text in (manifest, table):
        assert host not in text and str(Path.home()) not in text and str(tmp_path) not in text
    done = run_cli(
        [
            "export",
            "--study",
            str(tiny_study),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "b" / "answers.csv"),
            "--include-machine",
        ]
    )
    assert done.returncode == 0, done.stderr
    assert {s["machine"] for s in json.loads((tmp_path / "b" / "answers.manifest.json").read_text())["sessions"]} == {
        host
    }
    assert set(pd.read_csv(tmp_path / "a" / "answers.csv")["annotator"]) == {"P01", "P02"}


def test_report_writes_home_folder_paths_as_tilde(tiny_study, tmp_path):
    home = tmp_path / "home" / "alice.smith"
    store = filled_store(tiny_study, home / "studies" / "results.sqlite")
    out = tmp_path / "report"
    done = run_cli(
        ["report", "--study", str(tiny_study), "--store", str(store), "--out", str(out)], env={"HOME": str(home)}
    )
    assert done.returncode == 0, done.stderr
    for name in ("index.html", "report.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "alice.smith" not in text and "~/studies/results.sqlite" in text

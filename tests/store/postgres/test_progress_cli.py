"""``progress`` and ``export`` on a server store, as real commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, read_export
from tests.store.postgres.conftest import allocated_study, answer_all

ROOT = Path(__file__).resolve().parents[3]


def main_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_progress_and_export_of_a_server_store(tmp_path, pg_url):
    # 8 test images, r = 2, 3 per session: two finished sessions and one that holds 3 and answered 1
    study = load_study(allocated_study(tmp_path / "s", per_class_test=2, r=2, share=3), check_images=False)
    with ResultsStore(pg_url) as store:
        for annotator in ("A1", "A2"):
            controller = SessionController(study, store, annotator)
            answer_all(controller)
            controller.finish()
        answer_all(SessionController(study, store, "A3"), limit=5)
    result = main_py("progress", "--store", pg_url, "--study", "tiny", "--images")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("study tiny (protocol ") and lines[0].endswith("3 annotator(s), 3 session(s)")
    a3 = next(line for line in lines if line.strip().startswith("A3 "))
    assert "5/7 (71%)" in a3 and "in progress" in a3
    assert sum("finished" in line for line in lines) == 2
    assert "phase training: 4 image(s), every annotator answers each; 3 answer(s): 4 image(s)" in result.stdout
    # 3 + 3 + 1 test answers fill 7 of the 16 slots; A3 still holds 2
    summary = next(line for line in lines if line.strip().startswith("phase test:"))
    assert "8 image(s), 2 answer(s) each:" in summary and "slots: 7 answered, 2 held by sessions, 7 free" in summary
    image_rows = [line.split() for line in lines if line.startswith("    img-")]
    test_rows = image_rows[-8:]
    assert sum(int(row[1]) for row in test_rows) == 7 and sum(int(row[2]) for row in test_rows) == 2

    out = tmp_path / "answers.csv"
    exported = main_py("export", "--store", pg_url, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert read_export(out)["trial_uuid"].nunique() == 4 + 3 + 4 + 3 + 5

    bad = main_py("sync", "--store", str(tmp_path / "file.sqlite"))
    assert bad.returncode == 1 and "must be the postgresql:// URL" in bad.stderr

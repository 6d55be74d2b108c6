"""One study answered at desks and in browsers, into one store: one compare and one report,
with each session's front end in the export (2 desktop sessions through the session core,
3 browser sessions over HTTP through a real server)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd

from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import ScriptedParticipant, drive_headless
from study_app.session.simulated_raters import RaschRaters
from study_app.store.results_store import ResultsStore
from study_app.web.client import WebParticipant, image_ids_by_content, scripted_participant, walk_all
from study_app.web.local import served
from study_app.web.server import ServerConfig, create_app
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def test_desk_and_browser_sessions_make_one_comparison_and_one_report(tmp_path):
    study_dir = make_study(tmp_path / "tiny")
    study = load_study(study_dir)
    store = tmp_path / "results.sqlite"
    raters = RaschRaters(0.8, 0.5, 1.0, 0)
    with ResultsStore(store) as desk_store:
        for annotator in ("D01", "D02"):
            participant = ScriptedParticipant(
                study, random.Random(annotator), raters, annotator=annotator, guesses=None, rt_ms=(900.0, 100.0)
            )
            drive_headless(SessionController(study, desk_store, annotator), participant)
    images = image_ids_by_content(study)
    with served(create_app(ServerConfig(study, store, page_rate=(1000.0, 1000.0)))) as url:
        pages = [
            WebParticipant(url, study, scripted_participant(study, name, raters, 0, (900.0, 100.0)), images=images)
            for name in ("W01", "W02", "W03")
        ]
        runs = asyncio.run(walk_all(pages))
    assert [len(run.acknowledged) for run in runs] == [len(study.phase("training").image_ids) + 12] * 3

    compared = json.loads(cli("compare", "--study", str(study_dir), "--store", str(store), "--json").stdout)
    people = {row["rater"] for row in compared["rates"] if row["kind"] == "human" and row["n_raters"] == 1}
    assert people == {"D01", "D02", "W01", "W02", "W03"}
    assert any("2 desktop, 3 web" in note for note in compared["notes"])
    cli("report", "--study", str(study_dir), "--store", str(store), "--out", str(tmp_path / "report"))
    report = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "W03" in report and "D02" in report and "2 desktop, 3 web" in report
    cli("export", "--store", str(store), "--out", str(tmp_path / "answers.csv"))
    exported = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False)
    by_session = exported.drop_duplicates("session").set_index("annotator")["front_end"].to_dict()
    assert by_session == {"D01": "desktop", "D02": "desktop", "W01": "web", "W02": "web", "W03": "web"}

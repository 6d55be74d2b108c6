"""``simulate --web``: scripted annotators take the online study over HTTP into a pilot store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from study_app.store.export import answers_frame
from study_app.store.results_store import ResultsStore
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]


def simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "simulate", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_a_web_pilot_fills_a_pilot_store_over_http_and_can_run_again(tmp_path):
    study = make_study(tmp_path / "tiny")
    store = tmp_path / "pilot.sqlite"
    for _ in range(2):  # the same scripted ids again: new pilot sessions, as simulate's
        done = simulate("--study", str(study), "--web", "--annotators", "3", "--concurrent", "3", "--store", str(store))
        assert done.returncode == 0, done.stderr
        assert "3 simulated annotator(s), 48 trials" in done.stdout and "over HTTP" in done.stdout
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results)
    trials = frame.drop_duplicates("trial_uuid")
    assert len(trials) == 96 and trials["pilot"].all() and set(trials["front_end"]) == {"web"}
    assert trials.groupby("session").size().tolist() == [16] * 6


def test_web_pilot_options_that_do_not_fit_are_refused(tmp_path):
    study = make_study(tmp_path / "tiny")
    done = simulate("--study", str(study), "--web", "--interruptions", "0.2")
    assert done.returncode == 1 and "--web and --url take the Rasch answers only" in done.stderr
    done = simulate("--study", str(study), "--url", "http://127.0.0.1:9", "--store", str(tmp_path / "x.sqlite"))
    assert done.returncode == 1 and "leave out --store" in done.stderr
    assert not (tmp_path / "x.sqlite").exists()


def test_simulate_url_drives_a_pilot_server_only(tmp_path):
    from study_app.protocol.study import load_study
    from study_app.web.local import served
    from study_app.web.server import ServerConfig, create_app

    study = load_study(make_study(tmp_path / "tiny"))
    with served(create_app(ServerConfig(study, tmp_path / "real.sqlite"))) as url:
        done = simulate("--study", str(study.root), "--url", url, "--annotators", "1")
    assert done.returncode == 1 and "is not a pilot server" in done.stderr
    with ResultsStore(tmp_path / "real.sqlite", readonly=True) as results:
        assert results.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0

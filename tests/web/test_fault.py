"""The web server killed with SIGKILL in the middle of a run and started again: the pages
re-send what was not acknowledged, and every answer a page saw acknowledged is in the store,
none twice (a real ``serve`` process, real HTTP, a real SQLite file)."""

from __future__ import annotations

from study_app.protocol.study import load_study
from tests.factory import make_study
from tests.web.load_run import run_load
from tests.web.serve_process import ServerProcess


def test_a_killed_and_restarted_server_loses_and_doubles_no_acknowledged_answer(tmp_path):
    study_dir = make_study(tmp_path / "tiny", per_class_train=2, per_class_test=6)
    study = load_study(study_dir)
    server = ServerProcess(study_dir, tmp_path / "pilot.sqlite", tmp_path / "serve.log", pilot=True)
    server.start()
    try:
        outcome = run_load(server, study, participants=8, answers_each=20, kill_after=60)
    finally:
        server.stop()
    assert outcome.killed_at is not None and outcome.killed_at >= 60
    assert outcome.acknowledged == 8 * 20
    assert outcome.lost == 0 and outcome.duplicated == 0
    assert sum(run.resent for run in outcome.runs) > 0  # some pages did have to re-send

"""The AnswerStore seam: both stores satisfy it (checked by mypy), and each answers its
operations alike -- a results file, and a server store working from its offline journal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame
from study_app.store.answer_store import ALWAYS_SYNCED, StoredAnswer
from study_app.store.journal import JournaledStore

ROOT = Path(__file__).resolve().parents[2]
#: Nothing listens here: connecting is refused at once, so the journaled store works offline.
NO_SERVER = "postgresql://study@127.0.0.1:1/results"

CONFORMANCE = """
from study_app.session.controller import SessionController
from study_app.store.answer_store import AnswerStore
from study_app.store.journal import JournaledStore, open_annotation_store
from study_app.store.results_store import ResultsStore


def both(results: ResultsStore, journaled: JournaledStore) -> tuple[AnswerStore, AnswerStore]:
    return results, journaled


def opened() -> AnswerStore:
    return open_annotation_store("results.sqlite")


def store_of(controller: SessionController) -> AnswerStore:
    return controller.store
"""
#: A store without sync status: what the check must refuse (else it would prove nothing).
HALF_A_STORE = """

class NoSyncStatus(ResultsStore):
    sync_status = None


def refused(store: NoSyncStatus) -> AnswerStore:
    return store
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    module = tmp_path / "conformance.py"
    module.write_text(source, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--follow-imports=silent",
        "--ignore-missing-imports",
        "--no-incremental",
        str(module),
    ]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def test_both_stores_are_answer_stores_to_the_type_checker(tmp_path):
    checked = mypy(tmp_path, CONFORMANCE)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    refused = mypy(tmp_path, CONFORMANCE + HALF_A_STORE)
    assert refused.returncode == 1, refused.stdout
    assert 'sync_status: expected "Callable[[], SyncStatus]", got "None"' in refused.stdout, refused.stdout


def answer(controller: SessionController, labels: tuple[str, ...] = (), outcome: str = "answer") -> None:
    now = utc_now()
    trial = controller.current()
    given = labels or (controller.study.truth(trial.image_id) if outcome == "answer" else ())
    controller.submit(Response(given, 700.0, now, now, outcome=outcome))


def half_a_session(study, store) -> SessionController:
    """Training (4 with feedback), then test answers: right, wrong, not sure, a timeout and a revision."""
    controller = SessionController(study, store, "S1")
    for number in range(4):
        answer(controller, ("dog", "car") if number == 1 else ())
    answer(controller)
    answer(controller, ("bus", "car", "cat"))
    controller.undo()
    answer(controller, outcome="not_sure")  # the revision counts, the answer it replaced does not
    answer(controller, outcome="timeout")
    answer(controller)
    return controller


def from_answers_table(store, session: str) -> list[StoredAnswer]:
    """The same answers read through ``answers_frame``, the export's reading of the store."""
    frame = answers_frame(store, session=session)
    stored = []
    for _, rows in frame.groupby("trial_uuid", sort=False):
        first = rows.iloc[0]
        labels = tuple(rows.dropna(subset=["rank"]).sort_values("rank")["label_id"])
        stored.append(StoredAnswer(first["phase"], first["image_id"], first["outcome"], labels))
    return stored


@pytest.fixture
def study(tiny_study):
    return load_study(tiny_study, check_images=False)


def test_a_results_file_is_always_synced_and_gives_back_the_current_answers(tmp_path, study):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        assert store.sync_status() is ALWAYS_SYNCED
        assert not ALWAYS_SYNCED.journaled and ALWAYS_SYNCED.online and ALWAYS_SYNCED.waiting == 0
        assert ALWAYS_SYNCED.text() == "Every answer is stored in the results store"
        controller = half_a_session(study, store)
        stored = store.session_answers(controller.session)
        assert stored == from_answers_table(store, controller.session.uuid)
        assert [(a.phase, a.outcome, len(a.labels)) for a in stored][4:] == [
            ("test", "answer", 1),
            ("test", "not_sure", 0),
            ("test", "timeout", 0),
            ("test", "answer", 1),
        ]
        assert stored[1].labels == ("dog", "car")  # in rank order


def test_a_server_store_offline_resumes_from_its_journal_with_the_same_scores(tmp_path, study):
    journal = tmp_path / "journal.sqlite"
    with ResultsStore(journal) as desk:  # the journal as the desktop left it when the server went away
        before = half_a_session(study, desk)
        expected = desk.session_answers(before.session)
        trials = desk.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    with JournaledStore(NO_SERVER, journal, retry_s=600) as store:
        status = store.sync_status()
        assert status.journaled and not status.online and status.waiting == trials
        assert "Connection refused" in status.problem and "saved on this computer" in status.text()
        resumed = SessionController(study, store, "S1")
        assert resumed.resumed and resumed.position == before.position
        assert store.session_answers(resumed.session) == expected
        for phase in study.phases:
            assert resumed.phase_accuracy(phase.name) == before.phase_accuracy(phase.name)
        assert resumed.phase_accuracy("test") == (2, 4)

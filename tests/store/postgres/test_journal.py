"""Desktops on a results server that goes away and comes back (real server stopped and started)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study_app.errors import StoreError
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame
from study_app.store.journal import JournaledStore
from study_app.store.postgres import CONNECT_TIMEOUT_S
from tests.factory import make_study
from tests.store.postgres.conftest import allocated_study, answer_all

ROOT = Path(__file__).resolve().parents[3]


def server_trials(url: str) -> list[str]:
    with ResultsStore(url, readonly=True) as store:
        return [row[0] for row in store.conn.execute("SELECT uuid FROM trials ORDER BY uuid")]


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def study(tmp_path):
    return load_study(allocated_study(tmp_path / "s", per_class_test=4, r=2, share=8), check_images=False)


def test_server_stops_mid_session_answers_go_on_and_arrive_exactly_once(tmp_path, pg_server, pg_url, study):
    with JournaledStore(pg_url, tmp_path / "journal.sqlite", retry_s=0) as store:
        controller = SessionController(study, store, "J1")
        answer_all(controller, limit=6)
        assert store.sync_status().online and store.sync_status().waiting == 0
        pg_server.stop()
        answer_all(controller, limit=4)  # no error reaches the annotator
        status = store.sync_status()
        assert not status.online and status.waiting == 4 and "4 answer(s) saved on this computer" in status.text()
        pg_server.start()
        answer_all(controller)  # the next answer starts a new attempt; a later one sends what waited
        controller.finish()
        wait_until(lambda: store.sync().online and store.sync_status().waiting == 0)
        journal_trials = sorted(answers_frame(store)["trial_uuid"].unique())
    assert server_trials(pg_url) == journal_trials and len(journal_trials) == 12
    with ResultsStore(pg_url, readonly=True) as server:
        assert server.conn.execute("SELECT ended_at IS NOT NULL FROM sessions").fetchall() == [(True,)]
        assert server.conn.execute("SELECT COUNT(*) FROM allocations WHERE trial_uuid IS NOT NULL").fetchone()[0] == 8


def test_sending_again_after_a_crash_adds_nothing(tmp_path, pg_url, study):
    journal = tmp_path / "journal.sqlite"
    with JournaledStore(pg_url, journal) as store:
        answer_all(SessionController(study, store, "J2"), limit=7)
    before = server_trials(pg_url)
    with ResultsStore(journal) as raw:  # as if the marks had never been saved (a crash right after sending)
        raw.conn.execute("DELETE FROM meta WHERE key LIKE 'journal_sent:%'")
    with JournaledStore(pg_url, journal) as store:
        assert store.sync_status().online and store.sync_status().waiting == 0
    assert server_trials(pg_url) == before and len(before) == 7


def test_offline_desktop_resumes_its_own_session_but_cannot_start_one(tmp_path, pg_server, pg_url, study):
    journal = tmp_path / "journal.sqlite"
    with JournaledStore(pg_url, journal) as store:
        answer_all(SessionController(study, store, "J3"), limit=3)
    pg_server.stop()
    try:
        with JournaledStore(pg_url, journal) as store:
            assert not store.sync_status().online
            resumed = SessionController(study, store, "J3")
            assert resumed.resumed and resumed.position == 3
            answer_all(resumed, limit=2)
            with pytest.raises(StoreError, match="cannot be reached.*a new session needs the server"):
                SessionController(study, store, "J4")
    finally:
        pg_server.start()
    result = subprocess.run(
        [sys.executable, "main.py", "sync", "--store", pg_url, "--journal", str(journal)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Server: connected" in result.stdout and len(server_trials(pg_url)) == 5


def test_a_desktop_offers_and_resumes_only_the_session_of_the_study_it_opens(tmp_path, pg_server, pg_url, study):
    """Two studies on one server: the journal's open session of one study is not offered for
    the other, online or offline (the start dialog asks unfinished_session)."""
    other = load_study(make_study(tmp_path / "other", name="other"), check_images=False)
    journal = tmp_path / "journal.sqlite"
    with JournaledStore(pg_url, journal) as store:
        first = SessionController(other, store, "J9")
        answer_all(first, limit=2)
        assert store.unfinished_session(study, "J9") is None
        assert store.unfinished_session(other, "J9")[::2] == (first.session.uuid, 2)
    pg_server.stop()
    try:
        with JournaledStore(pg_url, journal) as store:
            assert store.unfinished_session(study, "J9") is None  # was: the other study's session
            with pytest.raises(StoreError, match="no unfinished session of this study"):
                SessionController(study, store, "J9")
            resumed = SessionController(other, store, "J9")
            assert resumed.resumed and resumed.position == 2
    finally:
        pg_server.start()


def test_a_session_resumes_on_another_desktop_with_its_history(tmp_path, pg_url, study):
    with JournaledStore(pg_url, tmp_path / "desk1.sqlite") as first:
        controller = SessionController(study, first, "J5")
        answer_all(controller, label="cat", limit=6)
        scores = controller.phase_accuracy("training")
    with JournaledStore(pg_url, tmp_path / "desk2.sqlite") as second:
        moved = SessionController(study, second, "J5")
        assert moved.resumed and moved.position == 6 and moved.phase_accuracy("training") == scores
        assert [t.image_id for t in moved.session.trials] == [t.image_id for t in controller.session.trials]
        answer_all(moved)
        moved.finish()
    with ResultsStore(pg_url, readonly=True) as server:
        frame = answers_frame(server)
    assert frame["trial_uuid"].nunique() == len(controller.session.trials) == 12


def test_closing_just_after_the_server_came_back_sends_everything(tmp_path, pg_server, pg_url, study):
    """An attempt that began and failed while the server was down, with no answer since to
    notice it: closing must try again, not take that old failure for the server's state."""
    with JournaledStore(pg_url, tmp_path / "journal.sqlite", retry_s=0) as store:
        controller = SessionController(study, store, "J7")
        answer_all(controller, limit=2)
        pg_server.stop()
        try:
            answer_all(controller, limit=3)
            wait_until(lambda: store.sync_status() and store._attempt is not None)  # an attempt under way...
            wait_until(lambda: not store._attempt.is_alive())  # ...that failed, unnoticed
        finally:
            pg_server.start()
    assert len(server_trials(pg_url)) == 5


def test_a_pilot_run_that_ends_offline_says_where_its_answers_wait(tmp_path, pg_server, pg_url, study):
    """The last answers went into the journal while the server was down: the summary says so
    (instead of ending as if all were sent), and ``sync`` sends them later."""
    from study_app.session.pilot import drive_headless, run_pilot

    def server_goes_before_the_end(controller, participant) -> None:
        answer_all(controller, limit=5)
        pg_server.stop()
        drive_headless(controller, participant)

    journal = tmp_path / "journal.sqlite"
    try:
        summary = run_pilot(
            study, 1, pg_url, accuracy=0.5, rt_ms=(300.0, 10.0), journal=journal, drive=server_goes_before_the_end
        )
    finally:
        pg_server.start()
    assert summary.trials == 12 and summary.unsent == 7 and summary.journal == journal
    assert f"7 answer(s) wait in the journal {journal}" in summary.summary()
    assert len(server_trials(pg_url)) == 5
    with JournaledStore(pg_url, journal, pilot=True) as store:
        assert store.sync_status().waiting == 0
    assert len(server_trials(pg_url)) == 12


def test_a_server_that_stops_answering_never_holds_up_the_next_image(tmp_path, pg_server, pg_url, study):
    """A network that swallows packets: a connection attempt waits for its timeout (5 s),
    but in the background; every answer is back in well under a second."""
    with JournaledStore(pg_url, tmp_path / "journal.sqlite", retry_s=0) as store:
        controller = SessionController(study, store, "J6")
        answer_all(controller, limit=2)
        pg_server.stop()
        silent = socket.socket()  # accepts connections on the server's port and never replies
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", pg_server.port))
        silent.listen(16)
        try:
            seconds = []
            for _ in range(6):
                started = time.monotonic()
                answer_all(controller, limit=1)
                seconds.append(time.monotonic() - started)
                time.sleep(0.2)
            assert max(seconds) < CONNECT_TIMEOUT_S / 2, seconds  # never the attempt's wait
            assert not store.sync_status().online and store.sync_status().waiting == 6
        finally:
            silent.close()
            pg_server.start()
        wait_until(lambda: store.sync().online and store.sync_status().waiting == 0)
    assert len(server_trials(pg_url)) == 8


def admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def test_a_lock_held_on_the_server_keeps_the_answer_here_and_never_fails_it(tmp_path, pg_url, study):
    """A DBA's lock_timeout, and someone holding the session's row: the answer stays in the
    journal without an error to the annotator (whose retry would store it again, under the next
    image), the status keeps the server's reason, and the answer goes once the lock is gone."""
    import psycopg

    admin(pg_url, f"ALTER DATABASE {pg_url.rsplit('/', 1)[1]} SET lock_timeout = '300ms'")
    with JournaledStore(pg_url, tmp_path / "journal.sqlite", retry_s=0) as store:
        controller = SessionController(study, store, "J8")
        answer_all(controller, limit=2)
        holder = psycopg.connect(pg_url)
        holder.execute("SELECT * FROM sessions FOR UPDATE")
        try:
            answer_all(controller, label="dog", limit=1)
            status = store.sync_status()
            assert not status.online and status.waiting == 1 and "lock timeout" in status.problem
        finally:
            holder.rollback()
            holder.close()
        wait_until(lambda: store.sync().online and store.sync_status().waiting == 0)
        assert controller.position == 3 and store.sync_status().problem == ""
    with ResultsStore(pg_url, readonly=True) as server:
        rows = server.conn.execute(
            "SELECT t.trial_index, a.label_id FROM trials t JOIN answers a ON a.trial_uuid = t.uuid ORDER BY t.rowid"
        )
        assert [label for _, label in rows.fetchall()] == ["cat", "cat", "dog"]


def test_answers_the_server_refuses_wait_here_and_sync_says_why(tmp_path, pg_url, study):
    """A server that refuses the rows themselves (here a constraint added on the server): every
    answer is still taken, they wait in the journal in order, and the sync command gives the reason."""
    journal = tmp_path / "journal.sqlite"
    with JournaledStore(pg_url, journal, retry_s=0) as store:
        controller = SessionController(study, store, "J9")
        answer_all(controller, limit=1)
        admin(pg_url, "ALTER TABLE answers ADD CONSTRAINT no_dogs CHECK (label_id <> 'dog')")
        answer_all(controller, label="dog", limit=1)
        answer_all(controller, limit=1)  # a later answer waits behind it: the copy keeps the journal's order
        status = store.sync(force=True)
        assert not status.online and status.waiting == 2 and "no_dogs" in status.problem
    sync = [sys.executable, "main.py", "sync", "--store", pg_url, "--journal", str(journal)]
    refused = subprocess.run(sync, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (
        refused.returncode == 1 and "2 answer(s) saved on this computer" in refused.stdout and "why:" in refused.stdout
    )
    assert "no_dogs" in refused.stdout
    admin(pg_url, "ALTER TABLE answers DROP CONSTRAINT no_dogs")
    sent = subprocess.run(sync, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0 and "Server: connected" in sent.stdout
    assert len(server_trials(pg_url)) == 3


def test_a_connection_cut_while_the_desktop_was_idle_is_replaced_when_a_session_starts(
    tmp_path, pg_server, pg_url, study
):
    """The server restarted while nobody answered: the desktop's connection is dead, but the
    server is up, so a new session starts (it needs the server) instead of being refused."""
    with JournaledStore(pg_url, tmp_path / "journal.sqlite") as store:
        answer_all(SessionController(study, store, "J10"), limit=1)
        pg_server.stop()
        pg_server.start()
        answer_all(SessionController(study, store, "J11"), limit=1)
        assert store.sync_status().online and store.sync_status().waiting == 0
    with ResultsStore(pg_url, readonly=True) as server:
        assert server.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2


def test_answers_merged_into_the_server_take_their_slots_once(tmp_path, pg_server, pg_url, study):
    """The researcher merges a desktop's journal into the server before the desktop sends it:
    the merged answers take their slots (else the images would be handed out again), and the
    desktop's own copy later takes none twice."""
    from study_app.store import merge_stores

    def filled() -> list[str]:
        with ResultsStore(pg_url, readonly=True) as server:
            return [
                row[0] for row in server.conn.execute("SELECT trial_uuid FROM allocations WHERE trial_uuid IS NOT NULL")
            ]

    journal = tmp_path / "journal.sqlite"
    with JournaledStore(pg_url, journal, retry_s=600) as store:
        controller = SessionController(study, store, "J12")
        answer_all(controller, limit=4)  # the training phase: no slots
        pg_server.stop()
        try:
            answer_all(controller, limit=3)  # three test answers, in the journal only
        finally:
            pg_server.start()
        merge_stores(pg_url, [journal])
        assert len(filled()) == 3
    assert len(filled()) == len(set(filled())) == 3 and len(server_trials(pg_url)) == 7


def test_a_pilot_run_that_fails_before_its_first_answer_ends_its_session_on_the_server_too(tmp_path, pg_url, study):
    """The session's end goes through the journal like a finished session's, so the server
    does not show it in progress for ever, nor keep its images' slots held."""
    from study_app.errors import StudyError
    from study_app.session.pilot import run_pilot

    def stops_before_answering(controller, participant) -> None:
        raise StudyError("the scripted participant cannot begin")

    journal = tmp_path / "journal.sqlite"
    with pytest.raises(StudyError, match="cannot begin"):
        run_pilot(study, 1, pg_url, journal=journal, drive=stops_before_answering)
    for location in (pg_url, journal):
        with ResultsStore(location, readonly=True) as store:
            assert store.conn.execute("SELECT ended_at IS NOT NULL FROM sessions").fetchall() == [(True,)], location
            assert store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0

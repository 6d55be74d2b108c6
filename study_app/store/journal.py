"""An annotation desktop against a results server, that keeps working when the server is gone.

:class:`JournaledStore` is an :class:`~.answer_store.AnswerStore`, as a
:class:`~.results_store.ResultsStore` is: a session, and the front end driving it, tell
them apart only by :meth:`~JournaledStore.sync_status`. Every write goes first into a
local SQLite *journal* -- an ordinary results store file, durable before ``submit``
returns -- and is then copied to the server in one transaction. When the server cannot be
reached, the copy waits: the annotator goes on answering into the journal, the window
shows a small status (:meth:`JournaledStore.sync_status`), and at most every
:data:`RETRY_S` seconds a write starts a new attempt to reach the server *in a thread of
its own*: a network that drops packets makes a connection attempt wait up to
``postgres.CONNECT_TIMEOUT_S``, and the annotator's next image must not. A later write
takes the connection once it is there and sends everything that waits. (Only the start of
a session, the ``sync`` command and closing wait for an attempt.) Whatever the server
answers -- gone, busy, or refusing the rows -- a write to the journal never fails because
of it: the rows wait there, the reason is kept for the status
(:attr:`SyncStatus.problem`), and a later attempt sends them.

Copying is idempotent: rows keep the UUIDs the journal gave them and go in with
``INSERT ... ON CONFLICT DO NOTHING``, so a copy interrupted half-way, or repeated after a
crash, adds each row exactly once. How far the copy got is kept per table in the
journal's ``meta`` table (``journal_sent:<table>`` = highest journal rowid sent), written
every :data:`SAVE_MARKS_EVERY` copies and on close -- a crash in between only means rows
are offered again and ignored. An answer newly stored on the server fills its allocation
slot there (allocation.py).

Opening a *new* session needs the server (it may share images out and takes a place in
the counterbalancing rotation); resuming a session this desktop has in its journal works
offline. Sessions opened on the server are copied into the journal first, so that a
session begun on another desktop resumes here with its whole history.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from study_app.errors import StoreError
from study_app.io.results_folder import journal_dir
from study_app.io.store_url import is_server_url, parse_url
from study_app.protocol.responses import Event, utc_now
from study_app.protocol.schedule import Trial
from study_app.protocol.study import Study
from study_app.store.allocation import DEFAULT_RELEASE_MIN, allocated_phases, answer_placed, fill_slot
from study_app.store.answer_store import StoredAnswer, SyncStatus, TrialAnswer
from study_app.store.db import LockWaitListener, table_columns, write
from study_app.store.metadata import meta_number
from study_app.store.postgres import ServerAddress, ServerBusyError, ServerUnavailableError
from study_app.store.results_store import ResultsStore, Session
from study_app.store.schema import TABLES

#: Seconds between attempts to reach a server that was gone (each attempt may wait up to
#: postgres.CONNECT_TIMEOUT_S when the network, not just the server, is down).
RETRY_S = 10.0
#: Copies between two saves of the marks (each save is one more durable commit of the journal).
SAVE_MARKS_EVERY = 100
#: A copy runs on the annotator's thread: a lock held elsewhere on the server, or a server
#: stalled on its disk, cancels a statement after this long (the rows wait in the journal).
PUSH_STATEMENT_TIMEOUT_MS = 15_000
_SENT = "journal_sent:"


def default_journal_path(address: ServerAddress, pilot: bool = False) -> Path:
    """``results/journal/<host>-<port>-<database>[-pilot].sqlite``: one journal per server database."""
    host, port = _first_host(address)
    name = f"{host or 'local'}-{port or 5432}-{address.name}" + ("-pilot" if pilot else "")
    return journal_dir() / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".sqlite")


def _first_host(address: ServerAddress) -> tuple[str, str]:
    """The first host of the URL (lower case, an IPv6 address without brackets) and its port ("" if none)."""
    first = parse_url(address.url).hosts[0]
    host, _, port = first.rpartition(":") if ":" in first.rsplit("]", 1)[-1] else (first, "", "")
    return host.strip("[]").lower(), port


class JournaledStore:
    """A server store with a local journal in front (see the module docstring). One per thread."""

    def __init__(
        self, url: str, journal: str | Path | None = None, pilot: bool = False, retry_s: float = RETRY_S
    ) -> None:
        self.path = ServerAddress(url)
        self.pilot = pilot
        self.retry_s = retry_s
        self.journal = ResultsStore(Path(journal) if journal else default_journal_path(self.path, pilot), pilot=pilot)
        self.journal.fills_slots = False  # the server's slots are filled when an answer reaches it (_fill)
        #: Reads of this desktop's own sessions (``answers_frame`` of what it answered) come from the journal.
        self.conn = self.journal.conn
        self.server: ResultsStore | None = None
        self._attempt: _ConnectAttempt | None = None
        self._next_try = 0.0
        self._allocated: dict[str, dict[str, float]] = {}
        self._ended_dirty = True  # the first copy also sends the end of sessions that ended offline
        self._marks = self._saved_marks()
        self._unsaved = 0
        self._problem = ""
        self._status = SyncStatus(False, self._waiting())
        self.sync(force=True)  # at start-up the desktop may wait for the server (a new session needs it)

    # -- the session API -------------------------------------------------------------
    def open_session(
        self, study: Study, annotator: str, force_new: bool = False, arrival: int | None = None
    ) -> Session:
        self.sync(force=True)
        if self.server is not None:
            try:
                session = self.server.open_session(study, annotator, force_new=force_new, arrival=arrival)
                self._pull(session.uuid, self.server)
                self._allocated[session.uuid] = session.allocated
                return session
            except ServerUnavailableError as exc:
                self._lost(exc)
        return self._resume_offline(study, annotator, force_new)

    def submit(self, session: Session, answer: TrialAnswer) -> str:
        """Durable in the journal when this returns; on the server too unless it is unreachable."""
        trial_uuid = self.journal.submit(session, answer)
        self.sync()
        return trial_uuid

    def log_events(self, session: Session, events: Iterable[Event], trial: Trial | None = None) -> None:
        self.journal.log_events(session, events, trial)
        self.sync()

    def end_unanswered_session(self, session: Session) -> bool:
        """As :meth:`ResultsStore.end_unanswered_session`; the end reaches the server as a finished session's does."""
        ended = self.journal.end_unanswered_session(session)
        self._ended_dirty = True
        self.sync()
        return ended

    def session_answers(self, session: Session) -> list[StoredAnswer]:
        """As :meth:`ResultsStore.session_answers`, from the journal.

        The journal holds every answer of a session this desktop runs.
        """
        return self.journal.session_answers(session)

    def listen_for_lock_waits(self, listener: LockWaitListener | None) -> None:
        """As :meth:`ResultsStore.listen_for_lock_waits`, for the journal (a ``sync`` run may hold it)."""
        self.journal.listen_for_lock_waits(listener)

    def finish_session(self, session: Session) -> None:
        self.journal.finish_session(session)
        self._ended_dirty = True
        self.sync()

    def unfinished_session(self, study: Study, annotator: str) -> tuple[str, str, int] | None:
        if self.server is not None:
            try:
                return self.server.unfinished_session(study, annotator)
            except ServerUnavailableError as exc:
                self._lost(exc)
        return self.journal.unfinished_session(study, annotator)

    def sync_status(self) -> SyncStatus:
        """The state, for a status line that refreshes often: it never waits for the network.
        While the server is lost it starts the attempts that are due (in the background) and,
        once one succeeded, sends what waits, so a desktop at a break catches up too."""
        if self.server is None:
            self._reconnect(wait=False)
            if self.server is not None:
                self.sync()
        return self._status

    def close(self) -> None:
        """One last attempt to send what waits, then close both stores."""
        self.sync(force=True)
        self._save_marks()
        if self.server is not None:
            self.server.close()
        self.journal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- syncing ---------------------------------------------------------------------
    def sync(self, force: bool = False) -> SyncStatus:
        """Send what the server lacks, reconnecting first if it was gone: ``force`` waits for
        the connection; otherwise an attempt due runs in the background (see the module docstring)."""
        for _ in range(2 if force else 1):  # forced: a connection that died while idle gets one fresh try
            if self.server is None:
                self._reconnect(wait=force)
            if self.server is None:
                break
            try:
                self._push(self.server)
                self._problem = ""
                break
            except StoreError as exc:  # gone, busy or refusing: the rows stay in the journal
                self._lost(exc)
        self._status = SyncStatus(self.server is not None, self._waiting(), self._problem)
        return self._status

    def _reconnect(self, wait: bool) -> None:
        """Take the connection of a finished attempt, or start one if a retry is due.

        ``wait`` (closing, the ``sync`` command, a session's start) judges the server by an
        attempt that began no earlier than the call: one that began before and failed says
        nothing of now -- a desktop closing just after the server came back would otherwise
        keep its answers in the journal."""
        began = time.monotonic()
        attempt = self._attempt
        if attempt is None and (wait or began >= self._next_try):
            attempt = self._attempt = _ConnectAttempt(self.path, self.pilot)
        if attempt is None:
            return
        if wait:
            attempt.join()
        if attempt.is_alive():
            return
        self._attempt = None
        self.server = attempt.store
        if self.server is None:
            self._problem = attempt.error
            self._next_try = time.monotonic() + self.retry_s
            if wait and attempt.began < began:
                self._reconnect(wait=True)

    def _lost(self, exc: StoreError) -> None:
        """Drop the connection. One that broke is tried again at once (in the background: a
        restarted server, an idle connection cut); a server that is busy or refused the rows
        is left alone for :attr:`retry_s`."""
        broke = isinstance(exc, ServerUnavailableError) and not isinstance(exc, ServerBusyError)
        if self.server is not None:
            try:
                self.server.close()
            except Exception:  # noqa: BLE001 - the connection is already broken; closing is courtesy
                pass
        self.server = None
        self._problem = str(exc)
        self._next_try = time.monotonic() + (0.0 if broke else self.retry_s)
        self._status = SyncStatus(False, self._waiting(), self._problem)

    def _saved_marks(self) -> dict[str, int]:
        rows = self.journal.conn.execute("SELECT key, value FROM meta WHERE key LIKE ?", (_SENT + "%",)).fetchall()
        return {key[len(_SENT) :]: meta_number(value, key, self.journal.path) for key, value in rows}

    def _save_marks(self) -> None:
        """Keep the marks in the journal (never moving one back: another process may share the journal)."""
        if not self._unsaved:
            return
        with write(self.journal.conn) as conn:
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
                "WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                [(_SENT + table, str(mark)) for table, mark in self._marks.items()],
            )
        self._unsaved = 0

    def _waiting(self) -> int:
        mark = self._marks.get("trials", 0)
        return self.journal.conn.execute("SELECT COUNT(*) FROM trials WHERE rowid > ?", (mark,)).fetchone()[0]

    def _push(self, to: ResultsStore) -> None:
        """Copy every journal row past the marks to the server (``to``) in one transaction, then move the marks."""
        journal = self.journal.conn
        moved: dict[str, int] = {}
        now = utc_now()
        waiting = self._unsent_rows()
        with write(to.conn) as server:
            server.execute(f"SET LOCAL statement_timeout = {PUSH_STATEMENT_TIMEOUT_MS}")
            for table, (columns, rows) in waiting.items():
                insert = f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                if table == "trials":
                    for row in rows:
                        trial = dict(zip(columns, row[1:]))
                        # New here, or sent before by another way (a merge of this journal) without its slot.
                        if server.execute(insert, row[1:]).rowcount or not answer_placed(server, trial["uuid"]):
                            self._fill(server, trial, now)
                else:
                    server.executemany(insert, [row[1:] for row in rows])
                moved[table] = rows[-1][0]
            if self._ended_dirty:  # sessions ended after their row was sent
                for uuid_, ended_at in journal.execute(
                    "SELECT uuid, ended_at FROM sessions WHERE ended_at IS NOT NULL"
                ):
                    server.execute(
                        "UPDATE sessions SET ended_at = ? WHERE uuid = ? AND ended_at IS NULL", (ended_at, uuid_)
                    )
        self._ended_dirty = False
        if moved:
            self._marks.update(moved)
            self._unsaved += 1
            if self._unsaved >= SAVE_MARKS_EVERY:
                self._save_marks()

    def _unsent_rows(self) -> dict[str, tuple[list[str], list[tuple]]]:
        """Per table, its columns and the rows past the marks, read in one snapshot of the
        journal: another process answering into it meanwhile cannot send an answer without its trial."""
        journal, sent = self.journal.conn, self._marks
        waiting = {}
        journal.execute("BEGIN")
        try:
            for table in TABLES:
                columns = table_columns(journal, table)
                rows = journal.execute(
                    f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid",
                    (sent.get(table, 0),),
                ).fetchall()
                if rows:
                    waiting[table] = (columns, rows)
        finally:
            journal.execute("COMMIT")
        return waiting

    def _fill(self, server, trial: dict, now: str) -> None:
        """An answer new to the server takes its allocation slot there (if its phase has slots)."""
        minutes = self._allocated.get(trial["session_uuid"], {}).get(trial["phase"], DEFAULT_RELEASE_MIN)
        fill_slot(
            server,
            trial["session_uuid"],
            trial["uuid"],
            phase=trial["phase"],
            image_id=trial["image_id"],
            supersedes=trial["supersedes"],
            now=now,
            minutes=minutes,
        )

    def _pull(self, session_uuid: str, source: ResultsStore) -> None:
        """Copy a session opened on the server (``source``), with everything answered in it so far, into the journal."""
        server = source.conn
        where = {
            "studies": "uuid = (SELECT study_uuid FROM sessions WHERE uuid = ?)",
            "annotators": "annotator_id = (SELECT annotator_id FROM sessions WHERE uuid = ?)",
            "sessions": "uuid = ?",
            "trials": "session_uuid = ?",
            "answers": "trial_uuid IN (SELECT uuid FROM trials WHERE session_uuid = ?)",
            "flags": "trial_uuid IN (SELECT uuid FROM trials WHERE session_uuid = ?)",
            "events": "session_uuid = ?",
        }
        with write(self.journal.conn) as journal:
            top = {t: journal.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {t}").fetchone()[0] for t in TABLES}
            complete = {t for t in TABLES if self._marks.get(t, 0) >= top[t]}
            for table, condition in where.items():
                columns = table_columns(journal, table)
                rows = server.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE {condition}", (session_uuid,)
                ).fetchall()
                journal.executemany(
                    f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    rows,
                )
            order, ended_at = server.execute(
                "SELECT trial_order, ended_at FROM sessions WHERE uuid = ?", (session_uuid,)
            ).fetchone()
            journal.execute(
                "UPDATE sessions SET trial_order = ?, ended_at = ? WHERE uuid = ?", (order, ended_at, session_uuid)
            )
            # What came from the server need not go back, where nothing else waited to be sent (read
            # inside the transaction: a row another process adds right after it still waits).
            for table in complete:
                self._marks[table] = journal.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]
        self._unsaved += 1

    def _resume_offline(self, study: Study, annotator: str, force_new: bool) -> Session:
        """Without the server: only a session this desktop has in its journal can go on."""
        found = None if force_new else self.journal.unfinished_session(study, annotator)
        if found is not None:
            session = self.journal.load_session(found[0])
            if session.protocol_hash == study.protocol_hash:
                session.resumed = True
                session.allocated = allocated_phases(study)
                self._allocated[session.uuid] = session.allocated
                return session
        reason = f" ({self._problem})" if self._problem else ""
        raise StoreError(
            f"the results server {self.path} cannot be reached{reason}, and annotator {annotator} has no unfinished "
            "session of this study on this computer: a new session needs the server. Check the network or ask the "
            "study's researcher; answers already given are safe."
        )


class _ConnectAttempt(threading.Thread):
    """One try to open the server store, off the annotator's thread."""

    def __init__(self, address: ServerAddress, pilot: bool) -> None:
        super().__init__(name="results-server-connect", daemon=True)
        self.address, self.pilot = address, pilot
        self.store: ResultsStore | None = None
        self.error = ""  # why it failed: unreachable, a wrong password, a newer schema...
        self.began = time.monotonic()
        self.start()

    def run(self) -> None:
        try:
            self.store = ResultsStore(self.address.url, pilot=self.pilot)
        except StoreError as exc:  # the next attempt is due after RETRY_S
            self.error = str(exc)


def open_annotation_store(
    location: str | Path, pilot: bool = False, journal: str | Path | None = None
) -> ResultsStore | JournaledStore:
    """The store a desktop annotates into: a results file, or a server behind a local journal."""
    if is_server_url(location):
        return JournaledStore(str(location), journal, pilot=pilot)
    return ResultsStore(location, pilot=pilot)

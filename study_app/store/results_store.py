"""The results store: studies, annotators, sessions and every submitted answer.

One SQLite file per study (``results/<study>/results.sqlite`` by default). Each submitted
trial is one transaction (trial row, its ranked answers, its flag and the look-up events
that led to it) committed with ``synchronous=FULL`` before :meth:`ResultsStore.submit`
returns, so the caller shows the next image only once the answer is on disk. A session
stores its trial order; resuming continues at the first unanswered trial, and refuses to
go on under a protocol whose hash has changed.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Self, cast

from study_app.errors import ProtocolChangedError, StoreError, StudyError
from study_app.io.results_folder import results_root
from study_app.io.store_url import is_server_url, location_problem
from study_app.protocol.counterbalance import Assignment, Design
from study_app.protocol.responses import Event, utc_now
from study_app.protocol.schedule import Trial, session_trials
from study_app.protocol.study import ImageRecord, Study
from study_app.store.allocation import allocated_phases, claim_trials, fill_slot, keep_claims
from study_app.store.answer_store import ALWAYS_SYNCED, FRONT_ENDS, StoredAnswer, SyncStatus, TrialAnswer
from study_app.store.db import Connection, LockWaitListener, StoreConnection, connect, serialize, write
from study_app.store.file_guard import FileGuard
from study_app.store.metadata import assignment as stored_assignment, trial_order
from study_app.store.postgres import PgConnection, ServerAddress, usable_server_url
from study_app.store.schema import SCHEMA_VERSION, migrate, schema_version
from study_app.store.sittings import session_sittings
from study_app.version import __version__

STORE_FILE = "results.sqlite"


def study_results_dir(name: str, results_dir: Path | None = None) -> Path:
    """``results/<name>/``: the one place a study's results folder is derived from its name.

    The name comes from a study.toml or an answers table, files that travel between labs;
    ``validate`` holds a study's name to the rule of :func:`~study_app.protocol.study.study_name_problem`,
    and here, whatever the name's source, a folder that would not lie directly in
    ``results_dir`` once ``.``, ``..`` and absolute paths are resolved is refused (stores
    and reports would land, and old reports be replaced, elsewhere). Symbolic links are not
    followed: a lab may link ``results/<study>`` onto a bigger disk on purpose.
    ``results_dir`` defaults to :func:`results_root`.
    """
    results_dir = results_root() if results_dir is None else results_dir
    folder = results_dir / name
    if Path(os.path.abspath(folder)).parent != Path(os.path.abspath(results_dir)):
        raise StudyError(
            f"study name {name!r} would put its results outside {results_dir}/; a study's name holds only letters, "
            "digits, '-', '_' and '.' (fix the name in study.toml, or give the output with --store/--out)"
        )
    return folder


def default_store_path(study: Study, results_dir: Path | None = None) -> Path | str:
    """Where a study's answers go unless the researcher says otherwise (the protocol's ``store``, if any)."""
    return study.store or study_results_dir(study.name, results_dir) / STORE_FILE


def store_location(text: str | Path) -> Path | str:
    """A ``--store`` value: a PostgreSQL server URL (as the driver is given it), else a file path.

    Refused, before any file or folder of that name is made and without quoting it (it may
    hold a password): a URL that cannot be taken apart for sure, a URL of another scheme,
    a libpq ``key=value`` connection string (see :func:`~study_app.io.store_url.location_problem`)."""
    if is_server_url(text):
        return usable_server_url(text)
    problem = location_problem(text)
    if problem:
        raise StoreError(f"not a store location: {problem}")
    return Path(text)


def new_uuid() -> str:
    return str(uuid.uuid4())


#: Namespace of UUIDs derived from natural keys (protocol hash, annotator id), so that the
#: same study or annotator gets the same row id on every desktop and merges cleanly.
_NAMESPACE = uuid.UUID("6f1c2a8e-0d0b-4c55-9a59-2f7a3c1e9b10")


def key_uuid(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


def _slot_uuid(key: str) -> str:
    return key_uuid("slot", key)


def child_uuid(parent: str, part: str) -> str:
    """A UUID derived from its parent row's, so re-imported rows keep their identity."""
    return str(uuid.uuid5(uuid.UUID(parent), part))


def study_snapshot(study: Study) -> dict:
    """What a store keeps of the protocol, enough to interpret its answers without the folder."""
    conditioned = bool(study.conditions())
    return {
        "name": study.name,
        "version": study.version,
        "title": study.title,
        "seed": study.seed,
        "protocol_hash": study.protocol_hash,
        "classes": len(study.labels),
        "phases": [
            {
                "name": p.name,
                "split": p.split,
                "feedback": p.feedback,
                "answers": p.answers,
                "mode": p.mode,
                "order": p.order,
                "break_every": p.break_every,
                "time_limit_s": p.time_limit_s,
                "image_ids": list(p.image_ids),
            }
            for p in study.phases
        ],
        "images": {i: _image_snapshot(r, conditioned) for i, r in study.images.items()},
        "counterbalance": _design_snapshot(study.counterbalance),
    }


def _image_snapshot(record: ImageRecord, conditioned: bool) -> dict:
    """An image's entry; its condition and attribute columns only in a study with a condition
    column. A study without one keeps the snapshot earlier versions wrote, even if its manifest
    has other columns (a ``block`` column, notes): a merge compares snapshots, and a store made
    before conditions existed must still merge with one made after."""
    entry: dict = {"sha256": record.sha256, "labels": list(record.labels)}
    if conditioned and record.condition:
        entry["condition"] = record.condition
    if conditioned and record.attributes:
        entry["attributes"] = dict(record.attributes)
    return entry


def _design_snapshot(design: Design | None) -> dict | None:
    if design is None:
        return None
    entry = {
        "phases": list(design.phases),
        "blocks_column": design.column,
        "blocks": list(design.blocks),
        "order": design.order,
    }
    if design.levels:
        entry |= {"levels": list(design.levels), "source_column": design.source}
    return entry


@dataclass
class Session:
    """An annotator's session: its fixed trial order and which trials are answered."""

    uuid: str
    annotator: str
    protocol_hash: str
    trials: tuple[Trial, ...]
    started_at: str
    ended_at: str | None = None
    answered: set[tuple[str, int]] = field(default_factory=set)
    resumed: bool = False
    #: Counterbalancing assignment (None when the study has no ``[counterbalance]``).
    assignment: Assignment | None = None
    #: Phases whose images are shared out (phase -> release minutes; see allocation.py).
    allocated: dict[str, float] = field(default_factory=dict)
    #: Milliseconds of each earlier sitting of a resumed session, oldest first (see sittings.py).
    earlier_sittings: tuple[float, ...] = ()
    _cursor: int = field(default=0, repr=False, compare=False)
    _members: tuple[tuple[Trial, ...], frozenset[Trial]] | None = field(default=None, repr=False, compare=False)

    def has_trial(self, trial: Trial) -> bool:
        """``trial`` is one of this session's (a set lookup: a full-size session has 50,500 trials)."""
        if self._members is None or self._members[0] is not self.trials:  # made again if the order was cut (allocation)
            self._members = (self.trials, frozenset(self.trials))
        return trial in self._members[1]

    @property
    def next_position(self) -> int:
        """Position in ``trials`` of the first unanswered trial (``len(trials)`` when done)."""
        position = self._cursor
        while (
            position < len(self.trials) and (self.trials[position].phase, self.trials[position].index) in self.answered
        ):
            position += 1
        self._cursor = position  # answers are only ever added, so the cursor only moves on
        return position

    @property
    def complete(self) -> bool:
        return self.next_position == len(self.trials)


class ResultsStore:
    """Read and write one results file. Not thread-safe: one instance per thread."""

    #: Answers fill their allocation slot here (a desktop's offline journal leaves that to the server).
    fills_slots = True

    def __init__(
        self, path: str | Path, readonly: bool = False, pilot: bool = False, front_end: str = "desktop"
    ) -> None:
        """``pilot``: this store is for simulated sessions only (see :mod:`study_app.session.pilot`);
        a real store refuses pilot sessions and a pilot store refuses real ones. ``front_end``:
        what the sessions it starts are annotated in (one of :data:`FRONT_ENDS`), recorded per
        session so that a study mixing desks and browsers can tell them apart."""
        if front_end not in FRONT_ENDS:
            raise ValueError(f"front_end must be one of {FRONT_ENDS}, not {front_end!r}")
        self.pilot = pilot
        self.front_end = front_end
        location = store_location(path)
        self.path: Path | ServerAddress
        self.conn: Connection
        if isinstance(location, str):  # a PostgreSQL server: same schema and API (see postgres.py)
            self.path = ServerAddress(location)
            self.conn = PgConnection(self.path, readonly=readonly)
        else:
            self.path = location
            if readonly and not location.is_file():
                raise StoreError(f"{self.path}: no results store here")
            self.conn = connect(location, readonly=readonly)
        self._guard = FileGuard(self.path) if isinstance(self.path, Path) and not readonly else None
        self._lock_wait_listener: LockWaitListener | None = None
        if readonly:
            version = self._version()
            if version != SCHEMA_VERSION:
                self.conn.close()
                raise StoreError(
                    f"{self.path}: results store schema version {version}, this program uses {SCHEMA_VERSION}; "
                    "a command that writes to it (annotate, simulate, import or merge into it) upgrades it"
                )
        else:
            try:
                migrate(self.conn, where=self.path)
            except sqlite3.DatabaseError as exc:
                self.conn.close()
                raise StoreError(f"{self.path}: not a usable results store ({exc}); run check-store on it") from None
            except StoreError:  # a newer or a damaged schema version
                self.conn.close()
                raise

    def _version(self) -> int:
        try:
            return schema_version(self.conn, self.path)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{self.path}: not a usable results store ({exc}); run check-store on it") from None
        except StoreError:  # a damaged schema version
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def listen_for_lock_waits(self, listener: LockWaitListener | None) -> None:
        """Tell ``listener`` while a write waits for another program's lock on the results file.

        The wait itself blocks the caller (an answer is durable before anything moves on);
        a window uses this to say why it stands still. A server store has no such lock.
        """
        self._lock_wait_listener = listener
        if isinstance(self.conn, StoreConnection):
            self.conn.lock_wait_listener = listener

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register_study(self, study: Study) -> str:
        """The study's row (created on first use), keyed by protocol hash."""
        row = self.conn.execute("SELECT uuid FROM studies WHERE protocol_hash = ?", (study.protocol_hash,)).fetchone()
        if row:
            return row[0]
        study_uuid = key_uuid("study", study.protocol_hash)
        with write(self.conn) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO studies(uuid, name, version, "
                "protocol_hash, snapshot, created_at) VALUES (?,?,?,?,?,?)",
                (
                    study_uuid,
                    study.name,
                    study.version,
                    study.protocol_hash,
                    json.dumps(study_snapshot(study)),
                    utc_now(),
                ),
            )
        return self.conn.execute("SELECT uuid FROM studies WHERE protocol_hash = ?", (study.protocol_hash,)).fetchone()[
            0
        ]

    def protocol_hashes(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT protocol_hash FROM studies")}

    def check_kind(self) -> None:
        """Refuse to mix simulated (pilot) and real sessions in one file."""
        other = self.conn.execute("SELECT COUNT(*) FROM sessions WHERE pilot != ?", (int(self.pilot),)).fetchone()[0]
        if other:
            kinds = ("real", "pilot") if self.pilot else ("pilot", "real")
            raise StoreError(
                f"{self.path} holds {other} {kinds[0]} session(s); {kinds[1]} sessions go to a separate store "
                "(simulate writes to results/<study>/pilot.sqlite by default)"
            )

    def open_session(
        self, study: Study, annotator: str, force_new: bool = False, arrival: int | None = None
    ) -> Session:
        """Resume the annotator's unfinished session of this study, or start a new one.

        Raises :class:`ProtocolChangedError` when the unfinished session was begun under a
        different protocol, and :class:`StoreError` when the annotator already finished
        this study, unless ``force_new``. ``arrival`` pins a new session's place in the
        counterbalancing rotation (by default: how many other annotators started this study
        in this store before).
        """
        self.check_kind()
        rows = self._sessions_of(study, annotator)
        if not force_new:
            unfinished = _resumable(rows, study)
            if unfinished is not None:
                session_uuid, protocol_hash, started_at, _ = unfinished
                if protocol_hash != study.protocol_hash:
                    raise ProtocolChangedError(
                        f"annotator {annotator} has an unfinished session (started {started_at}) "
                        f"under a different version of the protocol (hash {protocol_hash[:12]}, "
                        f"now {study.protocol_hash[:12]}): the study files changed since. Restore "
                        "the original files to resume, or start a new session (--force-new)."
                    )
                session = self.load_session(session_uuid)
                session.resumed = True
                self._keep_claims(study, session)
                return session
            finished = [r[3] for r in rows if r[1] == study.protocol_hash and r[3] is not None]
            if finished:
                raise StoreError(
                    f"annotator {annotator} already finished this study (on "
                    f"{finished[-1][:16].replace('T', ' ')} UTC). Use another annotator id, or ask the "
                    "study's researcher to start a new session for this one (annotate --force-new)"
                )
        return self._new_session(study, annotator, arrival)

    def _new_session(self, study: Study, annotator: str, arrival: int | None) -> Session:
        study_uuid = self.register_study(study)
        with write(self.conn) as conn:
            # In the write transaction, so that two desktops sharing the file cannot both
            # take the same place in the rotation (on a server: under a lock per study).
            if study.counterbalance is not None:
                serialize(conn, study.protocol_hash)
            assignment = self._assignment(study, annotator, arrival)
            trials = tuple(session_trials(study, annotator, assignment))
            session_uuid, allocated = new_uuid(), allocated_phases(study)
            if allocated:
                trials = claim_trials(
                    conn,
                    study,
                    study_uuid=study_uuid,
                    session_uuid=session_uuid,
                    annotator=annotator,
                    trials=trials,
                    now=utc_now(),
                    slot_uuid=_slot_uuid,
                )
            session = Session(
                session_uuid,
                annotator,
                study.protocol_hash,
                trials,
                utc_now(),
                assignment=assignment,
                allocated=allocated,
            )
            order = json.dumps([[t.phase, t.index, t.image_id] for t in trials])
            conn.execute(
                "INSERT OR IGNORE INTO annotators(uuid, annotator_id, created_at) VALUES (?,?,?)",
                (key_uuid("annotator", annotator), annotator, session.started_at),
            )
            conn.execute(
                "INSERT INTO sessions(uuid, study_uuid, annotator_id, protocol_hash, app_version, machine, started_at, "
                "trial_order, pilot, assignment, front_end) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session.uuid,
                    study_uuid,
                    annotator,
                    study.protocol_hash,
                    __version__,
                    socket.gethostname(),
                    session.started_at,
                    order,
                    int(self.pilot),
                    assignment.to_json() if assignment else None,
                    self.front_end,
                ),
            )
        return session

    def _keep_claims(self, study: Study, session: Session) -> None:
        """A resumed session of a study with allocated phases keeps (or retakes) its images' slots."""
        session.allocated = allocated_phases(study)
        if not session.allocated:
            return
        with write(self.conn) as conn:
            trials = keep_claims(conn, study, session.uuid, session.trials, session.answered, utc_now())
        if trials != session.trials:
            session.trials = trials
            session._cursor = 0

    def _assignment(self, study: Study, annotator: str, arrival: int | None) -> Assignment | None:
        """The annotator's counterbalancing assignment: kept from an earlier session of this
        study, else the next place in the rotation (or the pinned ``arrival``)."""
        if study.counterbalance is None:
            return None
        if arrival is None:
            earlier = self.conn.execute(
                "SELECT uuid, assignment FROM sessions WHERE annotator_id = ? AND "
                "protocol_hash = ? AND assignment IS NOT NULL ORDER BY started_at LIMIT 1",
                (annotator, study.protocol_hash),
            ).fetchone()
            if earlier:
                return study.counterbalance.assign(stored_assignment(earlier[1], earlier[0], self.path).arrival)
            arrival = self.conn.execute(
                "SELECT COUNT(DISTINCT annotator_id) FROM sessions WHERE protocol_hash = ? AND annotator_id != ?",
                (study.protocol_hash, annotator),
            ).fetchone()[0]
        if arrival < 0:
            raise StoreError(f"arrival order must be 0 or more, not {arrival}")
        return study.counterbalance.assign(arrival)

    def load_session(self, session_uuid: str) -> Session:
        row = self.conn.execute(
            "SELECT annotator_id, protocol_hash, trial_order, started_at, "
            "ended_at, assignment FROM sessions WHERE uuid = ?",
            (session_uuid,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no session {session_uuid} in {self.path}")
        trials = trial_order(row[2], session_uuid, self.path)
        answered = {
            (phase, index)
            for phase, index in self.conn.execute(
                "SELECT phase, trial_index FROM trials WHERE session_uuid = ?", (session_uuid,)
            )
        }
        assignment = stored_assignment(row[5], session_uuid, self.path)
        return Session(
            session_uuid,
            row[0],
            row[1],
            trials,
            row[3],
            row[4],
            answered,
            assignment=assignment,
            earlier_sittings=session_sittings(self.conn, session_uuid),
        )

    def submit(self, session: Session, answer: TrialAnswer) -> str:
        """Store one trial's answer durably; returns the trial's UUID.

        Refuses a second answer to the same trial (unless it ``supersedes`` the first, as
        an undo does) and a trial that is not part of the session's order.
        """
        trial, response, supersedes = answer.trial, answer.response, answer.supersedes
        if not session.has_trial(trial):
            raise StoreError(f"trial {trial} is not in session {session.uuid}")
        self._check_file()
        trial_uuid = client_trial_uuid(session.uuid, answer.client_uuid) if answer.client_uuid else new_uuid()
        with write(self.conn) as conn:
            if answer.client_uuid and _stored_trial(conn, trial_uuid, trial, answer.client_uuid):
                session.answered.add((trial.phase, trial.index))
                return trial_uuid  # sent again (its acknowledgement was lost): stored once
            rows = conn.execute(
                "SELECT uuid, supersedes FROM trials WHERE session_uuid = ? AND phase = ? AND trial_index = ?",
                (session.uuid, trial.phase, trial.index),
            ).fetchall()
            replaced = {row[1] for row in rows}
            current = [row[0] for row in rows if row[0] not in replaced]
            if current and current != [supersedes]:
                raise StoreError(f"trial {trial.index + 1} of phase {trial.phase} is already answered in this session")
            conn.execute(
                "INSERT INTO trials(uuid, session_uuid, phase, trial_index, image_id, image_sha256, outcome, shown_at, "
                "answered_at, rt_ms, presented_ms, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    trial_uuid,
                    session.uuid,
                    trial.phase,
                    trial.index,
                    trial.image_id,
                    answer.image_sha256,
                    response.outcome,
                    response.shown_at,
                    response.answered_at,
                    response.rt_ms,
                    response.presented_ms,
                    supersedes,
                ),
            )
            conn.executemany(
                "INSERT INTO answers(uuid, trial_uuid, rank, label_id) VALUES (?,?,?,?)",
                [
                    (child_uuid(trial_uuid, f"rank{rank}"), trial_uuid, rank, label)
                    for rank, label in enumerate(response.labels, start=1)
                ],
            )
            if response.flag:
                conn.execute(
                    "INSERT INTO flags(uuid, trial_uuid, reason, note) VALUES (?,?,?,?)",
                    (child_uuid(trial_uuid, "flag"), trial_uuid, response.flag, response.flag_note),
                )
            self._insert_events(conn, session, answer.events, trial)
            if self.fills_slots and trial.phase in session.allocated:
                fill_slot(
                    conn,
                    session.uuid,
                    trial_uuid,
                    phase=trial.phase,
                    image_id=trial.image_id,
                    supersedes=supersedes,
                    now=utc_now(),
                    minutes=session.allocated[trial.phase],
                )
        session.answered.add((trial.phase, trial.index))
        return trial_uuid

    def client_answer(self, session: Session, client_uuid: str) -> tuple[str, int] | None:
        """(phase, trial index) of the answer a front end sent under ``client_uuid`` in this
        session, if it is stored: a page that re-sends an answer whose acknowledgement it never
        got learns that it is stored (once), whichever trial is current by now."""
        row = self.conn.execute(
            "SELECT phase, trial_index FROM trials WHERE uuid = ?", (client_trial_uuid(session.uuid, client_uuid),)
        ).fetchone()
        return (row[0], int(row[1])) if row else None

    def _check_file(self) -> None:
        """Raise (once, after rescuing every answer) if the results file was deleted or replaced."""
        if self._guard is None:  # a server's store, or one opened read-only: nothing to guard
            return
        repaired = self._guard.repair(cast(sqlite3.Connection, self.conn))  # a guarded file: SQLite's connection
        if repaired:
            self.conn, message = repaired
            self.path = self._guard.path
            self.listen_for_lock_waits(self._lock_wait_listener)
            raise StoreError(message)

    def log_events(self, session: Session, events: Iterable[Event], trial: Trial | None = None) -> None:
        """Store events that belong to no submitted answer (pauses, quitting mid-trial)."""
        events = list(events)
        if events:
            with write(self.conn) as conn:
                self._insert_events(conn, session, events, trial)

    @staticmethod
    def _insert_events(conn: Connection, session: Session, events: Iterable[Event], trial: Trial | None) -> None:
        conn.executemany(
            "INSERT INTO events(uuid, session_uuid, phase, trial_index, "
            "kind, t_ms, detail, at) VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    new_uuid(),
                    session.uuid,
                    trial.phase if trial else None,
                    trial.index if trial else None,
                    event.kind,
                    event.t_ms,
                    json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
                    event.at,
                )
                for event in events
            ],
        )

    def session_answers(self, session: Session) -> list[StoredAnswer]:
        """The session's current answers (a revised one left out: its revision counts), in the
        order of ``answers_frame`` (answered time, then storage order), for a resumed session's scores."""
        rows = self.conn.execute(
            "SELECT t.uuid, t.phase, t.image_id, t.outcome, a.label_id FROM trials t "
            "LEFT JOIN answers a ON a.trial_uuid = t.uuid "
            "WHERE t.session_uuid = ? AND NOT EXISTS (SELECT 1 FROM trials r WHERE r.supersedes = t.uuid) "
            "ORDER BY t.answered_at, t.rowid, a.rank",
            (session.uuid,),
        ).fetchall()
        answers: list[StoredAnswer] = []
        for _, group in groupby(rows, key=itemgetter(0)):  # a trial's rows are adjacent (one per rank)
            trial = list(group)
            _, phase, image_id, outcome, _ = trial[0]
            answers.append(
                StoredAnswer(phase, image_id, outcome, tuple(label for *_, label in trial if label is not None))
            )
        return answers

    def end_unanswered_session(self, session: Session) -> bool:
        """End a session that holds no answer (its run failed before the first one), so that it
        shows neither as in progress nor holds images' slots; nothing is deleted. A session
        with answers is left as it is (it ends only once complete): returns whether it ended."""
        self._check_file()
        ended_at = utc_now()
        with write(self.conn) as conn:
            ended = conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE uuid = ? AND ended_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM trials WHERE session_uuid = ?)",
                (ended_at, session.uuid, session.uuid),
            ).rowcount
        if ended:
            session.ended_at = ended_at
        return bool(ended)

    def finish_session(self, session: Session) -> None:
        """Mark the session ended (only once every trial is answered)."""
        if not session.complete:
            raise StoreError(f"session {session.uuid} still has unanswered trials")
        self._check_file()
        session.ended_at = utc_now()
        with write(self.conn) as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE uuid = ? AND ended_at IS NULL", (session.ended_at, session.uuid)
            )

    def sync_status(self) -> SyncStatus:
        """Always synced: an answer is in this store once ``submit`` returns.

        The store is a file, or a server written to directly.
        """
        return ALWAYS_SYNCED

    def unfinished_session(self, study: Study, annotator: str) -> tuple[str, str, int] | None:
        """(session uuid, started_at, answered count) of the annotator's open session of this
        study that :meth:`open_session` would resume (or refuse as begun under another protocol), if any."""
        unfinished = _resumable(self._sessions_of(study, annotator), study)
        if unfinished is None:
            return None
        answered = self.conn.execute(
            "SELECT COUNT(DISTINCT phase || ':' || trial_index) FROM trials WHERE session_uuid = ?", (unfinished[0],)
        ).fetchone()[0]
        return unfinished[0], unfinished[2], answered

    def _sessions_of(self, study: Study, annotator: str) -> list[tuple[str, str, str, str | None]]:
        """(uuid, protocol hash, started_at, ended_at) of the annotator's sessions of this study,
        oldest first. A study is its name: one store (a lab's server) may hold several studies,
        and this study's sessions under an earlier version of its protocol are still its own."""
        return self.conn.execute(
            "SELECT s.uuid, s.protocol_hash, s.started_at, s.ended_at FROM sessions s JOIN studies st ON "
            "st.uuid = s.study_uuid WHERE st.name = ? AND s.annotator_id = ? ORDER BY s.started_at, s.uuid",
            (study.name, annotator),
        ).fetchall()


def client_trial_uuid(session_uuid: str, client_uuid: str) -> str:
    """The stored trial UUID of an answer a front end made up ``client_uuid`` for: derived from
    the session's, so that one page's UUIDs can never name (and so replay onto) another
    session's rows, and sending the same answer twice names the same row."""
    return child_uuid(session_uuid, f"client:{client_uuid}")


def _stored_trial(conn: Connection, trial_uuid: str, trial: Trial, client_uuid: str) -> bool:
    """Whether the answer ``trial_uuid`` is stored already (for this very trial; a client UUID
    sent again for another trial is refused: the page reused it)."""
    row = conn.execute("SELECT phase, trial_index FROM trials WHERE uuid = ?", (trial_uuid,)).fetchone()
    if row is None:
        return False
    if (row[0], int(row[1])) != (trial.phase, trial.index):
        raise StoreError(
            f"answer {client_uuid} is stored for trial {int(row[1]) + 1} of phase {row[0]}, "
            f"not for trial {trial.index + 1} of phase {trial.phase}: one answer UUID names one answer"
        )
    return True


def _resumable(
    sessions: list[tuple[str, str, str, str | None]], study: Study
) -> tuple[str, str, str, str | None] | None:
    """Of an annotator's sessions of a study (oldest first), the unfinished one a start resumes:
    the latest begun under the current protocol, else the latest under another version (which
    cannot be resumed: the caller says so). A session begun with --force-new after a protocol
    change is resumed, not refused because of the one it replaced."""
    unfinished = sorted((s for s in sessions if s[3] is None), key=lambda s: s[1] == study.protocol_hash)
    return unfinished[-1] if unfinished else None

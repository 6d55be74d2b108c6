"""What the session core asks of a results store: the seam every front end annotates through.

A front end (the desktop window, scripted pilot participants, a web server for remote
annotators) drives a :class:`~study_app.session.controller.SessionController`, and the
controller writes through an :class:`AnswerStore`. Two stores implement it:

- :class:`~study_app.store.results_store.ResultsStore`: a results file (SQLite), or a
  PostgreSQL server written to directly; every answer is in the store of record when
  ``submit`` returns, so it is always synced (:data:`ALWAYS_SYNCED`);
- :class:`~study_app.store.journal.JournaledStore`: a server behind a local journal that
  keeps answering while the server is gone; its :meth:`~AnswerStore.sync_status` says
  how many answers wait to be sent.

The protocol holds exactly what the session core and the front ends call, so a front end
typed against it runs on either store, and a third store (another backend) is done when it
satisfies this protocol (tests/store/test_answer_store.py checks both with mypy). Sync
status is part of it -- with a typed "always synced" -- so no front end asks which store it has.
Reading and analysing a store (``answers_frame``, exports, progress) is not part of it: that
works on the store of record, not on a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, Self

from study_app.protocol.responses import Event, Response
from study_app.protocol.schedule import Trial
from study_app.protocol.study import Study

if TYPE_CHECKING:  # results_store imports this module (for the types below) at run time
    from study_app.store.db import LockWaitListener
    from study_app.store.results_store import Session


@dataclass(frozen=True)
class SyncStatus:
    """Whether the store of record has every answer, for a status line that refreshes often."""

    online: bool
    waiting: int  # answers in the journal that the server does not have yet
    problem: str = ""  # why the server has not got them, when it said (for the researcher, the sync command)
    #: True for a store that keeps answers in a journal before the store of record has them;
    #: False for one that writes there directly (always synced: a front end shows no status line).
    journaled: bool = True

    def text(self) -> str:
        if not self.journaled:
            return "Every answer is stored in the results store"
        if self.online and not self.waiting:
            return "Server: connected"
        if self.online:
            return f"Server: connected, sending {self.waiting} saved answer(s)"
        return f"Server unreachable: {self.waiting} answer(s) saved on this computer, sent when it is back"


#: What a session can be annotated in: the PyQt5 window (and scripted pilots), or a browser
#: (``serve``); each session records its own, so one study may mix desks and browsers.
FRONT_ENDS: Final = ("desktop", "web")

#: The status of a store that writes every answer straight into the store of record.
ALWAYS_SYNCED: Final = SyncStatus(online=True, waiting=0, journaled=False)


@dataclass(frozen=True)
class TrialAnswer:
    """One trial's answer as the session core hands it to a store: one value, so that every
    store's ``submit`` takes the same thing and a new piece of an answer is added in one place."""

    trial: Trial
    image_sha256: str  # of the file shown, so that an export proves which image was answered
    response: Response
    events: tuple[Event, ...] = ()
    supersedes: str | None = None  # the UUID of the answer this one revises (an undo), if any
    #: A UUID the front end made for this answer (a browser page keeps it with the answer and
    #: re-sends until acknowledged): the store keeps the answer once however often it comes.
    client_uuid: str | None = None


@dataclass(frozen=True)
class StoredAnswer:
    """One current (not revised) answer of a session, as a resumed session re-scores it."""

    phase: str
    image_id: str
    outcome: str
    labels: tuple[str, ...]  # in rank order; empty for a non-answer


class AnswerStore(Protocol):
    """A results store as a session writes into it (see the module docstring)."""

    def open_session(
        self, study: Study, annotator: str, force_new: bool = False, arrival: int | None = None
    ) -> Session:
        """Resume the annotator's unfinished session of this study, or start a new one."""
        ...

    def unfinished_session(self, study: Study, annotator: str) -> tuple[str, str, int] | None:
        """(session uuid, started_at, answered count) of the session :meth:`open_session` would resume, if any."""
        ...

    def submit(self, session: Session, answer: TrialAnswer) -> str:
        """Store one trial's answer durably before returning; returns the trial's UUID."""
        ...

    def log_events(self, session: Session, events: Iterable[Event], trial: Trial | None = None) -> None:
        """Store events that belong to no submitted answer (pauses, quitting mid-trial, an undo)."""
        ...

    def session_answers(self, session: Session) -> list[StoredAnswer]:
        """The session's current answers (revised ones left out), in the order they were given."""
        ...

    def end_unanswered_session(self, session: Session) -> bool:
        """End a session that holds no answer (nothing is deleted); returns whether it ended."""
        ...

    def finish_session(self, session: Session) -> None:
        """Mark the session ended (only once every trial is answered)."""
        ...

    def listen_for_lock_waits(self, listener: LockWaitListener | None) -> None:
        """Tell ``listener`` while a write waits for another program's lock (a window says why it stands still)."""
        ...

    def sync_status(self) -> SyncStatus:
        """Whether the store of record has every answer; never waits for the network."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

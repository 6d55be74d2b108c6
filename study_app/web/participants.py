"""The participants a web server is serving: each one's session core, image tokens and rate.

A page is known by a random token (its cookie); the store keeps the token's digest with
the session, so that after a restart the server finds the session again and the page's
re-sent answers land where they belong. Every method that touches a controller or the
store runs on the participant's worker thread (:mod:`study_app.web.workers`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study_app.errors import StoreError
from study_app.protocol.responses import Event
from study_app.protocol.study import Study
from study_app.session.controller import SessionController
from study_app.store.results_store import ResultsStore
from study_app.store.web_tokens import bind_token, session_of_token
from study_app.web.panels import Participant
from study_app.web.payloads import Answer
from study_app.web.views import feedback_view, phase_view
from study_app.web.workers import StoreWorkers


class Refused(Exception):
    """A request that is well formed but cannot be done now (HTTP ``status``), with the state to show."""

    def __init__(self, status: int, message: str, state: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.state = state


@dataclass
class RateBucket:
    """A token bucket: ``capacity`` requests at once, refilled at ``rate`` per second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when a request may go now, else the seconds until one may (the request is refused)."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


#: Requests per participant: bursts of typing in the search box, answers, images.
PAGE_RATE = (120.0, 30.0)
#: Events one session may log outside its answers (focus, visibility, breaks): thousands in a
#: long session, never millions.
MAX_LOGGED_EVENTS = 20_000


class WebSession:
    """One participant's session as this server serves it."""

    def __init__(
        self,
        study: Study,
        controller: SessionController | None,
        annotator: str,
        worker: int,
        rate: tuple[float, float] = PAGE_RATE,
    ) -> None:
        self.study = study
        #: None for a session that had ended before this server process first saw it.
        self.controller = controller
        self.annotator = annotator
        self.worker = worker
        self.bucket = RateBucket(*rate)
        self.logged = 0  # events taken through /api/events (an answer's own go with it)
        self._files: dict[str, Path] = {}  # image token -> file: what this page may fetch
        self._tokens: dict[Path, str] = {}

    # -- images: opaque, per session ------------------------------------------------------
    def image_url(self, path: Path) -> str:
        token = self._tokens.get(path)
        if token is None:
            token = secrets.token_urlsafe(18)
            self._tokens[path] = token
            self._files[token] = path
        return f"/img/{token}"

    def image_file(self, token: str) -> Path | None:
        """The file behind one of this page's image tokens (None for any other token)."""
        return self._files.get(token)

    def example_urls(self, label_id: str) -> list[str]:
        paths = self.study.labels.examples.get(label_id, ())[: self.study.examples_per_class]
        return [self.image_url(path) for path in paths]

    # -- state ----------------------------------------------------------------------------
    def state(self, completion_url: str | None) -> dict[str, Any]:
        """Where the participant is: the current trial (never its truth or image id), a due break, the end."""
        c = self.controller
        if c is None or c.complete:
            return {
                "annotator": self.annotator,
                "position": c.total if c else None,
                "total": c.total if c else None,
                "resumed": True,
                "complete": True,
                "completion_url": completion_url,
                "break": None,
                "can_undo": False,
                "trial": None,
            }
        trial = c.current()
        assert trial is not None  # not complete
        phase = c.study.phase(trial.phase)
        following = c.session.trials[c.position + 1] if c.position + 1 < c.total else None
        revising = c.answer_under_revision
        due = c.break_due()
        block_phase = c.study.phase(c.session.trials[c.position - 1].phase) if due else None
        # the block's score only after a phase with feedback: a test phase's accuracy never reaches the page
        correct, answered = c.block_score() if block_phase is not None and block_phase.feedback else (None, None)
        return {
            "annotator": self.annotator,
            "position": c.position,
            "total": c.total,
            "resumed": c.resumed,
            "complete": False,
            "completion_url": None,
            "break": {"phase": block_phase.name, "correct": correct, "answered": answered}
            if block_phase is not None
            else None,
            "can_undo": c.can_undo(),
            "trial": {
                "position": c.position,
                "phase": phase_view(c, phase, trial.index),
                "image": self.image_url(self.study.images[trial.image_id].path),
                "next_image": self.image_url(self.study.images[following.image_id].path) if following else None,
                "mask": "/static/mask.png" if phase.presentation else None,
                "revising": None
                if revising is None
                else {"labels": list(revising.labels), "outcome": revising.outcome},
            },
        }

    def _live(self) -> SessionController:
        if self.controller is None or self.controller.complete:
            raise Refused(409, "this session is complete: there is no trial left", self.state(None))
        return self.controller

    # -- what a page does (on the worker thread) -------------------------------------------
    def answer(self, store: ResultsStore, sent: Answer, completion_url: str | None) -> dict[str, Any]:
        """Store one answer once: a re-sent one (same UUID) is acknowledged without storing it again."""
        c = self.controller
        stored = None if c is None else store.client_answer(c.session, sent.client_uuid)
        if c is not None and stored is not None:
            sent_for = c.session.trials[sent.position] if sent.position < c.total else None
            if sent_for is None or (sent_for.phase, sent_for.index) != stored:
                raise Refused(409, f"answer {sent.client_uuid} is stored for another trial: one UUID names one answer")
            self._finish_if_complete()  # the first time round, the end may not have been stored
            return {"saved": True, "replayed": True, "feedback": None, "state": self.state(completion_url)}
        c = self._live()
        if sent.position != c.position and not c.revising:
            c = self._reload(store)  # another server process (or tab) may have moved the session on
        if sent.position != c.position:
            raise Refused(
                409,
                f"answer for trial {sent.position + 1}, but trial {c.position + 1} is the current one",
                self.state(completion_url),
            )
        phase = c.current_phase()
        assert phase is not None  # live: a trial is current
        if len(sent.response.labels) > phase.answers:
            raise Refused(400, f"labels: {len(sent.response.labels)} given, phase {phase.name} takes {phase.answers}")
        try:
            feedback = c.submit(sent.response, sent.events, client_uuid=sent.client_uuid)
        except StoreError:  # answered meanwhile through another server process: this view was stale
            self._reload(store)
            raise Refused(
                409, "this trial was answered meanwhile (in another window?)", self.state(completion_url)
            ) from None
        self._finish_if_complete()
        return {
            "saved": True,
            "replayed": False,
            "feedback": None if feedback is None else feedback_view(self.study, feedback),
            "state": self.state(completion_url),
        }

    def _finish_if_complete(self) -> None:
        c = self.controller
        if c is not None and c.complete and c.session.ended_at is None:
            c.finish()

    def _reload(self, store: ResultsStore) -> SessionController:
        """The session as the store has it now (another server process on the same PostgreSQL
        store may have taken answers of this page's participant): a fresh session core, or the
        end when the session has ended meanwhile (then :class:`Refused`)."""
        current = self._live()
        if store.load_session(current.session.uuid).ended_at is not None:
            self.controller = None
            return self._live()
        self.controller = SessionController(self.study, store, self.annotator)
        return self._live()

    def undo(self) -> dict[str, Any]:
        c = self._live()
        if not c.can_undo():
            raise Refused(409, "the last answer cannot be taken back now", self.state(None))
        taken = c.undo()
        return {"state": self.state(None), "revising": {"labels": list(taken.labels), "outcome": taken.outcome}}

    def cancel_revision(self) -> dict[str, Any]:
        c = self._live()
        if not c.revising:
            raise Refused(409, "no answer is being revised", self.state(None))
        c.cancel_revision()
        return {"state": self.state(None)}

    def pause(self, t_ms: float, seen: bool) -> dict[str, Any]:
        c = self._live()
        event = c.pause_event(t_ms, seen)
        c.log([event])
        return {"then": event.detail["then"]}

    def log(self, events: list[Event]) -> dict[str, Any]:
        if self.controller is None:  # ended before this server saw it: nothing to log against
            return {"logged": 0}
        if self.logged + len(events) > MAX_LOGGED_EVENTS:  # a page gone wrong must not fill the store
            raise Refused(413, f"this session has logged {self.logged} events here; no more are taken")
        self.controller.log(events)
        self.logged += len(events)
        return {"logged": len(events)}


class Registry:
    """Tokens and sessions of the participants this server serves (and finds again after a restart)."""

    def __init__(
        self, study: Study, workers: StoreWorkers, rate: tuple[float, float] = PAGE_RATE, pilot: bool = False
    ) -> None:
        self.study = study
        self.pilot = pilot
        self.workers = workers
        self.rate = rate
        self._by_token: dict[str, WebSession] = {}
        self._by_annotator: dict[str, WebSession] = {}
        self._finding = asyncio.Lock()

    async def start(self, participant: Participant, details: list[Event]) -> tuple[str, WebSession]:
        """A new token for ``participant``'s session (resumed if unfinished): a second tab or
        device shares the one session core, never a second one on the same session."""
        token = secrets.token_urlsafe(32)
        async with self._finding:
            known = self._by_annotator.get(participant.annotator)
            worker = self.workers.worker_of(participant.annotator)

            def open_session(store: ResultsStore) -> WebSession:
                web = known
                if web is None or web.controller is None or web.controller.complete:
                    # a pilot (scripted) annotator who finished starts again, as simulate's always do
                    again = self.pilot and store.unfinished_session(self.study, participant.annotator) is None
                    controller = SessionController(self.study, store, participant.annotator, force_new=again)
                    web = WebSession(self.study, controller, participant.annotator, worker, self.rate)
                assert web.controller is not None
                web.controller.log(details)
                bind_token(store, web.controller.session, token)
                return web

            web = await self.workers.run(worker, open_session)
            self._by_annotator[participant.annotator] = web
            self._by_token[token] = web
        return token, web

    def knows(self, token: str) -> bool:
        """Whether this process has served ``token`` already (no look-up in the store needed)."""
        return token in self._by_token

    async def find(self, token: str) -> WebSession | None:
        """The session a page's token opens (looked up in the store after a restart): the one live
        session core of its annotator, or the session's end; None for a token this study never gave."""
        web = self._by_token.get(token)
        if web is not None or not token:
            return web
        async with self._finding:
            web = self._by_token.get(token)
            if web is not None:
                return web
            found = await self.workers.read(lambda store: session_of_token(store, token, self.study.name))
            if found is None:
                return None
            session_uuid, annotator, ended = found
            worker = self.workers.worker_of(annotator)
            live = self._by_annotator.get(annotator)
            if ended:
                web = WebSession(self.study, None, annotator, worker, self.rate)
            elif live is not None and live.controller is not None and live.controller.session.uuid == session_uuid:
                web = live
            else:  # a store error propagates: the page is told to try again, its answers stay queued

                def reopen(store: ResultsStore) -> WebSession:
                    controller = SessionController(self.study, store, annotator)
                    return WebSession(self.study, controller, annotator, worker, self.rate)

                web = await self.workers.run(worker, reopen)
                assert web.controller is not None
                if web.controller.session.uuid != session_uuid:  # not the annotator's open session
                    return None
                self._by_annotator[annotator] = web
            self._by_token[token] = web
            return web

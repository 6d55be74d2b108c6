"""Scripted participants over HTTP: a pilot run of the online study, and its load test.

Each one does what the browser page does, through the same endpoints: starts with an id,
reads the state, fetches the image by its opaque URL, answers with a UUID of its own, and
re-sends an unacknowledged answer (same UUID) until the server acknowledges it, through
lost connections and a restarted server. Its answers come from a
:class:`~study_app.session.pilot.ScriptedParticipant`; it knows which image it was shown
only as a person does, by looking at it: the image's bytes are matched to the study's
images by SHA-256 (the server never says).
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from study_app.errors import StudyError
from study_app.protocol.correctness import answers_correct, scored_guesses
from study_app.protocol.responses import Response
from study_app.protocol.study import Study
from study_app.session.pilot import ScriptedParticipant
from study_app.session.simulated_raters import RaschRaters

#: How long a participant keeps re-sending through a lost connection or a restarting server.
RETRY_FOR_S = 60.0


class ServerGone(StudyError):
    """The server did not answer for :data:`RETRY_FOR_S` seconds."""


def image_ids_by_content(study: Study) -> dict[str, str]:
    """SHA-256 of each image file -> its image id: how a script recognises what it was shown."""
    return {record.sha256: image_id for image_id, record in study.images.items()}


@dataclass
class WebRun:
    """What one scripted participant did: answers acknowledged, re-sends, per-phase score, latencies."""

    annotator: str
    acknowledged: list[str] = field(default_factory=list)  # the UUIDs the server acknowledged, in order
    resent: int = 0
    correct: dict[str, list[int]] = field(default_factory=dict)
    submit_ms: list[float] = field(default_factory=list)  # send -> acknowledgement, per answer


class WebParticipant:
    """One scripted participant's page, driven over HTTP against ``base_url``."""

    def __init__(
        self,
        base_url: str,
        study: Study,
        participant: ScriptedParticipant,
        *,
        images: dict[str, str],
        retry_for_s: float = RETRY_FOR_S,
        after_answer: Callable[[WebRun], None] | None = None,
    ) -> None:
        self.study = study
        self.participant = participant
        self.images = images
        self.retry_for_s = retry_for_s
        self.after_answer = after_answer
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        self.run_record = WebRun(participant.annotator)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One call, repeated (same body) through lost connections, 5xx and 429 until it is answered."""
        deadline = time.monotonic() + self.retry_for_s
        tries = 0
        while True:
            try:
                reply = self.http.request(method, path, json=body)
            except httpx.TransportError:
                reply = None
            if reply is not None and reply.status_code < 500 and reply.status_code != 429:
                if reply.status_code >= 400:
                    raise StudyError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
                return reply.json()
            if time.monotonic() > deadline:
                raise ServerGone(f"{method} {path}: no answer from the server for {self.retry_for_s:g} s")
            tries += 1
            wait = float(reply.headers.get("retry-after", 0)) if reply is not None else 0.0
            time.sleep(max(wait, min(0.05 * tries, 1.0)))

    def fetch(self, url: str) -> bytes:
        deadline = time.monotonic() + self.retry_for_s
        while True:
            try:
                reply = self.http.get(url)
                if reply.status_code == 200:
                    return reply.content
                if reply.status_code == 404:  # a token from before a restart: ask for the state again
                    raise LookupError(url)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerGone(f"GET {url}: no answer from the server for {self.retry_for_s:g} s")
            time.sleep(0.1)

    def walk(self, most: int | None = None) -> WebRun:
        """The whole session (or its first ``most`` answers): start, every trial, breaks;
        returns what was acknowledged."""
        state = self.request(
            "POST",
            "/api/start",
            {"consent": True, "params": {}, "annotator": self.participant.annotator, "client": {"script": True}},
        )["state"]
        while not state["complete"] and (most is None or len(self.run_record.acknowledged) < most):
            if state["break"]:
                self.request("POST", "/api/events", {"events": [{"kind": "break_start", "t_ms": 0}]})
            state = self._answer(state)
        return self.run_record

    def _answer(self, state: dict[str, Any]) -> dict[str, Any]:
        trial = state["trial"]
        try:
            content = self.fetch(trial["image"])
        except LookupError:
            return self.request("GET", "/api/state")
        image_id = self.images.get(hashlib.sha256(content).hexdigest())
        if image_id is None:
            raise StudyError(f"the server sent an image that is none of study {self.study.name}'s")
        phase = self.study.phase(trial["phase"]["name"])
        response = self.participant.respond(image_id, phase.answers, phase.time_limit_s)
        body = answer_body(str(uuid.uuid4()), trial["position"], response)
        started = time.perf_counter()
        reply = self._send_until_acknowledged(body)
        self.run_record.submit_ms.append((time.perf_counter() - started) * 1000)
        self.run_record.acknowledged.append(body["uuid"])
        judged = scored_guesses(response.labels, response.outcome, phase)
        right = bool(answers_correct([judged], [self.study.truth(image_id)], phase)[0])
        score = self.run_record.correct.setdefault(phase.name, [0, 0])
        score[0] += right
        score[1] += 1
        if self.after_answer is not None:
            self.after_answer(self.run_record)
        return reply["state"]

    def _send_until_acknowledged(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send (and re-send) the answer until the server says it is stored."""
        deadline = time.monotonic() + self.retry_for_s
        tries = 0
        while True:
            try:
                reply = self.http.post("/api/answer", json=body)
            except httpx.TransportError:
                reply = None
            if reply is not None and reply.status_code == 200:
                return reply.json()
            if reply is not None and reply.status_code not in (429,) and reply.status_code < 500:
                raise StudyError(f"answer refused: {reply.status_code} {reply.text[:300]}")
            if time.monotonic() > deadline:
                raise ServerGone(f"answer {body['uuid']}: not acknowledged for {self.retry_for_s:g} s")
            tries += 1
            self.run_record.resent += 1
            time.sleep(min(0.05 * tries, 1.0))


def answer_body(client_uuid: str, position: int, response: Response) -> dict[str, Any]:
    """``POST /api/answer``'s body for a response, as the page builds it."""
    return {
        "uuid": client_uuid,
        "position": position,
        "outcome": response.outcome,
        "labels": list(response.labels),
        "rt_ms": response.rt_ms,
        "shown_at": response.shown_at,
        "answered_at": response.answered_at,
        "presented_ms": response.presented_ms,
        "flag": response.flag,
        "flag_note": response.flag_note,
        "events": [{"kind": "search", "t_ms": response.rt_ms / 2, "detail": {"query": "pilot"}}],
        "timing": None,
    }


def scripted_participant(
    study: Study,
    annotator: str,
    raters: RaschRaters,
    seed: int,
    rt_ms: tuple[float, float],
    real_time: bool = False,
) -> ScriptedParticipant:
    """A pilot participant answering by the Rasch model (the same draws as ``simulate``'s for this
    seed and id); ``real_time``: it takes its response times for real (a load test at people's pace)."""
    return ScriptedParticipant(
        study,
        random.Random(f"{seed}:{annotator}"),
        raters,
        annotator=annotator,
        guesses=None,
        rt_ms=rt_ms,
        real_time=real_time,
    )

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

import asyncio
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
    """One scripted participant's page, driven over HTTP against ``base_url``.

    Asynchronous, so that a hundred of them run on one event loop (the load test) without a
    hundred threads taking turns at the interpreter lock, which would time the client, not
    the server. ``real_time``: wait each response time before answering (people's pace)."""

    def __init__(
        self,
        base_url: str,
        study: Study,
        participant: ScriptedParticipant,
        *,
        images: dict[str, str],
        retry_for_s: float = RETRY_FOR_S,
        real_time: bool = False,
        after_answer: Callable[[WebRun], None] | None = None,
    ) -> None:
        self.study = study
        self.participant = participant
        self.images = images
        self.retry_for_s = retry_for_s
        self.real_time = real_time
        self.after_answer = after_answer
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30.0)
        self.run_record = WebRun(participant.annotator)

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One call, repeated (same body) through lost connections, 5xx and 429 until the server
        answers otherwise; each repeat of an answer is counted (:attr:`WebRun.resent`)."""
        deadline = time.monotonic() + self.retry_for_s
        tries = 0
        while True:
            try:
                reply = await self.http.request(method, path, json=body)
                if reply.status_code < 500 and reply.status_code != 429:
                    return reply
                wait = float(reply.headers.get("retry-after", 0))
            except httpx.TransportError:
                wait = 0.0
            if time.monotonic() > deadline:
                raise ServerGone(f"{method} {path}: no answer from the server for {self.retry_for_s:g} s")
            tries += 1
            if path == "/api/answer":
                self.run_record.resent += 1
            await asyncio.sleep(max(wait, min(0.05 * tries, 1.0)))

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        reply = await self._call(method, path, body)
        if reply.status_code >= 400:
            raise StudyError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json()

    async def walk(self, most: int | None = None) -> WebRun:
        """The whole session (or its first ``most`` answers): start, every trial, breaks;
        returns what was acknowledged."""
        state = (
            await self.request(
                "POST",
                "/api/start",
                {"consent": True, "params": {}, "annotator": self.participant.annotator, "client": {"script": True}},
            )
        )["state"]
        while not state["complete"] and (most is None or len(self.run_record.acknowledged) < most):
            if state["break"]:
                await self.request("POST", "/api/events", {"events": [{"kind": "break_start", "t_ms": 0}]})
            state = await self._answer(state)
        return self.run_record

    async def _answer(self, state: dict[str, Any]) -> dict[str, Any]:
        trial = state["trial"]
        image = await self._call("GET", trial["image"])
        if image.status_code == 404:  # a token from before a restart: ask for the state again
            return await self.request("GET", "/api/state")
        image_id = self.images.get(hashlib.sha256(image.content).hexdigest())
        if image.status_code != 200 or image_id is None:
            raise StudyError(f"the server sent no image of study {self.study.name} ({image.status_code})")
        phase = self.study.phase(trial["phase"]["name"])
        response = self.participant.respond(image_id, phase.answers, phase.time_limit_s)
        if self.real_time:
            await asyncio.sleep(response.rt_ms / 1000)
        body = answer_body(str(uuid.uuid4()), trial["position"], response)
        started = time.perf_counter()
        reply = await self.request("POST", "/api/answer", body)
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


async def walk_all(pages: list[WebParticipant], most: int | None = None, at_once: int | None = None) -> list[WebRun]:
    """Walk the pages on this event loop, ``at_once`` of them at a time (default: all); closes them."""
    gate = asyncio.Semaphore(at_once or len(pages) or 1)

    async def walk(page: WebParticipant) -> WebRun:
        async with gate:
            try:
                return await page.walk(most)
            finally:
                await page.close()

    return list(await asyncio.gather(*(walk(page) for page in pages)))


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
) -> ScriptedParticipant:
    """A pilot participant answering by the Rasch model (the same draws as ``simulate``'s for this seed and id)."""
    return ScriptedParticipant(
        study,
        random.Random(f"{seed}:{annotator}"),
        raters,
        annotator=annotator,
        guesses=None,
        rt_ms=rt_ms,
    )

"""``simulate --web``: scripted participants take the online study through its web server.

The same pilot as ``simulate`` (the same Rasch answers for a seed and id), but every answer
travels as the browser's does: over HTTP, through the server's checks, idempotent by the
participant's own UUID. Without a URL the server runs in this process on a pilot store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from study_app.errors import StudyError
from study_app.protocol.study import Study
from study_app.session.pilot import PilotSummary, default_pilot_store
from study_app.session.simulated_raters import DEFAULT_ABILITY_SD, DEFAULT_DIFFICULTY_SD, RaschRaters
from study_app.web.client import WebParticipant, WebRun, image_ids_by_content, scripted_participant, walk_all
from study_app.web.local import served
from study_app.web.server import ServerConfig, create_app


def run_web_pilot(
    study: Study,
    annotators: int,
    *,
    url: str | None = None,
    store: str | Path | None = None,
    accuracy: float = 0.8,
    ability_sd: float = DEFAULT_ABILITY_SD,
    difficulty_sd: float = DEFAULT_DIFFICULTY_SD,
    rt_ms: tuple[float, float] = (2500.0, 800.0),
    seed: int = 0,
    concurrent: int = 1,
) -> tuple[PilotSummary, list[WebRun]]:
    """Walk ``annotators`` scripted participants through the study's web server (``url``, or
    one started here on the pilot store ``store``), ``concurrent`` of them at a time."""
    if annotators < 1 or concurrent < 1:
        raise StudyError("--annotators and --concurrent must be at least 1")
    raters = RaschRaters(accuracy, ability_sd, difficulty_sd, seed)
    images = image_ids_by_content(study)
    names = [f"webpilot-{seed}-{number:03d}" for number in range(1, annotators + 1)]

    def walk_all_pages(base: str) -> list[WebRun]:
        pages = [
            WebParticipant(base, study, scripted_participant(study, name, raters, seed, rt_ms), images=images)
            for name in names
        ]
        return asyncio.run(walk_all(pages, at_once=concurrent))

    location: str | Path = url or ""
    if url is None:
        location = store or default_pilot_store(study)
        with served(create_app(ServerConfig(study, location, pilot=True))) as base:
            runs = walk_all_pages(base)
    else:
        _check_pilot_server(url)
        runs = walk_all_pages(url)
    correct: dict[str, tuple[int, int]] = {}
    for phase in study.phases:
        scores = [run.correct.get(phase.name, [0, 0]) for run in runs]
        correct[phase.name] = (sum(s[0] for s in scores), sum(s[1] for s in scores))
    summary = PilotSummary(
        location,
        tuple(names),
        sum(len(run.acknowledged) for run in runs),
        correct,
        answers=f"{raters.describe()}; over HTTP",
    )
    return summary, runs


def _check_pilot_server(url: str) -> None:
    """Refuse a server that is not a pilot one: scripted answers never go into a real study's store."""
    try:
        reply = httpx.get(f"{url.rstrip('/')}/api/config", timeout=30.0)
        pilot = reply.json()["study"].get("pilot") if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        raise StudyError(f"{url} does not answer as a study's web server (is serve running there?)") from None
    if pilot is not True:
        raise StudyError(
            f"{url} is not a pilot server: scripted annotators answer only into a pilot store "
            "(start it with serve --pilot)"
        )

"""Many scripted participants against a real ``serve`` process, which may be killed (SIGKILL)
and restarted in the middle; then the store is checked against what the pages saw
acknowledged. Shared by the fault test (tests/web/test_fault.py, small) and the load
benchmark (benchmarks/bench_web.py, 100 participants x 50 answers)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from study_app.protocol.study import Study
from study_app.session.simulated_raters import RaschRaters
from study_app.store.results_store import ResultsStore, client_trial_uuid
from study_app.web.client import WebParticipant, WebRun, image_ids_by_content, scripted_participant, walk_all
from tests.web.serve_process import ServerProcess


@dataclass
class LoadOutcome:
    runs: list[WebRun]
    acknowledged: int
    lost: int  # acknowledged, but not in the store
    duplicated: int  # trials stored more than once (or answers stored that no page sent)
    killed_at: int | None  # acknowledged answers when the server was killed


def run_load(
    server: ServerProcess,
    study: Study,
    participants: int,
    answers_each: int,
    *,
    think_ms: tuple[float, float] = (0.0, 0.0),
    kill_after: int | None = None,
    seed: int = 0,
) -> LoadOutcome:
    """``participants`` scripted pages at once, ``answers_each`` answers each (thinking ``think_ms``
    mean, SD before each); with ``kill_after``, the server is SIGKILLed once that many answers are
    acknowledged and started again, while the pages keep re-sending."""
    raters = RaschRaters(0.8, 0.5, 1.0, seed)
    images = image_ids_by_content(study)
    acknowledged = [0]
    restarts: list[threading.Thread] = []
    killed_at: list[int] = []

    def restart() -> None:
        server.kill()
        server.start()

    def count(_run: WebRun) -> None:  # on the event loop: the restart runs beside it, the pages go on trying
        acknowledged[0] += 1
        if kill_after is not None and acknowledged[0] >= kill_after and not restarts:
            killed_at.append(acknowledged[0])
            restarts.append(threading.Thread(target=restart))
            restarts[0].start()

    real_time = think_ms[0] > 0
    pages = [
        WebParticipant(
            server.url,
            study,
            scripted_participant(
                study, f"load-{seed}-{number:03d}", raters, seed, think_ms if real_time else (1.0, 0.0)
            ),
            images=images,
            real_time=real_time,
            after_answer=count,
            retry_for_s=120,
        )
        for number in range(participants)
    ]
    runs = asyncio.run(walk_all(pages, answers_each))
    for thread in restarts:
        thread.join()
    lost, duplicated = check_store(server.store, runs)
    return LoadOutcome(
        runs, sum(len(r.acknowledged) for r in runs), lost, duplicated, killed_at[0] if killed_at else None
    )


def check_store(store: str | Path, runs: list[WebRun]) -> tuple[int, int]:
    """(acknowledged answers missing from the store, trials stored twice or never acknowledged)."""
    with ResultsStore(store, readonly=True) as results:
        sessions = dict(results.conn.execute("SELECT annotator_id, uuid FROM sessions").fetchall())
        rows = results.conn.execute("SELECT uuid, session_uuid, phase, trial_index FROM trials").fetchall()
    stored = {row[0] for row in rows}
    expected = {client_trial_uuid(sessions[run.annotator], sent) for run in runs for sent in run.acknowledged}
    per_trial: dict[tuple[str, str, int], int] = {}
    for _uuid, session, phase, index in rows:
        per_trial[(session, phase, index)] = per_trial.get((session, phase, index), 0) + 1
    twice = sum(n - 1 for n in per_trial.values() if n > 1)
    return len(expected - stored), twice + len(stored - expected)

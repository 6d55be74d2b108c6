"""Many scripted participants against a real ``serve`` process, which may be killed (SIGKILL)
and restarted in the middle; then the store is checked against what the pages saw
acknowledged. Shared by the fault test (tests/web/test_fault.py, small) and the load
benchmark (benchmarks/bench_web.py, 100 participants x 50 answers)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from study_app.protocol.study import Study
from study_app.session.simulated_raters import RaschRaters
from study_app.store.results_store import ResultsStore, client_trial_uuid
from study_app.web.client import WebParticipant, WebRun, image_ids_by_content, scripted_participant, walk_all

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python main.py serve --pilot`` in a process of its own, on a fixed port across restarts."""

    def __init__(self, study_dir: Path, store: str | Path, port: int | None = None) -> None:
        self.study_dir = study_dir
        self.store = store
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        command = [sys.executable, "main.py", "serve", "--study", str(self.study_dir), "--store", str(self.store)]
        command += ["--port", str(self.port), "--pilot"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/api/config", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"serve exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer in time")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, nothing but what the store had committed survives."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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

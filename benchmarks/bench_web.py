"""Web server load: 100 scripted participants x 50 answers at once against one ``serve`` process.

Each participant is a page over real HTTP on loopback (:class:`study_app.web.client.WebParticipant`:
it fetches its image by its opaque URL, answers with its own UUID, re-sends until
acknowledged), thinking :data:`THINK_MS` (mean, SD) before each answer -- a fast annotator;
answering with no thought at all, a hundred pages measure the machine's two cores, not the
store. Measured: submit latency (answer sent -> acknowledged after the durable commit) p50
and p99, and that nothing is lost or stored twice: with a SQLite store (one server
process), with a PostgreSQL store (tests/store/postgres/pg_server.py, fsync on), and with
the SQLite server killed (SIGKILL) half-way and started again while the pages re-send.

Baseline, in the same run: the same number of answers submitted straight through the
session core (``SessionController.submit``) into a store of the same kind, without HTTP.

``--quick`` runs 10 participants x 10 answers (CI: checks that it runs, not the timings).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import ScriptedParticipant
from study_app.session.simulated_raters import RaschRaters
from study_app.store.results_store import ResultsStore
from tests.factory import make_study
from tests.store.postgres.pg_server import PgServer
from tests.web.load_run import run_load
from tests.web.serve_process import ServerProcess

from .common import Result, percentiles, run_main

#: A participant's time before each answer (ms, mean and SD): a fast annotator.
THINK_MS = (1000.0, 300.0)


def direct_latencies(study, store_location: str | Path, participants: int, answers_each: int) -> list[float]:
    """The baseline: the same answers through the session core straight into a store, timed per submit."""
    import random

    raters = RaschRaters(0.8, 0.5, 1.0, 0)
    latencies = []
    with ResultsStore(store_location, pilot=True) as store:
        for number in range(participants):
            annotator = f"direct-{number:03d}"
            participant = ScriptedParticipant(
                study, random.Random(annotator), raters, annotator=annotator, guesses=None, rt_ms=(1.0, 0.0)
            )
            controller = SessionController(study, store, annotator)
            for _ in range(answers_each):
                trial = controller.current()
                response = participant.respond(trial.image_id, study.phase(trial.phase).answers)
                started = time.perf_counter()
                controller.submit(response)
                latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def run(quick: bool = False) -> list[Result]:
    participants, answers_each = (10, 10) if quick else (100, 50)
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-web-", dir=base))
    pg = PgServer()
    results: list[Result] = []
    label = f"{participants} participants x {answers_each} answers, thinking {THINK_MS[0]:g}+-{THINK_MS[1]:g} ms"
    try:
        study_dir = make_study(work / "study", per_class_train=1, per_class_test=12)  # 52 trials
        study = load_study(study_dir)
        pg.start()
        stores = {
            "SQLite": (work / "web.sqlite", work / "direct.sqlite"),
            "PostgreSQL": (pg.create_database("web"), pg.create_database("direct")),
        }
        for backend, (web_store, direct_store) in stores.items():
            server = ServerProcess(study_dir, web_store, work / f"serve-{backend}.log", pilot=True)
            server.start()
            try:
                outcome = run_load(server, study, participants, answers_each, think_ms=THINK_MS)
            finally:
                server.stop()
            latencies = [ms for run in outcome.runs for ms in run.submit_ms]
            p50, p99 = percentiles(latencies)
            b50, b99 = percentiles(direct_latencies(study, direct_store, participants, answers_each))
            where = f"{backend} store; {label}"
            target = "< 100 ms" if backend == "SQLite" else ""
            results += [
                Result("web", f"submit latency p50 ({where})", p50, "ms", "", b50, "session core, no HTTP, p50"),
                Result(
                    "web",
                    f"submit latency p99 ({where})",
                    p99,
                    "ms",
                    target,
                    b99,
                    "session core, no HTTP, p99",
                    (p99 < 100) if target else None,
                ),
                _count(f"answers lost or stored twice ({where}; {outcome.acknowledged:,} acknowledged)", outcome),
            ]
        server = ServerProcess(study_dir, work / "killed.sqlite", work / "serve-killed.log", pilot=True)
        server.start()
        try:
            half = participants * answers_each // 2
            outcome = run_load(server, study, participants, answers_each, think_ms=THINK_MS, kill_after=half)
        finally:
            server.stop()
        resent = sum(run.resent for run in outcome.runs)
        results.append(
            _count(
                f"answers lost or stored twice, server SIGKILLed at {outcome.killed_at:,} acknowledged and "
                f"restarted ({label}; {outcome.acknowledged:,} acknowledged, {resent} re-sends)",
                outcome,
            )
        )
        return results
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)


def _count(measure: str, outcome) -> Result:
    bad = outcome.lost + outcome.duplicated
    return Result("web", measure, bad, "answers", "0", met=bad == 0)


def main() -> None:
    run_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())

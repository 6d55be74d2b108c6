"""Results server benchmark: answers/s and per-answer latency with 20 annotator processes.

Twenty real client processes each run a scripted session (the SessionController path of
a pilot run, answering as fast as they can) against one throwaway PostgreSQL server
(``tests/postgres/pg_server.py``: fsync on, ``synchronous_commit = on``), each through its
own offline journal -- exactly what a lab desktop does: every answer is committed to the
local journal and then to the server before the next one. The test phase shares its
images out with ``judgements_per_image = 3``. Measured: answers per second sustained
over the run (all clients' answers / time from the first answer to the last), and the
p50/p99 latency of one ``SessionController.submit`` in a second run where each client
answers once every :data:`PACE_S` seconds (still far faster than people): at full speed
twenty processes on a small machine measure the CPU's time-sharing, not the store. The
rate is reported as time per answer (1000 / rate, in ms) so that the table's ratio column
reads like every other row.

Baseline, in the same run: the same 20 clients, each on its own local SQLite results
file (what desktops did before the server: one file each, merged afterwards).

``--quick`` runs 4 clients x 20 answers (CI: checks that it runs, not the timings).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from study_app.protocol.responses import Event
from study_app.protocol.study import load_study
from tests.store.postgres.conftest import allocated_study
from tests.store.postgres.pg_server import PgServer

from .common import Result, percentiles, run_main

ROOT = Path(__file__).resolve().parent.parent
#: Seconds between two answers of one client in the latency run (a very fast annotator).
PACE_S = 0.5


def timed_drive(go: Path, out: Path, pace_s: float, limit: int):
    """A pilot driver that waits for the start signal, then times every submit.

    ``pace_s``: seconds from one answer to the next (0: as fast as it can); at most ``limit`` answers.
    """

    def drive(controller, participant) -> None:
        while not go.exists():
            time.sleep(0.005)
        latencies, first = [], time.time()
        while not controller.complete and len(latencies) < limit:
            trial = controller.current()
            response = participant.respond(trial.image_id, controller.study.phase(trial.phase).answers)
            start = time.perf_counter()
            controller.submit(response, [Event("search", response.rt_ms / 2, {"query": "bench"})])
            took = time.perf_counter() - start
            latencies.append(took * 1000)
            time.sleep(max(0.0, pace_s - took))
        out.write_text(json.dumps({"first": first, "last": time.time(), "latencies_ms": latencies}))
        if controller.complete:
            controller.finish()

    return drive


def worker(study_dir: str, store: str, journal: str, seed: str, go: str, out: str, pace_s: str, limit: str) -> None:
    """One client process (run as ``python -m benchmarks.bench_postgres --worker ...``)."""
    from study_app.session.pilot import run_pilot

    study = load_study(study_dir, check_images=False)
    drive = timed_drive(Path(go), Path(out), float(pace_s), int(limit))
    run_pilot(
        study,
        1,
        store,
        rt_ms=(100.0, 10.0),
        seed=int(seed),
        drive=drive,
        journal=Path(journal) if journal != "-" else None,
    )


def run_clients(
    work: Path, study_dir: Path, stores: list[str], journals: list[str], pace_s: float = 0.0, limit: int = 10**9
) -> tuple[float, list[float]]:
    """Start one process per store, release them together; (answers/s, latencies ms)."""
    go = work / f"go-{time.monotonic_ns()}"
    outs = [work / f"client-{n}-{time.monotonic_ns()}.json" for n in range(len(stores))]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_postgres",
                "--worker",
                str(study_dir),
                store,
                journal,
                str(n),
                str(go),
                str(out),
                str(pace_s),
                str(limit),
            ],
            cwd=ROOT,
        )
        for n, (store, journal, out) in enumerate(zip(stores, journals, outs))
    ]
    time.sleep(2.0)  # every client has its session open (claims done) and waits for the signal
    go.touch()
    for process in processes:
        if process.wait(timeout=1800) != 0:
            raise RuntimeError(f"a benchmark client failed (exit {process.returncode})")
    runs = [json.loads(out.read_text()) for out in outs]
    latencies = [ms for run in runs for ms in run["latencies_ms"]]
    span = max(run["last"] for run in runs) - min(run["first"] for run in runs)
    return len(latencies) / span, latencies


def run(quick: bool = False) -> list[Result]:
    clients, share = (4, 16) if quick else (20, 496)  # + 4 training answers each
    paced, pace_s = (5, 0.05) if quick else (60, PACE_S)
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-postgres-", dir=base))
    server = PgServer()
    try:
        server.start()
        per_class = -(-clients * share // 3 // 4) + 1
        study_dir = allocated_study(work / "study", per_class_test=per_class, r=3, share=share)
        load_study(study_dir)  # validated once, so that clients start from the cache
        answers = clients * (share + 4)

        def on_server(name: str, **pacing) -> tuple[float, list[float]]:
            url = server.create_database(name)
            return run_clients(
                work,
                study_dir,
                [url] * clients,
                [str(work / f"{name}-journal-{n}.sqlite") for n in range(clients)],
                **pacing,
            )

        def on_files(name: str, **pacing) -> tuple[float, list[float]]:
            return run_clients(
                work, study_dir, [str(work / f"{name}-{n}.sqlite") for n in range(clients)], ["-"] * clients, **pacing
            )

        rate, latencies = on_server("flat")
        base_rate, base_latencies = on_files("flat")
        assert len(latencies) == len(base_latencies) == answers
        _, paced_ms = on_server("paced", pace_s=pace_s, limit=paced)
        _, base_paced_ms = on_files("paced", pace_s=pace_s, limit=paced)
        p50, p99 = percentiles(paced_ms)
        b50, b99 = percentiles(base_paced_ms)
        flat = f"{clients} clients at full speed, {answers:,} answers"
        label = f"{clients} clients, one answer per {pace_s:g} s each, {clients * paced:,} answers"
        return [
            Result(
                "postgres",
                f"time per answer at the sustained rate of {rate:.0f} answers/s ({flat})",
                1000 / rate,
                "ms",
                "",
                1000 / base_rate,
                f"local SQLite files: {base_rate:.0f} answers/s",
            ),
            Result("postgres", f"per-answer latency p50 ({label})", p50, "ms", "", b50, "local SQLite files p50"),
            Result(
                "postgres",
                f"per-answer latency p99 ({label})",
                p99,
                "ms",
                "< 100 ms",
                b99,
                "local SQLite files p99",
                p99 < 100,
            ),
        ]
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:10])
        return
    run_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    main()

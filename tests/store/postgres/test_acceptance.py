"""Acceptance: 20 annotator processes, 20,000 answers, r = 3, and the server stopped half-way.

Twenty real ``python main.py simulate`` processes (the scripted SessionController path a
pilot run takes, each with its own offline journal) annotate one study on the server at
once: 100 training images that everyone answers and 6,000 test images shared out with
``judgements_per_image = 3`` (900 per annotator), 1,000 answers per process, each taking
its response time for real (``--real-time``, 60 ms: a fast lab, but a lab's pace, so that
the outage ends while the desktops are still at work). When a third of the answers are
in, the server is shut down; the processes go on into their journals and send everything
once it is back. At the end nothing is lost or duplicated and every test image has
exactly 3 answers.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from study_app.protocol.study import load_study
from study_app.store import ResultsStore
from tests.store.postgres.conftest import allocated_study

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = 20
TEST_IMAGES_PER_CLASS = 1500  # 4 classes: 6,000 test images x 3 = 18,000 answers
TRAINING_PER_CLASS = 25  # 100 training images x 20 annotators = 2,000 answers
SHARE = 900
TOTAL = PROCESSES * (4 * TRAINING_PER_CLASS + SHARE)


def server_count(url: str, table: str = "trials") -> int:
    with ResultsStore(url, readonly=True) as store:
        return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def all_started_and_a_third_in(url: str) -> bool:
    """Every desktop has its session (and its claimed images) on the server, and a third of the answers are in.

    A desktop still waiting for its turn to claim when the server stops cannot start its
    session offline -- that needs the server, and it says so -- so the outage begins only
    once every desktop is past its start.
    """
    return server_count(url, "sessions") == PROCESSES and server_count(url) >= TOTAL // 3


def journal_trials(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT uuid FROM trials")}
    finally:
        conn.close()


def wait_for(condition, timeout: float, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        failed = [p for p in processes if p.poll() not in (None, 0)]
        assert not failed, failed[0].stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_twenty_desktops_twenty_thousand_answers_with_an_outage(tmp_path, pg_server, pg_url, monkeypatch):
    assert TOTAL == 20_000
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = allocated_study(
        tmp_path / "lab", per_class_test=TEST_IMAGES_PER_CLASS, r=3, share=SHARE, training=TRAINING_PER_CLASS
    )
    study = load_study(folder)  # validates once; the processes find the checked files in the cache
    ResultsStore(pg_url).close()  # the schema, so that progress can be read from the start
    journals = [tmp_path / f"desk{n:02d}.sqlite" for n in range(PROCESSES)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "main.py",
                "simulate",
                "--study",
                str(folder),
                "--annotators",
                "1",
                "--seed",
                str(n),
                "--rt-ms",
                "60,5",
                "--real-time",
                "--store",
                pg_url,
                "--journal",
                str(journals[n]),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ.copy(),
        )
        for n in range(PROCESSES)
    ]
    try:
        wait_for(lambda: all_started_and_a_third_in(pg_url), 600, processes)
        pg_server.stop()
        at_stop = sum(len(journal_trials(j)) for j in journals if j.exists())
        wait_for(lambda: sum(len(journal_trials(j)) for j in journals) >= at_stop + 500, 300, processes)
        pg_server.start()  # the answers given meanwhile live only in the journals
        answering_at_restart = [process.poll() is None for process in processes]
        outputs = []
        for process in processes:
            out, _ = process.communicate(timeout=900)
            outputs.append(out)
            assert process.returncode == 0, out
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    # A desktop still answering when the server came back sends its journal itself; one that
    # ended during the outage (at people's pace, none should) says where its answers wait,
    # and the sync command sends them.
    assert sum(answering_at_restart) >= PROCESSES // 2, outputs
    for journal, answering, out in zip(journals, answering_at_restart, outputs):
        if answering:
            assert "could not be reached at the end" not in out, out
        elif "could not be reached at the end" in out:
            sync = subprocess.run(
                [sys.executable, "main.py", "sync", "--store", pg_url, "--journal", str(journal), "--pilot"], cwd=ROOT
            )
            assert sync.returncode == 0
    with ResultsStore(pg_url, readonly=True) as server:
        conn = server.conn
        rows = conn.execute("SELECT uuid, session_uuid, phase, trial_index, image_id FROM trials").fetchall()
        sessions = conn.execute("SELECT uuid, ended_at, trial_order FROM sessions").fetchall()
        filled = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT trial_uuid) FROM allocations WHERE trial_uuid IS NOT NULL"
        ).fetchone()
        slots = conn.execute("SELECT COUNT(*) FROM allocations").fetchone()[0]
    # nothing lost, nothing twice
    assert len(rows) == TOTAL == len({r[0] for r in rows}) == len({(r[1], r[2], r[3]) for r in rows})
    assert set().union(*(journal_trials(j) for j in journals)) == {r[0] for r in rows}
    assert len(sessions) == PROCESSES and all(ended for _, ended, _ in sessions)
    # every test image exactly 3 answers, every training image one per annotator
    per_image = Counter((r[2], r[4]) for r in rows)
    assert Counter(n for (phase, _), n in per_image.items() if phase == "test") == {
        3: len(study.phase("test").image_ids)
    }
    assert Counter(n for (phase, _), n in per_image.items() if phase == "training") == {
        PROCESSES: 4 * TRAINING_PER_CLASS
    }
    assert filled == (slots, slots) == (18_000, 18_000)

"""Real processes against one store: SIGKILL at random moments, two writers and a reader."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from study_app.store import ResultsStore, answers_frame
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]


def start_annotator(study: Path, store: Path, annotator: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scripted_annotator", str(study), str(store), annotator],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Reader(threading.Thread):
    """Collects a process's output lines as they arrive (acks must be read before the kill)."""

    def __init__(self, process: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.lines: list[str] = []

    def run(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.strip())


@pytest.fixture(scope="module")
def big_study(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("big") / "study", per_class_train=5, per_class_test=600)


def stored_trials(store_path: Path) -> list[tuple[str, int]]:
    with ResultsStore(store_path, readonly=True) as store:
        frame = answers_frame(store)
    return list(zip(frame["phase"], frame["trial"]))


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path, big_study):
    store_path = tmp_path / "results.sqlite"
    rng = random.Random(1234)
    acknowledged: set[tuple[str, int]] = set()
    kills = 0
    finished = False
    stored_before: list[tuple[str, int]] = []
    while kills < 50 and not finished:
        process = start_annotator(big_study, store_path, "crash")
        reader = Reader(process)
        reader.start()
        if rng.random() < 0.2:  # during start-up: imports, protocol check, opening the store
            time.sleep(rng.uniform(0.0, 0.6))
        else:  # while answering
            deadline = time.monotonic() + 30
            while not reader.lines and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.3))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        reader.join(timeout=10)
        finished = "DONE" in reader.lines
        starts = [int(line.split()[1]) for line in reader.lines if line.startswith("START")]
        acks = [(line.split()[1], int(line.split()[2])) for line in reader.lines if line.startswith("ACK")]
        if starts:
            assert starts[0] == len(stored_before), "resumed at the wrong trial"
        acknowledged.update(acks)
        stored = stored_trials(store_path) if store_path.exists() else []
        assert len(stored) == len(set(stored)), "an answer was stored twice"
        assert acknowledged <= set(stored), "an acknowledged answer is missing"
        unacknowledged = set(stored) - set(stored_before) - set(acks)
        assert len(unacknowledged) <= 1, "more stored than acknowledged + the one in flight"
        stored_before = stored
    assert kills == 50 or finished
    assert len(acknowledged) > 100


def test_two_writers_and_a_reader_lose_nothing(tmp_path):
    study = make_study(tmp_path / "study", per_class_train=1, per_class_test=1250)
    store_path = tmp_path / "results.sqlite"
    with ResultsStore(store_path):
        pass
    writers = [start_annotator(study, store_path, name) for name in ("W1", "W2")]
    reader_errors: list[str] = []
    counts: list[int] = []

    def read_while_writing() -> None:
        while any(w.poll() is None for w in writers):
            try:
                with ResultsStore(store_path, readonly=True) as store:
                    counts.append(store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
            except Exception as exc:  # noqa: BLE001 - any error here is the failure we look for
                reader_errors.append(repr(exc))
            time.sleep(0.05)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    outputs = [w.communicate(timeout=600) for w in writers]
    reader.join()
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
        assert "locked" not in err.lower()
        assert out.count("ACK") == 5004
    assert reader_errors == []
    assert len(counts) > 3 and counts == sorted(counts)
    stored = stored_trials(store_path)
    assert len(stored) == 10_008

"""Power loss (SIGKILL) of real processes while the window starts, during a break and during a
merge: the store passes the integrity check afterwards and every acknowledged answer is in it."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame, check_store, merge_stores
from study_app.store.schema import SCHEMA_VERSION, schema_version
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """A child process whose output lines are collected as they come (acks must be read before a kill)."""

    def __init__(self, args: list[str]) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            if line.endswith("\n"):  # a line cut off by the kill was never acknowledged
                self.lines.append(line.strip())

    def wait_for(self, prefix: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.popen.poll() is None:
            if any(line.startswith(prefix) for line in self.lines):
                return True
            time.sleep(0.005)
        return any(line.startswith(prefix) for line in self.lines)

    def kill(self) -> bool:
        """SIGKILL if still running; True if it was killed."""
        running = self.popen.poll() is None
        if running:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self.reader.join(timeout=10)
        return running

    def acks(self) -> set[tuple[str, int]]:
        return {(line.split()[1], int(line.split()[2])) for line in self.lines if line.startswith("ACK")}


def stored_trials(path: Path) -> list[tuple[str, int]]:
    if not path.exists() or not has_tables(path):  # killed before the new file's first migration committed
        return []
    with ResultsStore(path, readonly=True) as store:
        frame = answers_frame(store)
    return list(dict.fromkeys(zip(frame["phase"], frame["trial"], frame["trial_uuid"])))


def has_tables(path: Path) -> bool:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as raw:
        return (
            raw.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trials'").fetchone() is not None
        )


def check_after_kill(store_path: Path, acknowledged: set[tuple[str, int]]) -> list[tuple[str, int]]:
    """The integrity checker passes, nothing is stored twice and every acknowledged answer is there."""
    if not store_path.exists():
        assert not acknowledged
        return []
    report = check_store(store_path)
    assert report.ok, report.summary()
    trials = [(phase, index) for phase, index, _ in stored_trials(store_path)]
    assert len(trials) == len(set(trials)), "an answer was stored twice"
    assert acknowledged <= set(trials), f"acknowledged answers missing: {acknowledged - set(trials)}"
    return trials


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("kill") / "study", per_class_train=1, per_class_test=6)


def gui(study: Path, store: Path, *extra: str) -> Process:
    return Process(["-m", "tests.reliability.gui_annotator", str(study), str(store), "K01", *extra])


def test_sigkill_during_gui_start_up(study, tmp_path):
    """Kills at random moments from process start to shortly after the window is up (imports,
    protocol check, opening or creating the store, the first paint), across resumed sessions."""
    store_path = tmp_path / "results.sqlite"
    rng = random.Random(20)
    acknowledged: set[tuple[str, int]] = set()
    kills = attempt = 0
    while kills < 8:  # runs that got through before the kill do not count (start-up takes well under a second)
        assert attempt < 40, f"only {kills} of {attempt} runs were still under way when killed"
        process = gui(study, store_path, "--answers", "2")
        if attempt % 3 == 2:  # let it come up, then die right after the window shows
            process.wait_for("READY")
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            time.sleep(rng.uniform(0.05, 1.0))
        kills += process.kill()
        acknowledged |= process.acks()
        check_after_kill(store_path, acknowledged)
        attempt += 1
    # On a fast machine the runs that got through may already have answered all 28 trials
    # (2 each); a finisher would then be refused a finished session, so it runs only if needed.
    if len(check_after_kill(store_path, acknowledged)) < 28:
        finisher = gui(study, store_path)
        assert finisher.wait_for("DONE", timeout=120), finisher.lines
        finisher.kill()
        acknowledged |= finisher.acks()
    trials = check_after_kill(store_path, acknowledged)
    assert len(trials) == 28


def test_sigkill_during_breaks(study, tmp_path):
    """The study has a break every 4 test trials; each run is killed while its break screen is up."""
    store_path = tmp_path / "results.sqlite"
    rng = random.Random(21)
    acknowledged: set[tuple[str, int]] = set()
    breaks_killed = 0
    for _ in range(6):
        process = gui(study, store_path, "--break-hold-s", "5")
        if not process.wait_for("BREAK", timeout=60):
            process.kill()
            acknowledged |= process.acks()
            break
        time.sleep(rng.uniform(0.0, 0.3))
        breaks_killed += process.kill()
        acknowledged |= process.acks()
        trials = check_after_kill(store_path, acknowledged)
        position = int(next(line for line in process.lines if line.startswith("BREAK")).split()[1])
        assert len(trials) == position, "the answers before the break are exactly what is stored"
    assert breaks_killed >= 4
    with ResultsStore(store_path, readonly=True) as store:
        kinds = [row[0] for row in store.conn.execute("SELECT kind FROM events WHERE kind LIKE 'break%'")]
    assert kinds.count("break_start") >= breaks_killed


def fill_store(path: Path, study_dir: Path, annotators: list[str]) -> None:
    """Complete sessions written fast (synchronous=OFF only while building the test data)."""
    study = load_study(study_dir, check_images=False)
    with ResultsStore(path) as store:
        store.conn.execute("PRAGMA synchronous = OFF")
        for annotator in annotators:
            controller = SessionController(study, store, annotator)
            while not controller.complete:
                now = utc_now()
                controller.submit(Response(("cat",), 10.0, now, now))
            controller.finish()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def merge_inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("merge")
    big = make_study(folder / "study", per_class_train=2, per_class_test=150)
    inputs = []
    for desk in range(4):
        path = folder / f"desk{desk}.sqlite"
        fill_store(path, big, [f"D{desk}A{i}" for i in range(3)])
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        inputs.append(path)
    return inputs


def test_sigkill_during_merge(tmp_path, merge_inputs):
    """A merge killed at random moments leaves a store that passes the check, holds each input's
    sessions whole or not at all, never touches the inputs, and a second merge completes it."""
    digests = [digest(p) for p in merge_inputs]
    with ResultsStore(merge_inputs[0], readonly=True) as store:
        per_input = store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    # Kill moments are fractions of one uninterrupted merge's time on this machine, so the kills
    # land while merging on a fast machine as on a slow one.
    started = time.monotonic()
    timing = Process(["main.py", "merge", str(tmp_path / "timing.sqlite"), *map(str, merge_inputs)])
    assert timing.popen.wait(timeout=300) == 0
    whole_merge = time.monotonic() - started
    rng = random.Random(22)
    killed = 0
    for round_ in range(8):
        out = tmp_path / f"merged{round_}.sqlite"
        process = Process(["main.py", "merge", str(out), *map(str, merge_inputs)])
        time.sleep(rng.uniform(0.15, 0.9) * whole_merge)
        killed += process.kill()
        if out.exists() and _version(out) < SCHEMA_VERSION:  # killed while the new store was being made
            assert _version(out) == 0 or not _rows(out, "trials"), "rows copied before the schema was complete"
        elif out.exists():
            report = check_store(out)
            assert report.ok, report.summary()
            with ResultsStore(out, readonly=True) as store:
                counts = store.conn.execute(
                    "SELECT s.uuid, COUNT(t.uuid) FROM sessions s LEFT JOIN "
                    "trials t ON t.session_uuid = s.uuid GROUP BY s.uuid"
                ).fetchall()
            assert all(n == per_input // 3 for _, n in counts), "a session was merged in part"
            assert len(counts) % 3 == 0, "an input was merged in part"
        finished = merge_stores(out, merge_inputs)
        assert check_store(out).ok and not finished.conflicts
        with ResultsStore(out, readonly=True) as store:
            assert store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 4 * per_input
    assert killed >= 5, f"the merges finished before the kill ({whole_merge:.2f} s each): use larger inputs"
    assert [digest(p) for p in merge_inputs] == digests


def _version(path) -> int:
    """The schema version a (possibly half-made) store has, read without upgrading it."""
    with closing(sqlite3.connect(path)) as conn:
        return schema_version(conn)


def _rows(path, table: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if exists else 0

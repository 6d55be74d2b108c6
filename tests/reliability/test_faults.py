"""Faults under a running session: full disk, read-only folder, results file deleted, replaced
or locked, the wall clock jumping. The window says what happened, keeps the answer until it
is written, never moves on before that, and the store stays intact."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt

import study_app.protocol.responses
import study_app.store.db
from study_app.errors import StoreError
from study_app.protocol.responses import Response, utc_now
from study_app.store import ResultsStore, answers_frame, check_store
from tests.gui.conftest import Session
from tests.gui.keys import press, type_text, wait_for_trial
from tests.gui.test_picker_gui import open_first_trial

ROOT = Path(__file__).resolve().parents[2]


def answer(qtbot, window, query: str = "cat") -> None:
    wait_for_trial(qtbot, window)
    type_text(qtbot, query)
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)


def continue_to_trial(qtbot, window) -> None:
    """From a feedback or message page on to the next trial. Return goes past each page,
    but on "Loading..." the test waits: the decoded image arrives through the event loop."""

    def on_trial() -> bool:
        page = window.pages.currentWidget()
        if page is window.trial:
            return window.trial.rt_clock_started
        if not (page is window.message and "Loading" in window.message.message.text()):
            press(qtbot, Qt.Key_Return)
        return False

    qtbot.waitUntil(on_trial, timeout=20_000)


def stored(path: Path) -> list[tuple[str, int]]:
    with ResultsStore(path, readonly=True) as store:
        frame = answers_frame(store)
    return sorted(set(zip(frame["phase"], frame["trial"])))  # one row per guess: trials once


def run_lines(args: list[str], timeout: float = 120, prefix: list[str] = ()) -> tuple[list[str], str, int]:
    done = subprocess.run([*prefix, sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return done.stdout.splitlines(), done.stderr, done.returncode


def test_disk_full_during_commit_keeps_the_answer_until_space_is_back(tiny_study, tmp_path):
    """RLIMIT_FSIZE makes the results file unable to grow in a real window's process: the first
    answer fails with a message on screen, the window stays on that trial, and once space is back
    (the limit lifted) the same answer is saved and the session goes on to the end."""
    store_path = tmp_path / "results.sqlite"
    lines, err, code = run_lines(
        ["-m", "tests.reliability.gui_annotator", str(tiny_study), str(store_path), "D01", "--fsize-limit-kb", "6"]
    )
    assert code == 0, err
    failed = [line for line in lines if line.startswith("FAILED")]
    assert failed and "could NOT be saved" in failed[0] and "disk" in failed[0]
    phase, index = failed[0].split()[1:3]
    after = lines[lines.index(failed[0]) + 1 :]
    assert after[0] == "RAISED" and f"ACK {phase} {index}" in after  # the kept answer, written later
    assert lines.count(f"ACK {phase} {index}") == 1 and lines[-1] == "DONE"
    acks = sorted((line.split()[1], int(line.split()[2])) for line in lines if line.startswith("ACK"))
    assert stored(store_path) == acks and len(acks) == 16
    assert check_store(store_path).ok


def test_disk_full_in_the_store_api_raises_and_stores_nothing_partial(tiny_study, tmp_path):
    """The same in a scripted process: every acknowledged answer is there, the failed one is not half there."""
    script = (
        "import glob, os, resource, signal, sys\n"
        "from study_app.protocol.study import load_study\n"
        "from study_app.protocol.responses import Response, utc_now\n"
        "from study_app.session.controller import SessionController\n"
        "from study_app.store import ResultsStore\n"
        "from study_app.errors import StoreError\n"
        "study = load_study(sys.argv[1], check_images=False)\n"
        "store = ResultsStore(sys.argv[2]); c = SessionController(study, store, 'D02')\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "largest = max(os.path.getsize(p) for p in glob.glob(sys.argv[2] + '*'))\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 150_000, resource.RLIM_INFINITY))\n"
        "while not c.complete:\n"
        "    t = c.current(); now = utc_now()\n"
        "    try: c.submit(Response(('cat', 'dog'), 1.0, now, now, flag='broken', flag_note='x' * 2000))\n"
        "    except StoreError as exc: print('FULL', exc, flush=True); break\n"
        "    print('ACK', t.phase, t.index, flush=True)\n"
    )
    store_path = tmp_path / "results.sqlite"
    lines, err, code = run_lines(["-c", script, str(tiny_study), str(store_path)])
    assert code == 0, err
    assert lines[-1].startswith("FULL") and "disk" in lines[-1]
    acks = sorted((line.split()[1], int(line.split()[2])) for line in lines if line.startswith("ACK"))
    assert stored(store_path) == acks and 0 < len(acks) < 16
    assert check_store(store_path).ok


@pytest.mark.skipif(
    sys.platform != "linux" or (os.geteuid() == 0 and not shutil.which("setpriv")),
    reason="as root, setpriv (Linux) is needed to give up the override of file permissions",
)
def test_read_only_results_folder_is_a_clear_error(tiny_study, tmp_path):
    """Opening a store in a read-only folder (what the annotation app shows in its start-up
    message box) and exporting into one end with a message naming the file, never a traceback."""
    folder = tmp_path / "ro"
    folder.mkdir()
    writable = tmp_path / "rw" / "results.sqlite"
    with ResultsStore(folder / "results.sqlite"), ResultsStore(writable):
        pass
    for leftover in folder.glob("results.sqlite-*"):
        leftover.unlink()
    folder.chmod(0o555)
    # root ignores permission bits unless it gives up CAP_DAC_OVERRIDE, as setpriv does for the child
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    try:
        lines, err, code = run_lines(
            [
                "main.py",
                "export",
                "--study",
                str(tiny_study),
                "--store",
                str(writable),
                "--out",
                str(folder / "export" / "answers.csv"),
            ],
            prefix=prefix,
        )
        assert code == 1 and "Traceback" not in err and "answers.csv" in err, err
        lines, err, code = run_lines(
            [
                "main.py",
                "export",
                "--study",
                str(tiny_study),
                "--store",
                str(folder / "results.sqlite"),
                "--out",
                str(tmp_path / "out.csv"),
            ],
            prefix=prefix,
        )
        assert code == 1 and "Traceback" not in err and "read-only" in err, err
        script = "import sys; from study_app.store import ResultsStore; ResultsStore(sys.argv[1])"
        lines, err, code = run_lines(["-c", script, str(folder / "results.sqlite")], prefix=prefix)
        assert code == 1 and "StoreError" in err and "results.sqlite" in err and "read-only" in err
    finally:
        folder.chmod(0o755)


def test_results_file_deleted_mid_session_is_rescued(qtbot, tiny_study, tmp_path):
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "X01")
    answer(qtbot, window)
    continue_to_trial(qtbot, window)
    answer(qtbot, window)
    continue_to_trial(qtbot, window)
    for path in session.store_path.parent.glob("results.sqlite*"):
        path.unlink()  # e.g. a clean-up script or a colleague emptying the folder
    answer(qtbot, window, "dog")
    assert window.pages.currentWidget() is window.trial and window.controller.position == 2
    assert "was deleted" in window.trial.status.text() and "submit it again" in window.trial.status.text()
    assert window.trial.slots.labels == ("dog",)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    assert window.controller.position == 3
    session.close(window)
    assert stored(session.store_path) == [("training", 0), ("training", 1), ("training", 2)]
    assert check_store(session.store_path).ok


def test_results_file_replaced_mid_session_is_rescued_beside_it(qtbot, tiny_study, tmp_path):
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "X02")
    answer(qtbot, window)
    continue_to_trial(qtbot, window)
    stranger = tmp_path / "other.sqlite"
    with ResultsStore(stranger):
        pass
    os.replace(stranger, session.store_path)  # a sync tool puts another file in its place
    answer(qtbot, window)
    assert window.controller.position == 1 and "was replaced" in window.trial.status.text()
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    assert window.controller.position == 2
    session.close(window)
    rescued = list(session.store_path.parent.glob("results.rescued-*.sqlite"))
    assert len(rescued) == 1 and stored(rescued[0]) == [("training", 0), ("training", 1)]
    assert stored(session.store_path) == []  # the other file is left as it was


def test_store_locked_by_another_process(qtbot, tiny_study, tmp_path, monkeypatch):
    """Another program holds the write lock: a short lock is waited out; a long one shows a message,
    keeps the answer, and the answer is saved once the lock is gone."""
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "L01")
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('LOCKED', flush=True); "
            "sys.stdin.readline(); c.execute('ROLLBACK')\nprint('FREE', flush=True)",
            str(session.store_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "LOCKED"
        monkeypatch.setattr(study_app.store.db, "LOCK_PATIENCE_S", 0.5)  # the app waits 120 s; the test need not
        answer(qtbot, window)
        assert window.controller.position == 0 and "locked by another program" in window.trial.status.text()
        assert window.trial.slots.labels == ("cat",)
        locker.stdin.write("\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == "FREE"
        press(qtbot, Qt.Key_Return, Qt.ControlModifier)
        assert window.controller.position == 1
    finally:
        locker.kill()
        locker.wait()
    session.close(window)
    assert stored(session.store_path) == [("training", 0)]


def test_window_says_why_it_stands_still_while_another_program_holds_the_store(qtbot, tiny_study, tmp_path):
    """The window cannot run its event loop while the answer waits for the lock, so it paints
    the reason at once; the reason goes when the answer is saved and the next image is up."""
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "L03")
    holder = sqlite3.connect(session.store_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    seen_while_waiting: list[str] = []

    def look_then_let_go() -> None:
        deadline = time.monotonic() + 60
        while "in use by another program" not in window.trial.status.text() and time.monotonic() < deadline:
            time.sleep(0.01)  # the GUI thread is blocked in the write; it paints the reason within 0.25 s
        seen_while_waiting.append(window.trial.status.text())
        holder.execute("ROLLBACK")

    release = threading.Thread(target=look_then_let_go)
    release.start()
    try:
        answer(qtbot, window)
    finally:
        release.join()
        holder.close()
    assert "in use by another program" in seen_while_waiting[0] and "answer is kept" in seen_while_waiting[0]
    assert window.controller.position == 1 and "in use" not in window.trial.status.text()
    session.close(window)
    assert stored(session.store_path) == [("training", 0)]


def test_short_lock_is_waited_out(tiny_study, tmp_path):
    from study_app.protocol.study import load_study
    from study_app.session.controller import SessionController

    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(load_study(tiny_study), store, "L02")
        holder = sqlite3.connect(tmp_path / "r.sqlite", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        release = threading.Timer(0.4, lambda: holder.execute("ROLLBACK"))
        release.start()
        now = utc_now()
        controller.submit(Response(("cat",), 1.0, now, now))
        release.join()
        assert time.monotonic() - started >= 0.35 and controller.position == 1
        holder.close()


def test_wall_clock_jump_during_a_trial_does_not_change_the_response_time(qtbot, tiny_study, tmp_path, monkeypatch):
    """The wall clock jumps two hours back mid-trial (NTP, DST, a user fixing the clock): the stored
    response time follows the monotonic clock; only the wall-clock stamps show the jump."""
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "T01")
    real_datetime = dt.datetime

    class JumpedDatetime(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.now(tz) - dt.timedelta(hours=2)

    started = time.monotonic()
    qtbot.wait(150)
    waited_ms = (time.monotonic() - started) * 1000  # Qt's timers may fire a little early: measure
    monkeypatch.setattr(study_app.protocol.responses, "datetime", JumpedDatetime)
    monkeypatch.setattr(time, "time", lambda: 0.0)  # a wall clock that says 1970
    answer(qtbot, window)
    elapsed_ms = (time.monotonic() - started) * 1000
    session.close(window)
    with ResultsStore(session.store_path, readonly=True) as store:
        row = answers_frame(store).iloc[0]
    # The clock started at the first paint, a little before the wait; the jump it must not see is 7,200,000 ms.
    assert waited_ms <= row["rt_ms"] <= elapsed_ms + 1000
    shown, answered = (dt.datetime.fromisoformat(row[c]) for c in ("shown_at", "answered_at"))
    assert (shown - answered).total_seconds() > 7000  # the stamps jumped back; the RT did not


def test_store_api_refuses_to_lose_a_second_answer_after_a_failed_write(tiny_study, tmp_path):
    """A failed write leaves no trace: the same trial can be answered again, exactly once."""
    from study_app.protocol.study import load_study
    from study_app.session.controller import SessionController

    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        controller = SessionController(load_study(tiny_study), store, "W01")
        store.conn.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON answers BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
        now = utc_now()
        with pytest.raises(StoreError, match="disk"):
            controller.submit(Response(("cat",), 1.0, now, now))
        assert controller.position == 0
        store.conn.execute("DROP TRIGGER fail")
        controller.submit(Response(("cat",), 1.0, now, now))
    assert stored(path) == [("training", 0)] and check_store(path).ok
    shutil.rmtree(tmp_path / "nothing", ignore_errors=True)


def test_next_image_is_painted_only_after_the_answer_is_on_disk(qtbot, tiny_study, tmp_path):
    """At every paint of a new image, a separate reader already sees every answer given before it."""
    session = Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")
    window = open_first_trial(qtbot, session, "N01")
    seen: list[tuple[int, int]] = []

    def on_paint(mode: str, _when: float) -> None:
        if mode == "image":
            with sqlite3.connect(f"file:{session.store_path}?mode=ro", uri=True) as reader:
                on_disk = reader.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            seen.append((window.controller.position, on_disk))

    window.trial.view.painted.connect(on_paint)
    for _ in range(6):
        answer(qtbot, window)
        continue_to_trial(qtbot, window)
    session.close(window)
    assert len(seen) >= 6 and all(on_disk >= position for position, on_disk in seen), seen

"""A real annotation window in its own process, driven by the keyboard, for crash and fault tests.

Usage: python -m tests.reliability.gui_annotator STUDY_DIR STORE ANNOTATOR [--break-hold-s S]
       [--fsize-limit-kb N] [--answers N]

Prints, flushed, one line per event a test can act on:
``READY <position>`` (window on screen), ``TRIAL <phase> <index>`` (image painted, clock
running), ``ACK <phase> <index>`` (the answer is durable and the window moved on),
``BREAK <position>`` (break screen shown; held ``--break-hold-s``), ``FAILED <phase> <index>
<status text>`` (the window refused to move on because the store failed), ``RAISED`` (the
file-size limit was lifted, as when disk space is freed), ``DONE``.

``--fsize-limit-kb`` sets RLIMIT_FSIZE once the session is open, so the results file (or its
WAL) cannot grow more than N KiB: a full disk, as the process sees it.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QSettings, Qt  # noqa: E402
from PyQt5.QtTest import QTest  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

from study_app.gui.app import application  # noqa: E402
from study_app.gui.main_window import AnnotationWindow  # noqa: E402
from study_app.protocol.study import load_study  # noqa: E402
from study_app.session.controller import SessionController  # noqa: E402
from study_app.store import ResultsStore  # noqa: E402


def say(*parts: object) -> None:
    print(*parts, flush=True)


def press(key, modifier=Qt.NoModifier) -> None:
    widget = QApplication.focusWidget() or QApplication.activeWindow()
    QTest.keyClick(widget, key, modifier)


def limit_file_size(store_path: Path, kib: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
    largest = max((p.stat().st_size for p in store_path.parent.glob(store_path.name + "*")), default=0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (largest + kib * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("study")
    parser.add_argument("store")
    parser.add_argument("annotator")
    parser.add_argument("--break-hold-s", type=float, default=0.0)
    parser.add_argument("--fsize-limit-kb", type=int)
    parser.add_argument("--answers", type=int, default=10**9, help="stop (without closing) after this many answers")
    args = parser.parse_args()
    app = application()  # noqa: F841 - must live as long as the window
    study = load_study(args.study, check_images=False)
    store_path = Path(args.store)
    store = ResultsStore(store_path)
    controller = SessionController(study, store, args.annotator)
    settings = QSettings(str(store_path.parent / f"window-{os.getpid()}.ini"), QSettings.IniFormat)
    window = AnnotationWindow(controller, settings)
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowExposed(window)
    say("READY", controller.position)
    if args.fsize_limit_kb is not None:
        limit_file_size(store_path, args.fsize_limit_kb)
    labels = [label.label_id for label in study.labels]
    answered = 0
    announced = None
    while answered < args.answers:
        QTest.qWait(2)
        page = window.pages.currentWidget()
        if page is window.trial:
            trial = controller.current()
            if not window.trial.rt_clock_started:
                continue
            if announced != trial:
                say("TRIAL", trial.phase, trial.index)
                announced = trial
            if not window.trial.slots.labels:
                QTest.keyClicks(QApplication.focusWidget(), labels[(trial.index * 3) % len(labels)])
                press(Qt.Key_Return)
            before = controller.position
            press(Qt.Key_Return, Qt.ControlModifier)
            if controller.position > before:
                say("ACK", trial.phase, trial.index)
                answered += 1
            elif "could NOT be saved" in window.trial.status.text():
                say("FAILED", trial.phase, trial.index, window.trial.status.text().replace("\n", " "))
                if args.fsize_limit_kb is not None:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                    say("RAISED")
        elif page is window.message and "Finished" in window.message.message.text():
            say("DONE")
            break
        else:
            if page is window.message and "<h2>Break</h2>" in window.message.message.text():
                say("BREAK", controller.position)
                deadline = time.monotonic() + args.break_hold_s
                while time.monotonic() < deadline:
                    QTest.qWait(5)
            press(Qt.Key_Return)
    window.close()
    store.close()


if __name__ == "__main__":
    sys.exit(main())

"""An exception escaping a slot: written down, told, and the event loop ends (PyQt5 would abort)."""

from __future__ import annotations

import sys

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

from study_app.gui.crash import EXIT_CRASH, MAX_LOGS, crash_handler


def test_a_slot_that_keeps_failing_is_logged_told_once_and_ends_the_loop(qtbot, tmp_path):
    app = QApplication.instance()
    told: list = []

    def bug() -> None:
        raise ValueError("a fault of the program")

    def tell(what, log) -> None:  # the message box runs an event loop of its own: the timer fails on
        qtbot.wait(100)
        told.append((what, log))

    failing = QTimer()
    failing.timeout.connect(bug)
    hook_before = sys.excepthook
    safety = QTimer()  # never hang the suite if the handler is not reached (stopped after: a late
    safety.setSingleShot(True)  # exit would end whatever event loop a later test runs)
    safety.timeout.connect(lambda: app.exit(1))
    safety.start(20_000)
    with crash_handler(tmp_path / "crashes", tell=tell):
        failing.start(1)
        status = app.exec_()
    failing.stop()
    safety.stop()
    assert status == EXIT_CRASH and sys.excepthook is hook_before
    assert len(told) == 1 and told[0][0] == "ValueError: a fault of the program"
    logs = sorted((tmp_path / "crashes").iterdir())
    assert told[0][1] == logs[0] and len(logs) == MAX_LOGS  # every failure of the timer after those: not written
    text = logs[0].read_text(encoding="utf-8")
    assert text.startswith("study-app ") and 'raise ValueError("a fault of the program")' in text

"""Keyboard-only driving of the annotation window, as an annotator would."""

from __future__ import annotations

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QApplication, QMessageBox

from study_app.gui.main_window import AnnotationWindow
from study_app.gui.pages import ContinuePage


def focus():
    widget = QApplication.focusWidget()
    assert widget is not None, "no widget has the keyboard focus"
    return widget


def press(qtbot, key, modifier=Qt.NoModifier) -> None:
    """A key as an annotator presses it: on a screen between trials, once it has been on
    screen for its key guard (the window ignores the keys before; test_key_guard tests that)."""
    widget = focus()
    if isinstance(widget, ContinuePage):
        qtbot.waitUntil(widget.accepts_keys, timeout=5000)
    qtbot.keyClick(widget, key, modifier)


def type_text(qtbot, text: str) -> None:
    qtbot.keyClicks(focus(), text)


def current_page(window: AnnotationWindow):
    return window.pages.currentWidget()


def wait_for_trial(qtbot, window: AnnotationWindow) -> None:
    """Until the trial page is up and its response clock has started (image painted)."""
    qtbot.waitUntil(lambda: current_page(window) is window.trial and window.trial.rt_clock_started, timeout=20_000)


def answer_with(qtbot, window: AnnotationWindow, queries: list[str]) -> None:
    """Type each query, Enter to fill the next slot, then Ctrl+Return to submit."""
    wait_for_trial(qtbot, window)
    qtbot.wait(2)
    for query in queries:
        type_text(qtbot, query)
        press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)


def watch_timed_presentation(qtbot, window: AnnotationWindow, step_ms: int = 2000) -> None:
    """Through one timed trial's fixation (no answer possible yet), image and mask, to the
    response screen with the picker enabled; ``step_ms`` bounds each step after the fixation."""
    view = window.trial.view
    qtbot.waitUntil(lambda: view.mode == "fixation", timeout=20_000)  # after "Loading..." if the image is late
    assert not window.trial.picker.isEnabled()
    qtbot.waitUntil(lambda: view.mode == "image", timeout=step_ms)
    qtbot.waitUntil(lambda: view.mode == "mask", timeout=step_ms)
    qtbot.waitUntil(lambda: view.mode == "blank" and window.trial.picker.isEnabled(), timeout=step_ms)


def when_asked(answer: str, asked: list[str], tries: int = 500) -> None:
    """Answer the next question box (a modal QMessageBox, which blocks the caller's key press)
    by clicking its button ``answer``; the question's text is appended to ``asked``. Gives up
    after ``tries`` looks 10 ms apart, so that a question never asked leaves nothing behind."""

    def look(left: int) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            next(button for button in box.buttons() if button.text() == answer).click()
        elif left:
            QTimer.singleShot(10, lambda: look(left - 1))

    QTimer.singleShot(0, lambda: look(tries))

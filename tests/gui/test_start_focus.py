"""After the start dialog the annotation window takes the keyboard itself (issue #22 item 14):
without a window manager, nothing else gives it the focus, and Ctrl+Return acted as Return
until the window was clicked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QApplication

from study_app.gui.app import run_annotation
from study_app.gui.main_window import AnnotationWindow
from study_app.gui.start_dialog import StartDialog


def test_the_window_has_the_keyboard_once_the_start_dialog_closes(qtbot, tiny_study, tmp_path):
    """The real start-up: the dialog asks for the id (typed and Enter), the window opens; the
    first focus seen after that must be inside the window, without any click or activation."""
    found: dict[str, object] = {}

    def look(left: int) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, StartDialog) and not dialog.id_field.text():
            qtbot.keyClicks(dialog.id_field, "F14")
            qtbot.keyClick(dialog.id_field, Qt.Key_Return)
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, AnnotationWindow) and w.isVisible()]
        focus = QApplication.focusWidget()
        if windows and ((focus is not None and focus.window() is windows[0]) or not left):
            window = windows[0]
            found["focused"] = focus is not None and focus.window() is window
            QTimer.singleShot(window.instructions.key_guard_ms + 100, lambda: press_enter(window))
        else:
            QTimer.singleShot(20, lambda: look(left - 1))

    def press_enter(window: AnnotationWindow) -> None:
        """Enter where the keyboard is, once the instructions take keys: it must reach them."""
        focus = QApplication.focusWidget()
        if focus is not None:
            qtbot.keyClick(focus, Qt.Key_Return)
        found["moved on"] = window.pages.currentWidget() is not window.instructions
        window.close()

    QTimer.singleShot(0, lambda: look(100))  # two seconds at most
    assert run_annotation(str(tiny_study), store_path=tmp_path / "results.sqlite") == 0
    assert found == {"focused": True, "moved on": True}


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A bare X server (no window manager: nobody activates a new window) on a free display."""
    if not shutil.which("Xvfb"):
        pytest.skip("no Xvfb to give a display without a window manager")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    try:
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_without_a_window_manager_too(xvfb_display, tmp_path):
    """Qt's offscreen platform activates every window it shows; an X server without a window
    manager does not, which is where the window was left without the keyboard. The test above,
    run there in a process of its own."""
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    this = f"{__file__}::test_the_window_has_the_keyboard_once_the_start_dialog_closes"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", this, "--basetemp", str(tmp_path / "t")],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]

"""GUI fixtures: real widgets offscreen, settings in a temp folder, real stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication

from study_app.gui.main_window import AnnotationWindow
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Keep the user's real settings out of tests."""
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))


def show_window(qtbot, controller: SessionController, settings: QSettings) -> AnnotationWindow:
    """An annotation window on ``controller``, shown and focused as on a desktop."""
    window = AnnotationWindow(controller, settings)
    # A test that failed half-way must not hang at teardown on the question over unsubmitted guesses.
    qtbot.addWidget(window, before_close_func=AnnotationWindow.close_without_asking)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5000)
    return window


class Session:
    """Opens annotation windows on one study and store, like a desktop would."""

    def __init__(self, qtbot, study_dir: Path, store_path: Path) -> None:
        self.qtbot = qtbot
        self.study = load_study(study_dir)
        self.store_path = store_path
        self.store: ResultsStore | None = None
        self.settings = QSettings(str(store_path.parent / "window.ini"), QSettings.IniFormat)

    def open(self, annotator: str, force_new: bool = False) -> AnnotationWindow:
        self.store = ResultsStore(self.store_path)
        controller = SessionController(self.study, self.store, annotator, force_new=force_new)
        return show_window(self.qtbot, controller, self.settings)

    def close(self, window: AnnotationWindow) -> None:
        """End the test's session, whatever is on screen (what quitting asks: tests/gui/test_undo_gui.py)."""
        window.close_without_asking()
        self.store.close()


@pytest.fixture
def gui_session(qtbot, tiny_study, tmp_path):
    return Session(qtbot, tiny_study, tmp_path / "results" / "results.sqlite")


@pytest.fixture
def imagenet_session(qtbot, tmp_path):
    return Session(qtbot, BUNDLED_PROTOCOLS / "demo-imagenet", tmp_path / "results" / "results.sqlite")

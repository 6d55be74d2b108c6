"""The annotation window's server status line (real window offscreen, real server stopped and started)."""

from __future__ import annotations

from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication, QMessageBox

from study_app.gui.main_window import AnnotationWindow
from study_app.gui.sync_indicator import SyncIndicator
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from study_app.store.journal import JournaledStore
from tests.factory import make_study
from tests.store.postgres.conftest import answer_all


def open_window(qtbot, controller, tmp_path) -> AnnotationWindow:
    window = AnnotationWindow(controller, QSettings(str(tmp_path / "window.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_window_shows_the_server_state_and_never_a_dialog(qtbot, tmp_path, pg_server, pg_url):
    study = load_study(make_study(tmp_path / "tiny"), check_images=False)
    store = JournaledStore(pg_url, tmp_path / "journal.sqlite", retry_s=0)
    try:
        controller = SessionController(study, store, "G1")
        window = open_window(qtbot, controller, tmp_path)
        indicator = window.statusBar().findChild(SyncIndicator)
        assert indicator.text() == "Server: connected" and indicator.property("state") == "ok"
        pg_server.stop()
        try:
            answer_all(controller, limit=2)
            qtbot.waitUntil(lambda: indicator.property("state") == "offline", timeout=20_000)
            assert "Server unreachable: 2 answer(s) saved on this computer" in indicator.text()
            assert not any(isinstance(w, QMessageBox) and w.isVisible() for w in QApplication.topLevelWidgets())
        finally:
            pg_server.start()
        answer_all(controller, limit=1)
        qtbot.waitUntil(lambda: indicator.text() == "Server: connected", timeout=20_000)
        window.close()
    finally:
        store.close()


def test_a_window_on_a_results_file_has_no_server_line(qtbot, tmp_path):
    study = load_study(make_study(tmp_path / "tiny"), check_images=False)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        window = open_window(qtbot, SessionController(study, store, "G2"), tmp_path)
        assert window.statusBar().findChild(SyncIndicator) is None
        window.close()

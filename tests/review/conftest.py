"""Review fixtures: the tiny study answered by a scripted annotator, in a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from tests.factory import make_study

#: The scripted annotator's wrong answers on the test phase (everything else is right):
#: img-004 is a cat, img-010 a dog, img-016 a car.
WRONG = {
    "img-004": Response(("dog", "car"), 1500.0, "", ""),
    "img-010": Response((), 2500.0, "", "", outcome="not_sure"),
    "img-016": Response(("bus",), 3500.0, "", ""),
}


def answer(study, image_id: str) -> Response:
    now = utc_now()
    scripted = WRONG.get(image_id)
    if scripted is None:
        return Response((study.truth(image_id)[0],), 1000.0, now, now)
    return Response(scripted.labels, scripted.rt_ms, now, now, outcome=scripted.outcome)


def fill(store: ResultsStore, study, annotator: str = "A01") -> None:
    """One complete session of the scripted annotator."""
    controller = SessionController(study, store, annotator)
    while not controller.complete:
        controller.submit(answer(study, controller.current().image_id))
    controller.finish()


@pytest.fixture
def answered(tmp_path: Path):
    """(study, store path): the tiny study with one complete scripted session."""
    study = load_study(make_study(tmp_path / "tiny"))
    store_path = tmp_path / "results" / "results.sqlite"
    with ResultsStore(store_path) as store:
        fill(store, study)
    return study, store_path


class Reviews:
    """Opens review windows on one study and store, as ``python main.py review`` does."""

    def __init__(self, qtbot, study, store_path: Path) -> None:
        self.qtbot = qtbot
        self.study = study
        self.store_path = store_path
        self.store: ResultsStore | None = None
        #: The window's remembered size and place, in the test's folder (never the user's settings).
        self.settings = QSettings(str(store_path.parent / "review.ini"), QSettings.IniFormat)

    def controller(self, reviewer: str, selection: Selection, blind: bool = False) -> ReviewController:
        self.store = ResultsStore(self.store_path)
        items, selection = study_errors(self.study, self.store, None, selection)
        return ReviewController(self.study, self.store, reviewer, items, blind, selection)

    def open(self, reviewer: str, selection: Selection, blind: bool = False):
        from study_app.gui.review_window import ReviewWindow

        window = ReviewWindow(self.controller(reviewer, selection, blind), self.settings)
        self.qtbot.addWidget(window)
        window.show()
        self.qtbot.waitExposed(window)
        window.activateWindow()
        self.qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5000)
        return window

    def close(self, window) -> None:
        window.close()
        self.store.close()


@pytest.fixture
def reviews(qtbot, answered):
    study, store_path = answered
    return Reviews(qtbot, study, store_path)

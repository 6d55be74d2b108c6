"""A trial image replaced after the study was checked is never shown as if it were the checked one."""

from __future__ import annotations

from PIL import Image
from PyQt5.QtCore import Qt

from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import show_window
from tests.gui.keys import press


def test_an_image_replaced_after_the_check_is_skipped_and_flagged(qtbot, gui_session):
    store = ResultsStore(gui_session.store_path)
    controller = SessionController(gui_session.study, store, "CH1")
    first = controller.current()
    record = gui_session.study.images[first.image_id]
    Image.new("RGB", (48, 32), (1, 2, 3)).save(record.path)  # another picture under the checked name
    window = show_window(qtbot, controller, gui_session.settings)
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training phase start
    qtbot.waitUntil(lambda: "cannot be shown" in window.message.message.text(), timeout=5000)
    assert "changed since the study was checked" in window.message.message.text()
    assert window.pages.currentWidget() is window.message
    press(qtbot, Qt.Key_Return)  # skipped, flagged for the researcher
    window.close()
    frame = answers_frame(store)
    store.close()
    row = frame[frame["image_id"] == first.image_id].iloc[0]
    assert row["outcome"] == "skip" and row["flags"] == "broken"

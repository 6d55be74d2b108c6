"""Issue #22 items 9, 10, 11 and 13 in real windows: the window's size, the examples pane,
the instructions' scroll position, the break and end screens' times, the review window."""

from __future__ import annotations

import json

from PyQt5.QtCore import QSize, Qt

from tests.gui.keys import current_page, press


def test_instructions_open_at_the_top_on_start_and_on_resume(qtbot, imagenet_session):
    """Item 11: the title and the first paragraph are on screen, not the last paragraph."""
    for sitting in range(2):  # a start, then a resume of the same session
        window = imagenet_session.open("A01")
        assert current_page(window) is window.instructions and window.controller.resumed == (sitting == 1)
        window.resize(900, 500)  # small enough that the instructions scroll
        qtbot.waitUntil(lambda w=window: w.instructions.text.verticalScrollBar().maximum() > 0, timeout=5000)
        qtbot.wait(50)  # every relayout done: none may scroll the text down
        assert window.instructions.text.verticalScrollBar().value() == 0
        first_line = window.instructions.text.cursorForPosition(window.instructions.text.viewport().rect().topLeft())
        assert first_line.blockNumber() == 0
        press(qtbot, Qt.Key_PageDown)  # the keys still scroll
        assert window.instructions.text.verticalScrollBar().value() > 0
        imagenet_session.close(window)


def test_both_windows_open_on_the_available_screen_then_as_the_user_left_them(qtbot, imagenet_session, tiny_study):
    """Item 9: the first start fills the screen's available area; the next opens at the size
    the user gave the window. The annotation and the review window do it alike."""
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from study_app.protocol.study import load_study
    from study_app.store import ResultsStore
    from tests.review.conftest import Reviews, fill
    from tests.review.test_review_gui import HUMANS_TOP_K

    screen = QApplication.primaryScreen()
    available = screen.availableGeometry().size()
    study = load_study(tiny_study)
    with ResultsStore(tiny_study.parent / "answered.sqlite") as store:
        fill(store, study)  # errors to review
    reviews = Reviews(qtbot, study, tiny_study.parent / "answered.sqlite")
    for open_window, close in (
        (lambda: imagenet_session.open("A01"), imagenet_session.close),
        (lambda: reviews.open("R1", HUMANS_TOP_K), reviews.close),
    ):
        window = open_window()
        # (offscreen the screen is 800 x 600, narrower than the annotation window can be)
        assert window.size() == available.expandedTo(window.minimumSizeHint())
        assert window.frameGeometry().topLeft() == screen.availableGeometry().topLeft()  # the title bar on screen
        chosen = window.size() + QSize(137, 61)
        window.resize(chosen)
        close(window)
        window = open_window()
        assert window.size() == chosen
        close(window)
    assert QSettings(str(reviews.settings.fileName()), QSettings.IniFormat).contains("review/geometry")


def test_break_and_end_screens_show_the_whole_sessions_time_after_a_resume(qtbot, gui_session):
    """Item 13: a resumed session's break and end screens give this sitting's time and the whole
    session's (the earlier sitting's from the store, up to its quit)."""
    import time

    from tests.gui.keys import answer_with
    from tests.gui.test_session_gui import truth_query

    opened = time.monotonic()
    window = gui_session.open("A01")
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training starts
    answer_with(qtbot, window, [truth_query(window)])
    qtbot.wait(1100)  # a first sitting of more than a second
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)
    first_sitting_s = time.monotonic() - opened
    gui_session.store.close()

    window = gui_session.open("A01")
    (earlier_ms,) = window.controller.session.earlier_sittings
    assert 1000 < earlier_ms <= first_sitting_s * 1000 + 50  # from its start to its quit
    press(qtbot, Qt.Key_Return)  # instructions
    while "Break" not in window.message.message.text() or current_page(window) is not window.message:
        if current_page(window) is window.trial:
            answer_with(qtbot, window, [truth_query(window)])
        else:
            press(qtbot, Qt.Key_Return)  # feedback, the test phase's start
    shown = window.message.message.text()
    assert "Time in this sitting: 0 min 0" in shown and "In the whole session (2 sittings): 0 min 0" in shown
    total = int(shown.split("(2 sittings): 0 min ")[1][:2])
    assert total >= int(earlier_ms // 1000)
    while not window.controller.complete or current_page(window) is not window.message:
        if current_page(window) is window.trial:
            answer_with(qtbot, window, [truth_query(window)])
        else:
            press(qtbot, Qt.Key_Return)
    assert "Finished" in window.message.message.text()
    assert "In the whole session (2 sittings)" in window.message.message.text()
    gui_session.close(window)


def test_durations_read_in_minutes_then_in_hours():
    from study_app.gui.main_window import duration_text

    assert duration_text(65_400) == "1 min 05 s" and duration_text(3_725_000) == "1 h 02 min 05 s"


def test_all_of_a_classs_examples_show_at_once_and_one_opens_large(qtbot, tmp_path):
    """Item 10: the 13 examples of a demo-digits class are all in view without scrolling; F10
    (in the one command table, so F1 lists it) or a click shows one large, Left/Right go through
    the others, Esc closes and gives the keyboard back; each look is in the trial's events."""
    from study_app.protocol.study import BUNDLED_PROTOCOLS
    from study_app.store import ResultsStore
    from tests.gui.conftest import Session
    from tests.gui.keys import focus, type_text, wait_for_trial

    digits = Session(qtbot, BUNDLED_PROTOCOLS / "demo-digits", tmp_path / "results" / "results.sqlite")
    window = digits.open("A01")
    pane = window.trial.picker.examples
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training starts
    wait_for_trial(qtbot, window)
    type_text(qtbot, "seven")
    qtbot.waitUntil(lambda: pane.count() == 13 and pane.loaded_count() == 13, timeout=10_000)
    assert window.trial.picker.current == "digit-7"
    visible = pane.viewport().rect()
    qtbot.waitUntil(  # once laid out (Qt lays out added items from the event loop)
        lambda: all(visible.contains(pane.visualItemRect(pane.item(row))) for row in range(13)), timeout=2000
    )
    assert pane.verticalScrollBar().maximum() == 0 and pane.edge < 96  # shrunk to fit, not cut off

    search = focus()
    press(qtbot, Qt.Key_F10)
    viewer = pane.viewer
    assert viewer.isVisible() and focus() is viewer and "example 1 of 13" in viewer.caption.text()
    qtbot.waitUntil(lambda: viewer.view.mode == "image", timeout=10_000)
    assert viewer.view.paint_size()[0] > 3 * 96  # large, not a thumbnail
    press(qtbot, Qt.Key_Right)
    assert "example 2 of 13" in viewer.caption.text()
    press(qtbot, Qt.Key_Left)
    press(qtbot, Qt.Key_Left)
    assert "example 13 of 13" in viewer.caption.text()
    press(qtbot, Qt.Key_Escape)
    assert not viewer.isVisible() and focus() is search and window.controller.position == 0

    qtbot.mouseClick(pane.viewport(), Qt.LeftButton, pos=pane.visualItemRect(pane.item(5)).center())
    assert viewer.isVisible() and "example 6 of 13" in viewer.caption.text()
    press(qtbot, Qt.Key_F10)  # the key closes it too
    assert not viewer.isVisible() and focus() is search
    assert "F10" in window.help.text.text() and "examples large" in window.help.text.text()

    press(qtbot, Qt.Key_Return)  # "seven" into the first slot
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.controller.position == 1, timeout=5000)
    digits.close(window)
    with ResultsStore(digits.store_path, readonly=True) as store:
        looks = store.conn.execute("SELECT detail FROM events WHERE kind = 'view_example' ORDER BY rowid").fetchall()
    assert [json.loads(detail)["index"] for (detail,) in looks] == [0, 1, 0, 12, 5]
    assert {json.loads(detail)["label_id"] for (detail,) in looks} == {"digit-7"}

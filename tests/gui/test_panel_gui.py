"""Issue #22 items 9, 10, 11 and 13 in real windows: the window's size, the examples pane,
the instructions' scroll position, the break and end screens' times, the review window."""

from __future__ import annotations

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

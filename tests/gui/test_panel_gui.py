"""Issue #22 items 9, 10, 11 and 13 in real windows: the window's size, the examples pane,
the instructions' scroll position, the break and end screens' times, the review window."""

from __future__ import annotations

from PyQt5.QtCore import Qt

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

"""Issue #22, item 12 (b, c): the undo key says where undo is off, and a flag needs a reason."""

from __future__ import annotations

from PyQt5.QtCore import Qt

from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import current_page, press, wait_for_trial


def test_undo_key_in_a_feedback_phase_says_undo_is_off(qtbot, gui_session):
    window = gui_session.open("M01")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    said = "Undo is off in this part (its feedback shows the right answer)."
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)  # on the training trial
    assert window.trial.status.text() == said
    press(qtbot, Qt.Key_F5)
    press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
    assert current_page(window) is window.feedback
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)  # on its feedback screen, where it used to do nothing
    assert window.feedback.note.text() == said and current_page(window) is window.feedback
    assert window.controller.position == 1 and not window.controller.revising
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    assert window.trial.status.text() == ""  # said once, not carried on
    press(qtbot, Qt.Key_F5)
    press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
    assert current_page(window) is window.feedback and window.feedback.note.text() == ""
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        undos = store.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'undo'").fetchone()[0]
    assert undos == 0


def test_flag_bar_has_no_default_reason(qtbot, gui_session):
    window = gui_session.open("M02")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    bar = window.trial.flag_bar
    press(qtbot, Qt.Key_F8)
    assert bar.isVisible() and bar.group.checkedId() == -1  # nothing chosen for the annotator
    press(qtbot, Qt.Key_Return)  # Enter with no reason: no flag, a word instead
    assert bar.isVisible() and "Choose a reason first: 1 broken, 2 offensive, 3 ambiguous" in bar.hint.text()
    assert window.trial._flag == (None, "") and "[flagged" not in window.trial.status.text()
    press(qtbot, Qt.Key_3)
    assert bar.hint.text() == ""
    press(qtbot, Qt.Key_Return)
    assert not bar.isVisible() and window.trial._flag == ("ambiguous", "")
    press(qtbot, Qt.Key_F5)
    press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
    press(qtbot, Qt.Key_Return)  # feedback
    wait_for_trial(qtbot, window)
    press(qtbot, Qt.Key_F8)
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Escape)  # thought better of it: still no flag on this trial
    assert not bar.isVisible() and window.trial._flag == (None, "")
    press(qtbot, Qt.Key_F5)
    press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        flags = list(answers_frame(store).sort_values("trial")["flags"].fillna(""))
    assert flags == ["ambiguous", ""]

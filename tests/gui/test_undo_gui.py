"""Undo: take back the last answer, revise it; both rows stay, only the revision counts."""

from __future__ import annotations

import json

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication

from study_app.gui.pages import FeedbackPage
from study_app.stats import rater_table
from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import answer_with, current_page, press, type_text, wait_for_trial, when_asked

NAMES = {"cat": "house cat", "dog": "domestic dog", "car": "automobile", "bus": "coach"}
WRONG = {"cat": "car", "dog": "bus", "car": "cat", "bus": "dog"}


def truth_of(window) -> str:
    return window.study.truth(window.controller.current().image_id)[0]


def to_test_phase(qtbot, window) -> None:
    """Instructions, the four training trials (with feedback), the test phase's start screen."""
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    for _ in range(4):
        wait_for_trial(qtbot, window)
        press(qtbot, Qt.Key_Z, Qt.ControlModifier)  # no undo where feedback shows the answer
        assert window.controller.current().phase == "training" and not window.trial.undo_button.isVisible()
        answer_with(qtbot, window, [NAMES[truth_of(window)]])
        assert isinstance(current_page(window), FeedbackPage)
        press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)


def test_undo_revise_keeps_both_rows_and_scores_the_revision(qtbot, gui_session):
    window = gui_session.open("U01")
    to_test_phase(qtbot, window)
    wait_for_trial(qtbot, window)
    first = window.controller.current()
    assert first.phase == "test" and first.index == 0
    assert not window.trial.undo_button.isEnabled()  # nothing answered yet in this part
    true_label = truth_of(window)
    wrong_label = WRONG[true_label]
    answer_with(qtbot, window, [NAMES[wrong_label]])
    wait_for_trial(qtbot, window)
    assert window.controller.current().index == 1 and window.trial.undo_button.isEnabled()

    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    wait_for_trial(qtbot, window)
    assert window.controller.current() == first and window.controller.revising
    assert window.trial.slots.labels == (wrong_label,)  # the answer taken back, ready to change
    assert "Revising your last answer" in window.trial.status.text()
    assert not window.trial.undo_button.isEnabled()  # one step back only
    press(qtbot, Qt.Key_F7, Qt.ShiftModifier)  # clear the old answer
    answer_with(qtbot, window, [NAMES[true_label]])  # the revision is right
    wait_for_trial(qtbot, window)
    assert window.controller.current().index == 1 and not window.controller.revising

    # The button does the same as the key: answer trial 2, take it back with the button, keep it.
    answer_with(qtbot, window, [NAMES[truth_of(window)]])
    wait_for_trial(qtbot, window)
    qtbot.mouseClick(window.trial.undo_button, Qt.LeftButton)
    wait_for_trial(qtbot, window)
    assert window.controller.current().index == 1
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)  # resubmit the prefilled answer unchanged
    wait_for_trial(qtbot, window)
    gui_session.close(window)

    with ResultsStore(gui_session.store_path, readonly=True) as store:
        everything = answers_frame(store, include_superseded=True)
        scored = answers_frame(store)
        undo_events = store.conn.execute("SELECT phase, trial_index, detail FROM events WHERE kind = 'undo'").fetchall()
    test_rows = everything[(everything["phase"] == "test") & (everything["trial"] == 0)]
    assert len(test_rows) == 2
    original = test_rows[test_rows["superseded"]].iloc[0]
    revision = test_rows[~test_rows["superseded"]].iloc[0]
    assert original["label_id"] == wrong_label
    assert revision["label_id"] == true_label and revision["supersedes"] == original["trial_uuid"]
    assert [(p, i) for p, i, _ in undo_events] == [("test", 0), ("test", 1)]
    assert original["trial_uuid"] in undo_events[0][2]
    scored_test = scored[(scored["phase"] == "test") & (scored["trial"] == 0)]
    assert list(scored_test["trial_uuid"]) == [revision["trial_uuid"]]
    raters = rater_table(scored, None, gui_session.study, k=3)
    image = test_rows.iloc[0]["image_id"]
    row = raters[(raters["rater"] == "U01") & (raters["image_id"] == image)]
    assert len(row) == 1 and bool(row.iloc[0]["correct_top1"])  # the revision is what counts
    assert len(scored[(scored["phase"] == "test") & (scored["trial"] == 1)]) == 1


def test_no_undo_across_a_break(qtbot, gui_session):
    window = gui_session.open("U02")
    to_test_phase(qtbot, window)
    for _ in range(4):  # the fourth answer ends the block: a break follows
        answer_with(qtbot, window, [NAMES[truth_of(window)]])
    assert "Break" in window.message.message.text()
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    before = window.controller.current()
    assert not window.controller.can_undo() and not window.trial.undo_button.isEnabled()
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    assert window.controller.current() == before and not window.controller.revising
    assert "no answer to take back" in window.trial.status.text()
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'undo'").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM trials WHERE supersedes IS NOT NULL").fetchone()[0] == 0


def test_quitting_over_a_revision_asks_once_and_keeps_the_earlier_answer(qtbot, gui_session):
    window = gui_session.open("U03")
    to_test_phase(qtbot, window)
    answer_with(qtbot, window, [NAMES[truth_of(window)]])
    wait_for_trial(qtbot, window)
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    wait_for_trial(qtbot, window)
    asked: list[str] = []
    when_asked("Keep working", asked)
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)
    assert window.isVisible() and len(asked) == 1 and "You are revising your last answer" in asked[0]
    assert "the earlier answer then stays as it was" in asked[0]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.trial.picker.search)  # the keys go back to the window
    when_asked("Quit", asked)
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)
    assert not window.isVisible() and len(asked) == 2
    gui_session.store.close()
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        test_rows = answers_frame(store, include_superseded=True).query("phase == 'test'")
    assert len(test_rows) == 1 and not test_rows["superseded"].any()


def choose(qtbot, names: list[str]) -> None:
    """Put classes into the slots without submitting them."""
    for name in names:
        type_text(qtbot, name)
        press(qtbot, Qt.Key_Return)


def test_undo_keeps_the_guesses_of_the_image_it_goes_back_from(qtbot, gui_session):
    """Ctrl+Z brings the previous image back for revision; Esc or Ctrl+Z again cancels it, and a
    revision submitted returns too: each time the current image comes back with its chosen classes."""
    window = gui_session.open("U04")
    to_test_phase(qtbot, window)
    first_truth = truth_of(window)
    answer_with(qtbot, window, [NAMES[WRONG[first_truth]]])
    wait_for_trial(qtbot, window)
    second = window.controller.current()
    chosen = (truth_of(window), WRONG[truth_of(window)])
    choose(qtbot, [NAMES[label] for label in chosen])
    assert window.trial.slots.labels == chosen

    for cancel in ((Qt.Key_Escape, Qt.NoModifier), (Qt.Key_Z, Qt.ControlModifier)):
        press(qtbot, Qt.Key_Z, Qt.ControlModifier)
        wait_for_trial(qtbot, window)
        assert window.controller.revising and window.trial.slots.labels == (WRONG[first_truth],)
        press(qtbot, *cancel)
        wait_for_trial(qtbot, window)
        assert window.controller.current() == second and not window.controller.revising
        assert window.trial.slots.labels == chosen and "2 class(es) you had chosen" in window.trial.status.text()
        assert window.trial.undo_button.isEnabled()  # the kept answer may be taken back again

    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    wait_for_trial(qtbot, window)
    press(qtbot, Qt.Key_F7, Qt.ShiftModifier)
    answer_with(qtbot, window, [NAMES[first_truth]])  # the revision, submitted
    wait_for_trial(qtbot, window)
    assert window.controller.current() == second and window.trial.slots.labels == chosen
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    wait_for_trial(qtbot, window)
    gui_session.close(window)

    with ResultsStore(gui_session.store_path, readonly=True) as store:
        scored = answers_frame(store).query("phase == 'test'")
        kinds = [kind for (kind,) in store.conn.execute("SELECT kind FROM events WHERE phase = 'test' ORDER BY at")]
        restored = store.conn.execute("SELECT detail FROM events WHERE kind = 'restored'").fetchall()
    assert scored.query("trial == 0")["label_id"].tolist() == [first_truth]
    assert tuple(scored.query("trial == 1").sort_values("rank")["label_id"]) == chosen
    assert kinds.count("undo") == 3 and kinds.count("revision_cancelled") == 2
    assert len(restored) == 3 and all(list(chosen) == json.loads(detail)["labels"] for (detail,) in restored)


def test_a_pause_keeps_the_chosen_classes_and_the_response_time_goes_on(qtbot, gui_session):
    window = gui_session.open("U05")
    to_test_phase(qtbot, window)
    wait_for_trial(qtbot, window)
    choose(qtbot, [NAMES[truth_of(window)]])
    qtbot.wait(200)
    press(qtbot, Qt.Key_F9)
    assert "The classes you had chosen are kept" in window.message.message.text()
    qtbot.wait(1500)  # the time away does not count
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    assert window.trial.slots.labels == (truth_of(window),)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    wait_for_trial(qtbot, window)
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        row = answers_frame(store).query("phase == 'test' and trial == 0").iloc[0]
    assert row["label_id"] == truth_of_row(gui_session, row) and bool(row["paused"]) and row["exposures"] == 1
    assert 200 <= row["rt_ms"] < 1500  # the time before the pause counts, the pause does not


def truth_of_row(gui_session, row) -> str:
    return gui_session.study.truth(row["image_id"])[0]


def test_quitting_over_chosen_classes_asks_once_and_loses_nothing_stored(qtbot, gui_session):
    window = gui_session.open("U06")
    to_test_phase(qtbot, window)
    answer_with(qtbot, window, [NAMES[truth_of(window)]])
    wait_for_trial(qtbot, window)
    choose(qtbot, [NAMES[truth_of(window)], NAMES[WRONG[truth_of(window)]]])
    asked: list[str] = []
    when_asked("Keep working", asked)
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)
    assert window.isVisible() and len(asked) == 1 and "The 2 class(es) you chose and did not submit" in asked[0]
    assert window.trial.slots.labels == (truth_of(window), WRONG[truth_of(window)])
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)  # the window takes the keys back
    press(qtbot, Qt.Key_F9)  # paused: the kept classes are still what quitting would drop
    when_asked("Quit", asked)
    window.close()  # the window's close button asks the same
    assert not window.isVisible() and len(asked) == 2 and "The 2 class(es)" in asked[1]
    gui_session.store.close()
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        assert len(answers_frame(store).query("phase == 'test'")) == 1


def test_not_sure_answers_at_once_where_undo_is_on_and_asks_again_where_it_is_off(qtbot, gui_session):
    window = gui_session.open("U07")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)  # training: feedback, so no undo
    press(qtbot, Qt.Key_F5)
    assert window.controller.position == 0 and "Press F5 again to answer 'not sure'" in window.trial.status.text()
    press(qtbot, Qt.Key_F6)  # another outcome asks afresh
    assert window.controller.position == 0 and "Press F6 again to answer 'none of these'" in window.trial.status.text()
    press(qtbot, Qt.Key_F6)
    assert window.controller.position == 1 and isinstance(current_page(window), FeedbackPage)
    press(qtbot, Qt.Key_Return)
    for _ in range(3):
        wait_for_trial(qtbot, window)
        answer_with(qtbot, window, [NAMES[truth_of(window)]])
        press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)  # the test phase's start screen
    wait_for_trial(qtbot, window)  # test: undo on
    press(qtbot, Qt.Key_F5)
    wait_for_trial(qtbot, window)
    assert window.controller.position == 5
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        outcomes = answers_frame(store).sort_values(["phase", "trial"])
    assert outcomes.query("phase == 'training'")["outcome"].tolist()[0] == "none_of_these"
    assert outcomes.query("phase == 'test'")["outcome"].tolist() == ["not_sure"]

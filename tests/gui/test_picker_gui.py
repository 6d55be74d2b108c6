"""The label picker and answer slots on the real 1000-class label set, keyboard only."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication

from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import press, type_text, wait_for_trial


def open_first_trial(qtbot, session, annotator="P01"):
    window = session.open(annotator)
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # phase start
    wait_for_trial(qtbot, window)
    return window


def shown_results(window, n):
    model = window.trial.picker.results_model
    return [model.data(model.index(row)) for row in range(min(n, model.rowCount()))]


def test_search_ranks_and_enter_fills_slots_in_order(qtbot, imagenet_session):
    window = open_first_trial(qtbot, imagenet_session)
    picker, slots = window.trial.picker, window.trial.slots
    type_text(qtbot, "tabb")
    assert shown_results(window, 1) == ["tabby"]
    assert picker.current == "n02123045" and "mottled" in picker.details.text()
    press(qtbot, Qt.Key_Return)
    assert slots.labels == ("n02123045",) and picker.search.text() == ""
    type_text(qtbot, "maillot")
    assert set(shown_results(window, 2)) == {"maillot (tights)", "maillot (swimsuit)"}
    press(qtbot, Qt.Key_Down)
    second = picker.current
    press(qtbot, Qt.Key_Return)
    type_text(qtbot, "garbage truck")
    assert shown_results(window, 1) == ["garbage truck"]
    press(qtbot, Qt.Key_Return)
    type_text(qtbot, "dustcart")  # the same class by its synonym: refused as a duplicate
    assert shown_results(window, 1) == ["garbage truck  (dustcart)"]
    press(qtbot, Qt.Key_Return)
    assert "already in your answer" in window.trial.status.text()
    assert slots.labels == ("n02123045", second, "n03417042")

    press(qtbot, Qt.Key_F4)  # to the slots: move the first guess down, remove the last
    assert QApplication.focusWidget() is slots
    press(qtbot, Qt.Key_Down, Qt.AltModifier)
    assert slots.labels == (second, "n02123045", "n03417042")
    press(qtbot, Qt.Key_F7)
    assert slots.labels == (second, "n02123045")
    press(qtbot, Qt.Key_F2)
    assert QApplication.focusWidget() is picker.search
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    imagenet_session.close(window)
    with ResultsStore(imagenet_session.store_path, readonly=True) as store:
        frame = answers_frame(store)
    assert list(frame["label_id"]) == [second, "n02123045"] and list(frame["rank"]) == [1, 2]


def test_hierarchy_reveals_and_chooses(qtbot, imagenet_session):
    window = open_first_trial(qtbot, imagenet_session, "P02")
    picker = window.trial.picker
    type_text(qtbot, "tabby")
    press(qtbot, Qt.Key_F3)
    assert QApplication.focusWidget() is picker.tree
    assert picker.tree_model.node(picker.tree.currentIndex()) == "n02123045"
    press(qtbot, Qt.Key_Up)  # a sibling in the cat group
    sibling = picker.current
    assert imagenet_session.study.labels.parent_of[sibling] == "n02121808"  # domestic cat
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == (sibling,)
    press(qtbot, Qt.Key_Left)  # to the parent group: an inner node, not answerable
    press(qtbot, Qt.Key_Left)
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == (sibling,)
    assert "[" in picker.tree_model.data(picker.tree.currentIndex())  # the group shows its class count
    imagenet_session.close(window)


def test_help_overlay_and_zoom(qtbot, imagenet_session):
    window = open_first_trial(qtbot, imagenet_session, "P03")
    press(qtbot, Qt.Key_F1)
    assert window.help.isVisible() and "Ctrl+Return" in window.help.text.text()
    press(qtbot, Qt.Key_F5)  # commands are inert while help is open
    assert window.pages.currentWidget() is window.trial
    press(qtbot, Qt.Key_Escape)
    assert not window.help.isVisible() and QApplication.focusWidget() is window.trial.picker.search
    press(qtbot, Qt.Key_Equal, Qt.ControlModifier)
    assert window.trial.view.zoom > 1
    press(qtbot, Qt.Key_0, Qt.ControlModifier)
    assert window.trial.view.zoom == 1
    imagenet_session.close(window)


def test_store_failure_keeps_the_answer_on_screen(qtbot, gui_session):
    window = gui_session.open("F01")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    type_text(qtbot, "cat")
    press(qtbot, Qt.Key_Return)
    gui_session.store.conn.execute("DROP TABLE answers")  # the store breaks under the annotator
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    assert window.pages.currentWidget() is window.trial
    assert "could NOT be saved" in window.trial.status.text()
    assert window.trial.slots.labels == ("cat",)
    assert window.controller.position == 0
    gui_session.close(window)


def test_protocol_key_overrides_in_force_and_in_help(qtbot, tiny_study, tmp_path):
    from tests.gui.conftest import Session

    toml = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_text(toml + '\n[keys]\nsubmit = "F12"\n')
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = open_first_trial(qtbot, session, "K01")
    press(qtbot, Qt.Key_F1)
    assert "F12</b> <i>(set by this study)</i>" in window.help.text.text()
    press(qtbot, Qt.Key_Escape)
    type_text(qtbot, "cat")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F12)
    assert window.controller.position == 1 and "F12" in window.trial.submit_button.text()
    session.close(window)


def test_typing_in_the_tree_or_the_slots_goes_to_the_search_box(qtbot, imagenet_session):
    """In the tree, a letter would jump the highlight to a row starting with it, and the next
    Enter would add that row: letters go to the search box instead, wherever the focus is."""
    window = open_first_trial(qtbot, imagenet_session, "P04")
    picker = window.trial.picker
    type_text(qtbot, "garb")
    press(qtbot, Qt.Key_F3)
    highlighted = picker.tree_model.node(picker.tree.currentIndex())
    type_text(qtbot, "t")  # a new query, as after F2; the next keys find the search box focused
    type_text(qtbot, "abb")
    assert QApplication.focusWidget() is picker.search and picker.search.text() == "tabb"
    assert picker.tabs.currentIndex() == 0 and shown_results(window, 1) == ["tabby"]
    assert highlighted == picker.tree_model.node(picker.tree.currentIndex())  # the tree did not move
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F4)
    type_text(qtbot, "J")  # Shift is typing too
    type_text(qtbot, "ar")
    assert QApplication.focusWidget() is picker.search and picker.search.text() == "Jar"
    press(qtbot, Qt.Key_Escape)  # a fresh query
    assert picker.search.text() == ""
    type_text(qtbot, "qqqzzzxx")
    assert picker.results_model.rowCount() == 0 and "No class matches" in picker.details.text()
    imagenet_session.close(window)


def test_not_sure_over_chosen_classes_asks_first(qtbot, imagenet_session):
    """A stray F5 or F6 must not drop the guesses in the slots for good: the first press asks,
    a changed answer asks afresh, the second press answers."""
    window = open_first_trial(qtbot, imagenet_session, "P05")
    trial = window.trial
    type_text(qtbot, "tabby")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F5)
    assert window.controller.position == 0 and trial.slots.labels == ("n02123045",)
    assert "Press F5 again to answer 'not sure'" in trial.status.text()
    type_text(qtbot, "garbage truck")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F6)  # another outcome, after another class: asks again
    assert window.controller.position == 0 and "Press F6 again" in trial.status.text()
    press(qtbot, Qt.Key_F6)
    assert window.controller.position == 1
    imagenet_session.close(window)
    with ResultsStore(imagenet_session.store_path, readonly=True) as store:
        frame = answers_frame(store)
    assert frame["outcome"].tolist() == ["none_of_these"] and frame["label_id"].fillna("").tolist() == [""]


def test_ctrl_arrows_move_the_search_cursor_unless_the_image_is_zoomed(qtbot, imagenet_session):
    window = open_first_trial(qtbot, imagenet_session, "P06")
    search, view = window.trial.picker.search, window.trial.view
    type_text(qtbot, "garbage truck")
    press(qtbot, Qt.Key_Left, Qt.ControlModifier)  # a word back, as in any text field
    assert search.cursorPosition() == len("garbage ")
    for _ in range(6):  # 3.8x: wider than the view
        press(qtbot, Qt.Key_Equal, Qt.ControlModifier)
    before = view._image_rect()
    assert before.width() > view.width()
    press(qtbot, Qt.Key_Right, Qt.ControlModifier)  # zoomed: the image moves, the cursor stays
    assert view._image_rect().left() < before.left() and search.cursorPosition() == len("garbage ")
    imagenet_session.close(window)

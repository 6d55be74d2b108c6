"""The label picker and answer slots on the real 1000-class label set, keyboard only."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QApplication

from study_app.gui.label_models import IS_GROUP_ROLE, LABEL_ID_ROLE
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


MUSICAL_INSTRUMENT, TABLES = "n03800933", ("n04379243", "n04379964")


def test_groups_are_results_and_enter_opens_them_in_the_tree(qtbot, imagenet_session):
    """Issue #22 item 5: the instructions send annotators to groups such as "dog" or "musical
    instrument", which search did not find."""
    window = open_first_trial(qtbot, imagenet_session, "G01")
    picker, labels = window.trial.picker, imagenet_session.study.labels
    model = picker.results_model
    for query, group in (("insect", "n02159955"), ("dog", "n02084071"), ("shoe", "n04199027")):
        type_text(qtbot, query)
        first = model.index(0)
        assert (model.data(first, LABEL_ID_ROLE), model.data(first, IS_GROUP_ROLE)) == (group, True), query
        count = labels.class_count_below[group]
        assert model.data(first) == f"{query}  [group · {count} classes]"  # a look of its own
        rows = [model.index(row) for row in range(model.rowCount())]
        assert all(bool(model.data(r, Qt.FontRole)) == model.data(r, IS_GROUP_ROLE) for r in rows)
        assert model.data(first, Qt.FontRole).italic() and not all(model.data(r, IS_GROUP_ROLE) for r in rows)
        assert picker.current == group and f"a group of {count} classes" in picker.details.text()
        press(qtbot, Qt.Key_Escape)
    type_text(qtbot, "musical instrument")
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == ()  # a group is no answer: it opens where it sits in the tree
    tree = picker.tree
    assert picker.tabs.currentIndex() == 1 and QApplication.focusWidget() is tree
    group = tree.currentIndex()
    assert picker.tree_model.node(group) == MUSICAL_INSTRUMENT and tree.isExpanded(group)
    press(qtbot, Qt.Key_Left)  # closed again; Enter in the tree opens it
    assert not tree.isExpanded(group)
    press(qtbot, Qt.Key_Return)
    assert tree.isExpanded(group) and window.trial.slots.labels == ()
    press(qtbot, Qt.Key_Return)  # open already: Enter steps to its first member
    assert labels.parent_of[picker.current] == MUSICAL_INSTRUMENT
    while picker.current not in labels:  # down the groups to a class, Enter on each
        press(qtbot, Qt.Key_Return)
        press(qtbot, Qt.Key_Return)
    member = picker.current
    assert MUSICAL_INSTRUMENT in labels.path_to_root(member)
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == (member,)
    imagenet_session.close(window)


def test_whole_names_rank_first_whatever_their_spaces(qtbot, imagenet_session):
    """Issue #22 item 6: "bottle cap" put five bottles and a corkscrew above bottlecap."""
    window = open_first_trial(qtbot, imagenet_session, "G02")
    type_text(qtbot, "bottle cap")
    assert shown_results(window, 1) == ["bottlecap"]
    press(qtbot, Qt.Key_Return)
    type_text(qtbot, "jagaur")  # two letters swapped
    assert shown_results(window, 1) == ["jaguar"]
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == ("n02877765", "n02128925")
    imagenet_session.close(window)


def test_namesakes_show_what_tells_them_apart(qtbot, imagenet_session):
    """Issue #22 item 7: two sibling groups "table" under furniture looked the same."""
    window = open_first_trial(qtbot, imagenet_session, "G03")
    picker = window.trial.picker
    type_text(qtbot, "table")
    rows = {picker.results_model.data(picker.results_model.index(row), LABEL_ID_ROLE): row for row in range(2)}
    assert set(rows) == set(TABLES)
    shown = [picker.results_model.data(picker.results_model.index(rows[table])) for table in TABLES]
    assert shown[0].startswith("table · having a smooth flat top") and "[group · 2 classes]" in shown[0]
    assert shown[1].startswith("table · with tableware for a meal") and "[group · 1 class]" in shown[1]
    in_tree = [picker.tree_model.data(picker.tree_model.index_of(table)) for table in TABLES]
    assert in_tree == [
        "table · having a smooth flat top that is…  [2]",
        "table · with tableware for a meal laid out on it  [1]",
    ]
    tip = picker.tree_model.data(picker.tree_model.index_of(TABLES[0]), Qt.ToolTipRole)
    assert "usually supported by one or more vertical legs" in tip  # the whole definition
    brass = picker.tree_model.index_of("n02892201")  # a class named like a group: told apart by parent
    assert picker.tree_model.data(brass) == "brass · in memorial"
    imagenet_session.close(window)


def test_long_names_are_read_in_full_in_the_hierarchy(qtbot, imagenet_session):
    """Issue #22 item 8: "soft-coated wheaten t..." was clipped, 40% of the panel was indentation,
    and the splitter handle was hard to see."""
    window = open_first_trial(qtbot, imagenet_session, "G04")
    window.resize(1280, 760)  # the window's default size
    qtbot.wait(50)
    trial, labels = window.trial, imagenet_session.study.labels
    picker, tree = trial.picker, trial.picker.tree
    assert picker.width() >= 0.35 * trial.splitter.width()
    assert trial.splitter.handleWidth() >= 6 and "QSplitter::handle" in trial.splitter.styleSheet()
    type_text(qtbot, "soft-coated wheaten")
    press(qtbot, Qt.Key_F3)
    wheaten = tree.currentIndex()
    text = picker.tree_model.data(wheaten)
    assert text == "soft-coated wheaten terrier"
    bold = QFontMetrics(picker.tree_model.data(wheaten, Qt.FontRole))
    rect = tree.visualRect(wheaten)
    assert bold.horizontalAdvance(text) + 8 <= rect.width()  # drawn unelided
    assert rect.right() <= tree.viewport().width() and tree.horizontalScrollBar().maximum() == 0
    assert rect.left() < 0.4 * tree.viewport().width()  # indentation, 16 levels down
    # Every class of the 1000 fits at its depth at this size (by the same measure).
    room = tree.viewport().width() - tree.indentation() - 8
    fitting = [
        (labels.depth(c.label_id)) * tree.indentation()
        + bold.horizontalAdvance(picker.tree_model.data(picker.tree_model.index_of(c.label_id)))
        <= room
        for c in labels.classes
    ]
    assert sum(fitting) / len(fitting) >= 0.99
    # A name too long for a narrow panel is elided in the middle; the tooltip has it whole.
    assert tree.textElideMode() == Qt.ElideMiddle
    assert "soft-coated wheaten terrier" in picker.tree_model.data(wheaten, Qt.ToolTipRole)
    imagenet_session.close(window)


def test_no_stale_no_match_message_under_an_empty_search_box(qtbot, imagenet_session):
    """Issue #22 item 12: "No class matches '...'" stayed on the next image."""
    window = open_first_trial(qtbot, imagenet_session, "G05")
    picker = window.trial.picker
    type_text(qtbot, "qqqzzzxx")
    assert "No class matches" in picker.details.text()
    press(qtbot, Qt.Key_Escape)  # the query is gone, and so is what was said about it
    assert picker.search.text() == "" and "No class matches" not in picker.details.text()
    type_text(qtbot, "tabby")
    press(qtbot, Qt.Key_Return)
    type_text(qtbot, "qqqzzzxx")
    assert "No class matches" in picker.details.text()
    position = window.controller.position
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)  # submit; training: feedback, then the next image
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.feedback, timeout=5000)
    qtbot.wait(400)  # past any guard time against keys held over from the answer
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    assert window.controller.position == position + 1
    assert picker.search.text() == "" and "No class matches" not in picker.details.text()
    assert "Type to search" in picker.details.text()
    imagenet_session.close(window)

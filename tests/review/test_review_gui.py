"""The review window driven with the keyboard only: what is shown, what is stored, resuming."""

from __future__ import annotations

import json

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel

from study_app.review.items import Selection, review_order, study_errors
from study_app.store import ResultsStore
from study_app.store.reviews import reviews_frame
from tests.gui.keys import press, type_text

HUMANS_TOP_K = Selection(("humans",), "top-k")
EVERYONE_TOP_1 = Selection(("all",), "top-1")


def stored(store_path, include_superseded=True):
    with ResultsStore(store_path, readonly=True) as store:
        return reviews_frame(store, include_superseded=include_superseded)


def sessions(store_path):
    with ResultsStore(store_path, readonly=True) as store:
        return store.conn.execute(
            "SELECT reviewer_id, blind, selection, ended_at FROM review_sessions ORDER BY started_at"
        ).fetchall()


def save(qtbot) -> None:
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)


def visible_text(window) -> str:
    return (
        " ".join(label.text() for label in window.findChildren(QLabel) if label.isVisible())
        + " "
        + window.windowTitle()
    )


def test_keyboard_review_quit_and_resume(reviews, qtbot):
    window = reviews.open("R1", HUMANS_TOP_K)
    controller = window.controller
    first, second, third = controller.items
    assert {item.image_id for item in controller.items} == {"img-004", "img-010", "img-016"}
    assert [item.trial for item in controller.items] == sorted(
        item.trial for item in controller.items
    )  # the session's order
    shown = visible_text(window)
    assert "annotator <b>A01</b> (person)" in shown and f"response time {first.rt_ms / 1000:.1f} s" in shown
    assert "Error 1 of 3" in shown and window.truth_details.text().startswith(
        f"<b>{reviews.study.labels[first.truth[0]].name}</b>"
    )
    assert [c.key for c in controller.offered(first)] == [
        "multiple_objects",
        "incorrect_ground_truth",
        "fine_grained",
        "class_unawareness",
        "insufficient_training",
        "other",
    ]

    # causes 3 and 1, a note, a proposed ground truth found by search, then save
    press(qtbot, Qt.Key_3)
    press(qtbot, Qt.Key_1)
    press(qtbot, Qt.Key_F2)
    type_text(qtbot, "=looks like 2 things")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F3)
    type_text(qtbot, "bus")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Escape)
    assert window.proposal.labels == ["bus"] and window.guesses.hasFocus()
    save(qtbot)
    rows = stored(reviews.store_path)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["reviewer"], row["item"], row["rater"], row["rater_kind"], row["image_id"]) == (
        "R1",
        first.item,
        "A01",
        "human",
        first.image_id,
    )
    assert row["causes"] == "multiple_objects;fine_grained" and row["note"] == "=looks like 2 things"
    assert row["proposed_truth"] == "bus" and row["truth"] == first.truth[0] and not row["blind"]
    assert row["guesses"] == ";".join(first.guesses) and row["trial_uuid"] == first.item.removeprefix("trial:")
    assert row["supersedes"] == "" and row["review_ms"] > 0

    # second error: a models-only cause is not offered; nothing ticked cannot be saved
    assert controller.current() == second and "Error 2 of 3" in window.heading.text()
    press(qtbot, Qt.Key_6)
    assert window.causes.checked() == [] and "not a cause for this kind" in window.status.text()
    save(qtbot)
    assert len(stored(reviews.store_path)) == 1 and "at least one cause" in window.status.text()
    press(qtbot, Qt.Key_9)
    press(qtbot, Qt.Key_F2)
    type_text(qtbot, "9 is other")  # a digit in the note is text, not a cause
    save(qtbot)  # straight from the note field
    assert len(stored(reviews.store_path)) == 2
    assert stored(reviews.store_path).iloc[1][["causes", "note"]].tolist() == ["other", "9 is other"]

    # quit with the third unreviewed; the sitting is closed
    assert controller.current() == third
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible())
    reviews.store.close()
    assert [(r, b, e is not None) for r, b, _, e in sessions(reviews.store_path)] == [("R1", 0, True)]

    # resume: starts at the first unreviewed error; going back and saving again revises
    window = reviews.open("R1", HUMANS_TOP_K)
    assert (
        window.controller.current() == third and window.controller.resumed and "Error 3 of 3" in window.heading.text()
    )
    press(qtbot, Qt.Key_Left, Qt.AltModifier)
    assert window.controller.current() == second and window.causes.checked() == ["other"]
    assert "saving again revises it" in window.status.text()
    press(qtbot, Qt.Key_4)
    save(qtbot)
    assert window.controller.current() == third
    press(qtbot, Qt.Key_5)
    save(qtbot)
    assert "All 3 errors are reviewed" in window.heading.text()
    reviews.close(window)

    everything = stored(reviews.store_path)
    current = stored(reviews.store_path, include_superseded=False)
    assert len(everything) == 4 and len(current) == 3
    revised = everything[everything["item"] == second.item].sort_values("reviewed_at")
    assert revised["causes"].tolist() == ["other", "class_unawareness;other"]
    assert (
        revised["superseded"].tolist() == [True, False]
        and revised["supersedes"].iloc[1] == revised["review_uuid"].iloc[0]
    )
    assert current.set_index("item").loc[third.item, "causes"] == "insufficient_training"
    assert len(set(everything["review_session"])) == 2
    assert all(json.loads(sel)["raters"] == ["humans"] and ended for _, _, sel, ended in sessions(reviews.store_path))


def test_blind_review_hides_the_rater_and_shuffles_reproducibly(reviews, qtbot):
    window = reviews.open("R2", EVERYONE_TOP_1, blind=True)
    controller = window.controller
    assert len(controller.items) == 12  # A01's 3 errors and model-b's 9 top-1 errors
    with ResultsStore(reviews.store_path, readonly=True) as store:
        plain, _ = study_errors(reviews.study, store, None, EVERYONE_TOP_1)
    assert controller.items == review_order(plain, True, reviews.study.seed, "R2") != plain
    assert review_order(plain, True, reviews.study.seed, "R3") != controller.items
    for _ in range(2):
        item = controller.current()
        shown = visible_text(window)
        for revealing in ("A01", "model-b", "person", "model", "response time", "trial"):
            assert revealing not in shown, revealing
        assert len(controller.offered(item)) == 9 and window.causes.count() == 9
        press(qtbot, Qt.Key_8)  # a models-only cause can be given to any error when blind
        save(qtbot)
    reviews.close(window)
    rows = stored(reviews.store_path)
    assert rows["item"].tolist() == [item.item for item in controller.items[:2]]
    assert rows["blind"].all() and (rows["causes"] == "abstract").all()
    assert [(r, b) for r, b, _, _ in sessions(reviews.store_path)][-1] == ("R2", 1)


def test_help_lists_the_causes_and_blocks_them(reviews, qtbot):
    window = reviews.open("R1", HUMANS_TOP_K)
    press(qtbot, Qt.Key_F1)
    assert window.help.isVisible()
    assert "fine-grained recognition" in window.help.text.text() and "Ctrl+Return" in window.help.text.text()
    press(qtbot, Qt.Key_3)
    assert window.causes.checked() == []
    press(qtbot, Qt.Key_Escape)
    assert not window.help.isVisible()
    press(qtbot, Qt.Key_3)
    assert window.causes.checked() == ["fine_grained"]
    press(qtbot, Qt.Key_Right, Qt.AltModifier)  # unsaved: the first press warns, the second leaves it
    assert window.controller.position == 0 and "not saved" in window.status.text()
    press(qtbot, Qt.Key_Right, Qt.AltModifier)
    assert window.controller.position == 1 and window.causes.checked() == []
    reviews.close(window)
    assert stored(reviews.store_path).empty


def test_quitting_over_an_unsaved_review_asks_once_and_the_end_of_the_list_is_not_all_reviewed(reviews, qtbot):
    window = reviews.open("R2", HUMANS_TOP_K)
    press(qtbot, Qt.Key_3)
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)  # ticked, not saved: the first Ctrl+Q only says so
    assert window.isVisible() and "not saved" in window.status.text() and "Ctrl+Q again" in window.status.text()
    save(qtbot)
    for _ in range(5):  # past the last error without reviewing the others
        press(qtbot, Qt.Key_Right, Qt.AltModifier)
    shown = visible_text(window)
    assert "End of the list: 1 of 3 errors are reviewed" in shown and "All 3" not in shown
    assert window.truth_details.text() == "" and window.note.text() == ""
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)  # nothing unsaved on the end screen: quits at once
    assert not window.isVisible()
    reviews.store.close()
    assert len(stored(reviews.store_path)) == 1


def test_the_window_fits_a_laptop_screen(reviews, qtbot):
    """The side column scrolls (to what the keys work on) instead of making the window taller
    than the screen; a long cause name wraps instead of hiding the row below it."""
    window = reviews.open("R3", HUMANS_TOP_K)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 700
    window.resize(1280, 700)
    qtbot.wait(50)
    press(qtbot, Qt.Key_F2)
    area = window.side_scroll
    note_at = window.note.mapTo(area.widget(), window.note.rect().topLeft()).y() - area.verticalScrollBar().value()
    assert 0 <= note_at <= area.viewport().height() - window.note.height()  # the note is in view when typed into
    assert window.causes.horizontalScrollBarPolicy() == Qt.ScrollBarAlwaysOff and window.causes.wordWrap()
    reviews.close(window)


def test_the_header_numbers_the_trial_as_the_export_does_and_the_end_shows_nothing_to_edit(reviews, qtbot):
    """Issue #22 item 13: "trial N" in the header is the export's ``trial`` of that answer (it
    said N + 1); once every error is reviewed no empty cause list, note or proposal hint is left."""
    from study_app.store import answers_frame

    with ResultsStore(reviews.store_path, readonly=True) as store:
        exported = answers_frame(store).drop_duplicates("trial_uuid").set_index("trial_uuid")["trial"]
    window = reviews.open("R4", HUMANS_TOP_K)
    for item in window.controller.items:
        assert f"trial {exported[item.trial_uuid]}," in window.heading.text()
        press(qtbot, Qt.Key_3)
        save(qtbot)
    assert "All 3 errors are reviewed" in visible_text(window)
    for widget in (window.causes, window.note, window.proposal, window.guesses, window.truth_details):
        assert not widget.isVisible()
    assert "F3" not in visible_text(window) and "Alt+Left goes back" in window.status.text()
    press(qtbot, Qt.Key_Left, Qt.AltModifier)  # back to revise the last one: its editing widgets are back
    assert window.causes.isVisible() and window.note.isVisible() and window.causes.checked() == ["fine_grained"]
    reviews.close(window)


def test_a_click_on_an_example_shows_it_large_and_esc_closes_it(reviews, qtbot):
    """Issue #22 item 10 in the review window: its own Esc (which leaves the note) does not
    steal the large view's."""
    window = reviews.open("R5", HUMANS_TOP_K)
    pane = window.truth_examples
    qtbot.waitUntil(lambda: pane.count() > 0 and pane.loaded_count() == pane.count(), timeout=10_000)
    qtbot.mouseClick(pane.viewport(), Qt.LeftButton, pos=pane.visualItemRect(pane.item(pane.count() - 1)).center())
    viewer = pane.viewer
    assert viewer.isVisible() and f"example {pane.count()} of {pane.count()}" in viewer.caption.text()
    qtbot.waitUntil(lambda: viewer.view.mode == "image", timeout=10_000)
    press(qtbot, Qt.Key_Escape)
    assert not viewer.isVisible() and window.focusWidget() is not viewer  # the keyboard is back where it was
    press(qtbot, Qt.Key_Right, Qt.AltModifier)  # the next error: its own truth's examples, nothing left open
    assert window.controller.position == 1 and not viewer.isVisible()
    reviews.close(window)

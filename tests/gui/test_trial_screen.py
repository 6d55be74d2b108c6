"""What the trial screen keeps from one trial to the next: the window reuses its widgets
(image view repainted only where images lie, answer rows, flag bar), so nothing of a
previous trial may show through."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage
from PyQt5.QtWidgets import QApplication

from study_app.gui.image_view import BACKGROUND, ImageView
from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import press, type_text, wait_for_trial
from tests.gui.test_picker_gui import open_first_trial


def filled(width: int, height: int, colour) -> QImage:
    image = QImage(width, height, QImage.Format_RGB888)
    image.fill(QColor(*colour))
    return image


def on_screen(qtbot, view: ImageView, image: QImage) -> QImage:
    """Show ``image`` and return what the window system holds of the view after its paint."""
    with qtbot.waitSignal(view.painted, timeout=2000):
        view.show_image(image)
    qtbot.wait(20)  # the flush that follows the paint
    return QApplication.primaryScreen().grabWindow(view.winId()).toImage()


def colour_at(shot: QImage, x: int, y: int) -> tuple[int, int, int]:
    pixel = shot.pixelColor(x, y)
    return pixel.red(), pixel.green(), pixel.blue()


def shown_view(qtbot) -> ImageView:
    """A 400 x 300 image view on screen."""
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_next_image_leaves_nothing_of_the_last_one(qtbot):
    view = shown_view(qtbot)
    grey = (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())
    shot = on_screen(qtbot, view, filled(400, 200, (200, 0, 0)))  # decoded at view size: wide
    assert colour_at(shot, 5, 150) == (200, 0, 0) and colour_at(shot, 200, 20) == grey
    shot = on_screen(qtbot, view, filled(100, 300, (0, 0, 200)))  # tall: the wide one's sides must turn grey
    assert colour_at(shot, 5, 150) == grey and colour_at(shot, 395, 150) == grey
    assert colour_at(shot, 200, 150) == (0, 0, 200) and colour_at(shot, 200, 5) == (0, 0, 200)
    shot = on_screen(qtbot, view, filled(8, 6, (0, 150, 0)))  # small: enlarged on the GUI thread, aspect kept
    assert colour_at(shot, 5, 150) == (0, 150, 0) and colour_at(shot, 200, 5) == (0, 150, 0)
    view.zoom_in()
    qtbot.wait(50)
    shot = QApplication.primaryScreen().grabWindow(view.winId()).toImage()
    assert colour_at(shot, 1, 1) == (0, 150, 0)  # zoomed past the edges


def test_flag_of_one_trial_is_gone_on_the_next(qtbot, gui_session):
    window = gui_session.open("F01")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    press(qtbot, Qt.Key_F8)
    press(qtbot, Qt.Key_2)
    type_text(qtbot, "dark")
    press(qtbot, Qt.Key_Return)  # keeps the flag
    assert "[flagged" in window.trial.status.text()
    press(qtbot, Qt.Key_F5)  # not sure: asked once (no undo with feedback),
    press(qtbot, Qt.Key_F5)  # answered by the second press -> feedback
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    bar = window.trial.flag_bar
    assert not bar.isVisible() and bar.group.checkedId() == -1 and bar.note.text() == ""
    assert "[flagged" not in window.trial.status.text()
    press(qtbot, Qt.Key_F5)
    press(qtbot, Qt.Key_F5)
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        flags = list(answers_frame(store).sort_values("trial")["flags"].fillna(""))  # one row each: no labels
    assert len(flags) == 2 and flags[0] != "" and flags[1] == ""


def test_heading_and_answer_rows_follow_the_phase(qtbot, gui_session):
    window = gui_session.open("F02")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    trial = window.trial
    for number in range(1, 5):  # the 4 training trials, one answer each
        wait_for_trial(qtbot, window)
        assert (trial.heading.text(), trial.counter.text()) == (
            "Training",
            f"· image {number} of 4  ·  {number} of 16 in all",
        )
        assert [trial.slots.item(row).text() for row in range(trial.slots.count())] == ["1. —"]
        type_text(qtbot, "cat")
        press(qtbot, Qt.Key_Return)
        assert trial.slots.item(0).text() == "1. cat" and trial.slots.item(0).foreground().color() != Qt.gray
        if number == 1:  # one slot: another class takes its place (the annotator changed their mind)
            type_text(qtbot, "dog")
            press(qtbot, Qt.Key_Return)
            assert trial.slots.labels == ("dog",) and "dog replaces cat" in trial.status.text()
            type_text(qtbot, "cat")
            press(qtbot, Qt.Key_Return)
            assert trial.slots.labels == ("cat",)
        training_height = trial.slots.height()
        press(qtbot, Qt.Key_Return, Qt.ControlModifier)
        press(qtbot, Qt.Key_Return)  # feedback
    press(qtbot, Qt.Key_Return)  # the test phase's start screen
    wait_for_trial(qtbot, window)
    assert (trial.heading.text(), trial.counter.text()) == ("Test", "· image 1 of 12  ·  5 of 16 in all")
    assert [trial.slots.item(row).text() for row in range(trial.slots.count())] == ["1. —", "2. —", "3. —"]
    assert all(trial.slots.item(row).foreground().color() == QColor(Qt.gray) for row in range(3))
    assert trial.slots.height() > training_height
    gui_session.close(window)


def test_escape_in_the_flag_bar_cancels_the_edit_and_keeps_a_flag_given(qtbot, gui_session):
    window = open_first_trial(qtbot, gui_session, "F03")
    trial = window.trial
    press(qtbot, Qt.Key_F8)
    press(qtbot, Qt.Key_3)
    press(qtbot, Qt.Key_Return)  # flagged
    reason = trial._flag[0]
    assert reason and "[flagged" in trial.status.text()
    press(qtbot, Qt.Key_F8)  # again, to add a note, then thought better of it
    type_text(qtbot, "two objects")
    press(qtbot, Qt.Key_Escape)
    assert trial._flag == (reason, "") and "flag unchanged" in trial.status.text() and "[flagged" in trial.status.text()
    assert not trial.flag_bar.isVisible() and trial.flag_bar.note.text() == ""
    press(qtbot, Qt.Key_F8)
    press(qtbot, Qt.Key_Delete, Qt.ControlModifier)  # removes the flag
    assert trial._flag == (None, "") and "flag removed" in trial.status.text()
    gui_session.close(window)


def test_feedback_says_when_only_a_later_guess_was_right(qtbot):
    from study_app.gui.examples_pane import ExamplesPane
    from study_app.gui.image_loader import ImageLoader
    from study_app.gui.pages import FeedbackPage
    from study_app.session.controller import Feedback
    from tests.stats.builders import animals_and_vehicles

    labels = animals_and_vehicles()
    page = FeedbackPage(labels, ExamplesPane(labels, ImageLoader(1 << 20, 10_000_000), 0))
    qtbot.addWidget(page)
    page.show_feedback(Feedback(True, ("dog",), ("cat", "dog"), 1, 1), None)
    assert "Correct" in page.verdict.text() and "not your first guess" in page.verdict.text()
    page.show_feedback(Feedback(True, ("cat",), ("cat", "dog"), 2, 2), None)
    assert "not your first guess" not in page.verdict.text()
    page.show_feedback(Feedback(False, ("cat",), (), 2, 3, "none_of_these"), None)
    assert "Not correct" in page.verdict.text() and "none of these classes" in page.given.text()


def test_a_zoomed_image_moves_with_the_pan_keys_and_never_past_its_edges(qtbot):
    view = shown_view(qtbot)
    image = filled(400, 300, (200, 0, 0))
    for x in range(200, 400):  # the right half blue, the right-most column green
        for y in range(300):
            image.setPixelColor(x, y, QColor(0, 0, 200) if x < 399 else QColor(0, 200, 0))
    on_screen(qtbot, view, image)
    view.pan(1, 0)  # not zoomed: nothing to move
    assert view._image_rect().topLeft().x() == 0
    for _ in range(6):
        view.zoom_in()  # 1.25^6 = 3.8x
    for _ in range(20):  # far more than the image is wide: stops at its right edge
        view.pan(1, 0)
    qtbot.wait(50)
    shot = QApplication.primaryScreen().grabWindow(view.winId()).toImage()
    assert colour_at(shot, 200, 150) == (0, 0, 200) and colour_at(shot, 398, 150)[1] > 100  # the edge column shows
    assert view._image_rect().right() == view.width() - 1
    for _ in range(20):
        view.pan(-1, 0)
    qtbot.wait(50)
    shot = QApplication.primaryScreen().grabWindow(view.winId()).toImage()
    assert colour_at(shot, 200, 150) == (200, 0, 0) and view._image_rect().left() == 0
    view.zoom_fit()
    assert view._image_rect() == view.rect()


def test_a_closed_window_starts_no_more_image_jobs(qtbot, gui_session):
    """A pane's timer may still fire after the window closed; its loaders take no new work
    then (a job outliving its window would report to a deleted loader)."""
    window = gui_session.open("F05")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    gui_session.close(window)
    pane = window.trial.picker.examples
    pane.show_class("dog")  # what the late timer does
    assert pane.count() > 0  # the pane still lists the class's examples...
    assert all(window.thumbnails.get(pane.item(row).data(Qt.UserRole)) is None for row in range(pane.count()))
    assert window.thumbnails._pool.activeThreadCount() == 0  # ...but no job started for them
    record = next(iter(gui_session.study.images.values()))
    assert not window.images.request("late", record.path) and window.images._pool.activeThreadCount() == 0

"""Whole annotation sessions driven with the keyboard only, checked against the store."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel

from study_app.gui.pages import FeedbackPage, InstructionsPage, MessagePage
from study_app.gui.start_dialog import StartDialog
from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import answer_with, current_page, press, type_text, wait_for_trial

NAMES = {"cat": "house cat", "dog": "domestic dog", "car": "automobile", "bus": "coach"}


def truth_query(window) -> str:
    """What a perfect annotator would type for the image on screen: a synonym of its class."""
    trial = window.controller.current()
    return NAMES[window.study.truth(trial.image_id)[0]]


def test_full_session_quit_resume_finish(qtbot, gui_session):
    window = gui_session.open("A01")
    assert isinstance(current_page(window), InstructionsPage)
    press(qtbot, Qt.Key_Return)  # instructions
    assert isinstance(current_page(window), MessagePage) and "Training" in window.message.message.text()
    press(qtbot, Qt.Key_Return)  # training phase start
    verdicts = []
    for _ in range(4):  # training with feedback: right, wrong, right, right
        wrong = len(verdicts) == 1
        answer_with(
            qtbot,
            window,
            [
                "automobile"
                if wrong and truth_query(window) != "automobile"
                else "coach"
                if wrong
                else truth_query(window)
            ],
        )
        assert isinstance(current_page(window), FeedbackPage)
        verdicts.append("Not correct" not in window.feedback.verdict.text())
        assert "Training so far" in window.feedback.score.text()
        press(qtbot, Qt.Key_Return)
    assert verdicts == [True, False, True, True]
    assert "Test" in window.message.message.text()
    press(qtbot, Qt.Key_Return)  # test phase start
    for _ in range(4):  # k = 3: two guesses each, no feedback
        answer_with(qtbot, window, [truth_query(window), "dog" if truth_query(window) != "domestic dog" else "cat"])
    assert "Break" in window.message.message.text() and "correct" not in window.message.message.text()
    press(qtbot, Qt.Key_Return)
    answer_with(qtbot, window, [truth_query(window)])
    press(qtbot, Qt.Key_Q, Qt.ControlModifier)  # quit in the middle
    assert not window.isVisible()
    gui_session.store.close()

    window = gui_session.open("A01")  # resume
    assert window.controller.resumed and window.controller.position == 9
    assert "welcome back" in window.instructions.title.text()
    press(qtbot, Qt.Key_Return)
    while window.controller.position < 16:
        if current_page(window) is window.message and "Loading" in window.message.message.text():
            qtbot.wait(5)
        elif current_page(window) is window.message:
            press(qtbot, Qt.Key_Return)
            continue
        answer_with(qtbot, window, [truth_query(window)])
    assert "Finished" in window.message.message.text()
    assert "Training: 3 of 4 correct" in window.message.message.text()
    gui_session.close(window)

    with ResultsStore(gui_session.store_path, readonly=True) as store:
        frame = answers_frame(store)
        ended = store.conn.execute("SELECT ended_at FROM sessions").fetchall()
    assert ended[0][0] is not None
    trials = frame.drop_duplicates("trial_uuid")
    assert len(trials) == 16 and trials["annotator"].eq("A01").all()
    assert list(trials["phase"].value_counts().sort_index()) == [12, 4]
    assert (trials["rt_ms"] > 0).all()
    two_guess = frame[(frame["phase"] == "test") & (frame["rank"] == 2)]
    assert len(two_guess) == 4  # the four test answers before the break had two ranked guesses
    first_ranks = frame[frame["rank"] == 1]
    truth = {i: gui_session.study.truth(i)[0] for i in frame["image_id"]}
    correct_first = (first_ranks["label_id"] == first_ranks["image_id"].map(truth)).sum()
    assert correct_first == 15


def test_start_dialog_validates_and_offers_resume(qtbot, gui_session):
    store = ResultsStore(gui_session.store_path)
    dialog = StartDialog(gui_session.study, store)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.Ok)
    qtbot.keyClicks(dialog.id_field, "me@lab.org")
    assert not ok.isEnabled() and "pseudonym" in dialog.state.text()
    dialog.id_field.clear()
    qtbot.keyClicks(dialog.id_field, "B07")
    assert ok.isEnabled() and ok.text() == "Start"
    from study_app.session.controller import SessionController

    SessionController(gui_session.study, store, "B07")
    dialog.id_field.clear()
    qtbot.keyClicks(dialog.id_field, "B07")
    assert ok.text() == "Resume" and "0 answered" in dialog.state.text()
    qtbot.keyClick(dialog.id_field, Qt.Key_Return)
    assert dialog.result() == dialog.Accepted and dialog.annotator == "B07"
    store.close()


def test_start_dialog_offers_only_this_studys_session(qtbot, gui_session, tmp_path):
    """A store holding two studies: an open session of the other study is not offered for resuming."""
    from study_app.protocol.study import load_study
    from study_app.session.controller import SessionController
    from tests.factory import make_study

    other = load_study(make_study(tmp_path / "other", name="other"))
    with ResultsStore(gui_session.store_path) as store:
        SessionController(other, store, "B09")
        dialog = StartDialog(gui_session.study, store)
        qtbot.addWidget(dialog)
        qtbot.keyClicks(dialog.id_field, "B09")
        assert dialog.buttons.button(dialog.buttons.Ok).text() == "Start" and "new session" in dialog.state.text()
        qtbot.keyClick(dialog.id_field, Qt.Key_Return)
        assert dialog.result() == dialog.Accepted
        assert not SessionController(gui_session.study, store, dialog.annotator).resumed


def test_flag_not_sure_and_events(qtbot, gui_session):
    window = gui_session.open("A02")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    type_text(qtbot, "veh")  # searched, not chosen
    press(qtbot, Qt.Key_F8)
    press(qtbot, Qt.Key_3)  # ambiguous
    type_text(qtbot, "blurry")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_F5)  # not sure: no undo with feedback, so asked once
    press(qtbot, Qt.Key_F5)
    assert isinstance(current_page(window), FeedbackPage)
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        frame = answers_frame(store)
        events = store.conn.execute("SELECT kind, detail FROM events WHERE trial_index = 0 ORDER BY t_ms").fetchall()
    row = frame.iloc[0]
    assert (row["outcome"], row["flags"], row["flag_note"], row["label_id"]) == ("not_sure", "ambiguous", "blurry", "")
    kinds = [k for k, _ in events]
    assert "search" in kinds and "flag" in kinds
    assert any('"query": "veh"' in d for k, d in events if k == "search")


def test_no_file_names_on_screen(qtbot, imagenet_session):
    window = imagenet_session.open("A03")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    visible = " ".join(label.text() for label in window.findChildren(QLabel)) + window.windowTitle()
    assert "photo-" not in visible and ".jpg" not in visible and "images/" not in visible
    assert window.trial.view.toolTip() == ""
    imagenet_session.close(window)


def test_pause_hides_the_image_and_restarts_the_trial(qtbot, gui_session):
    window = gui_session.open("A04")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    first = window.controller.current()
    press(qtbot, Qt.Key_F9)
    assert current_page(window) is window.message and "Paused" in window.message.message.text()
    qtbot.wait(30)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    assert window.controller.current() == first and window.trial.elapsed_ms() < 1000
    type_text(qtbot, "coach")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        kinds = [k for (k,) in store.conn.execute("SELECT kind FROM events ORDER BY at")]
    assert "pause" in kinds and "resume" in kinds and "instructions_read" in kinds


def test_focus_loss_is_logged_and_flags_the_trial(qtbot, gui_session):
    from PyQt5.QtWidgets import QWidget

    window = gui_session.open("A05")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    elsewhere = QWidget()
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    elsewhere.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=3000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    answer_with(qtbot, window, ["coach"])
    press(qtbot, Qt.Key_Return)  # feedback
    answer_with(qtbot, window, ["coach"])
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        kinds = store.conn.execute("SELECT kind FROM events WHERE phase = 'training' AND trial_index = 0").fetchall()
        frame = answers_frame(store).drop_duplicates("trial_uuid").set_index("trial")
    assert ("focus_lost",) in kinds and ("focus_gained",) in kinds
    assert frame.loc[0, "interrupted"] and not frame.loc[1, "interrupted"]


def test_start_dialog_for_an_annotator_who_finished_says_so_and_waits_for_another_id(qtbot, gui_session):
    from study_app.errors import StoreError
    from study_app.protocol.responses import Response, utc_now
    from study_app.session.controller import SessionController

    store = ResultsStore(gui_session.store_path)
    done = SessionController(gui_session.study, store, "B08")
    while not done.complete:
        now = utc_now()
        done.submit(Response((), 100.0, now, now, outcome="not_sure"))
    done.finish()
    dialog = StartDialog(gui_session.study, store)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.Ok)
    qtbot.keyClicks(dialog.id_field, "B08")
    qtbot.keyClick(dialog.id_field, Qt.Key_Return)
    assert dialog.result() == dialog.Accepted and dialog.annotator == "B08"
    try:  # what the app does with the id (gui.app._ask_for_session), then shows the dialog again
        SessionController(gui_session.study, store, dialog.annotator)
    except StoreError as exc:
        dialog.show_error(str(exc))
    dialog.setResult(0)
    text = dialog.state.text()
    assert "already finished this study (on 20" in text and " UTC)" in text and "T" not in text.split("(on ")[1][:16]
    assert "another annotator id" in text and not ok.isEnabled()  # Start would only fail again
    qtbot.keyClick(dialog.id_field, Qt.Key_Return)  # nor does Enter try again
    assert not ok.isEnabled() and dialog.result() != dialog.Accepted and "already finished" in dialog.state.text()
    qtbot.keyClicks(dialog.id_field, "9")
    assert ok.isEnabled() and ok.text() == "Start"
    qtbot.keyClick(dialog.id_field, Qt.Key_Backspace)  # back to the refused id: refused again, with the reason
    assert not ok.isEnabled() and "already finished" in dialog.state.text()
    dialog.id_field.insert("é")  # QTest cannot type it: as an input method would
    assert not ok.isEnabled() and "no accents" in dialog.state.text()
    store.close()

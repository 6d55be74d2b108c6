"""Issue #22, item 3 in the window: a deadline keeps the chosen guesses, says "Time's up" for a
moment, and its countdown is large and turns red in its last 5 s; also through the GUI pilot."""

from __future__ import annotations

from functools import partial

from PyQt5.QtCore import Qt

from study_app.gui.main_window import TIMES_UP_MS
from study_app.gui.pilot_driver import drive_window
from study_app.gui.trial_page import COUNTDOWN_STYLE, COUNTDOWN_URGENT_STYLE
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import Session
from tests.gui.keys import current_page, press, type_text, wait_for_trial
from tests.gui.test_modes_gui import skip_training, with_test_phase


def test_deadline_keeps_the_guesses_says_times_up_and_shows_a_red_countdown(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, "answers = 3\ntime_limit_s = 5.6\n")
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("D01")
    skip_training(qtbot, window)
    wait_for_trial(qtbot, window)
    countdown = window.trial.countdown
    assert countdown.styleSheet() == COUNTDOWN_STYLE and "font-size: 20px" in COUNTDOWN_STYLE
    assert countdown.sizeHint().height() > window.trial.counter.sizeHint().height()  # larger than the heading
    for query in ("cat", "dog"):
        type_text(qtbot, query)
        press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == ("cat", "dog")
    qtbot.waitUntil(lambda: countdown.styleSheet() == COUNTDOWN_URGENT_STYLE, timeout=3000)  # 5 s left
    assert "#b42318" in COUNTDOWN_URGENT_STYLE and float(countdown.text().split()[2]) <= 5.0
    qtbot.waitUntil(lambda: current_page(window) is window.message, timeout=10_000)
    assert window.controller.position == 5
    text = window.message.message.text()
    assert "Time&#x27;s up" in text or "Time's up" in text
    assert "kept (it is not scored): cat, dog" in text
    qtbot.keyClick(window.message, Qt.Key_Return)  # at once, inside the key guard: ignored
    assert current_page(window) is window.message
    qtbot.waitUntil(lambda: current_page(window) is window.trial, timeout=TIMES_UP_MS + 3000)  # goes on by itself
    assert window.trial.countdown.styleSheet() == COUNTDOWN_STYLE  # the next trial starts calm
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    timed_out = frame[(frame["phase"] == "test") & (frame["trial"] == 0)].sort_values("rank")
    assert list(timed_out["label_id"]) == ["cat", "dog"] and set(timed_out["outcome"]) == {"timeout"}
    assert 5500 <= timed_out["rt_ms"].iloc[0] < 9000


def test_a_training_deadline_shows_the_kept_guess_on_the_feedback_screen(qtbot, tiny_study, tmp_path):
    toml = tiny_study / "study.toml"
    toml.write_text(
        toml.read_text().replace(
            "feedback = true\nanswers = 1\n",
            "feedback = true\nanswers = 1\ntime_limit_s = 1.2\nscore_timeout_guesses = true\n",
        )
    )
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("D02")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    truth = window.study.labels[window.study.truth(window.controller.current().image_id)[0]].name
    type_text(qtbot, truth)
    press(qtbot, Qt.Key_Return)
    qtbot.waitUntil(lambda: current_page(window) is window.feedback, timeout=10_000)
    assert "Time's up" in window.feedback.verdict.text() and "Correct" in window.feedback.verdict.text()
    assert "Your answer:" in window.feedback.given.text() and truth in window.feedback.given.text()
    assert "1 of 1 correct" in window.feedback.score.text()  # scored, as this phase says
    session.close(window)


def test_the_gui_pilot_runs_out_of_time_and_its_guesses_are_kept(qtbot, tiny_study, tmp_path):
    """simulate --gui with a participant slower than the deadline: its guesses, spread over its
    response time, are typed before the deadline; the driver checks each timeout kept them."""
    with_test_phase(tiny_study, "answers = 3\ntime_limit_s = 0.5\n")
    study = load_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    summary = run_pilot(
        study, 1, store_path, accuracy=1.0, rt_ms=(800.0, 1.0), seed=2, drive=partial(drive_window, key_ms=4)
    )
    assert summary.trials == 16 and summary.correct["test"] == (0, 12)  # every test trial ran out: not scored
    with ResultsStore(store_path, readonly=True) as store:
        frame = answers_frame(store)
    test = frame[frame["phase"] == "test"]
    assert set(test["outcome"]) == {"timeout"}
    kept = test.groupby("trial")["label_id"].apply(lambda labels: sum(1 for label in labels if label))
    assert (kept >= 1).all()  # the guesses chosen at 200 and 400 ms of 800 came before the 500 ms deadline

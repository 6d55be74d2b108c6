"""Issue #22, item 1: a fast key never dismisses a screen unseen, nor answers an unseen image.

Break, phase-start, feedback (and instructions and end) screens ignore their keys for the
study's ``key_guard_ms`` after they are painted; a trial's answer is refused until its
image is painted. Keys are sent 0 to 250 ms after each screen's first paint (and once
before it), and the real SQLite store is read afterwards.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from PyQt5.QtCore import Qt

from study_app.gui.pages import ContinuePage
from study_app.gui.pilot_driver import drive_window
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import Session
from tests.gui.keys import current_page, press, wait_for_trial
from tests.gui.test_modes_gui import skip_training, with_test_phase

#: When, after a screen's first paint, Return is sent (the issue saw a break dismissed at 40 ms).
EARLY_MS = (0, 40, 100, 150, 200, 250)


def hammer(qtbot, window) -> int:
    """Return once before the current screen is painted and at each of EARLY_MS after it; asserts
    that none of them moves on. Returns how many presses fell inside the guard (a starved CPU may
    overshoot a time: a press past the guard is not sent, as it would rightly move on)."""
    page = current_page(window)
    assert isinstance(page, ContinuePage)
    showing, position = page.showings, window.controller.position
    inside = 0
    if page.shown_for_ms() is None:
        qtbot.keyClick(page, Qt.Key_Return)
        inside += 1
    qtbot.waitUntil(lambda: page.shown_for_ms() is not None, timeout=5000)
    for at in EARLY_MS:
        qtbot.waitUntil(lambda at=at: page.shown_for_ms() >= at, timeout=5000)
        if page.shown_for_ms() < page.key_guard_ms:
            qtbot.keyClick(page, Qt.Key_Return)
            inside += 1
        assert current_page(window) is page and page.showings == showing, f"moved on by a key at {at} ms"
        assert window.controller.position == position
    return inside


def test_early_keys_on_every_screen_between_trials_move_nothing(qtbot, gui_session):
    window = gui_session.open("G01")
    assert window.study.key_guard_ms == 300  # the default
    screens = presses = 0
    while True:
        page = current_page(window)
        if page is window.trial:
            wait_for_trial(qtbot, window)
            press(qtbot, Qt.Key_F5)  # not sure: an answer the moment the image is up
            continue
        presses += hammer(qtbot, window)
        screens += 1
        if page is window.message and "Finished" in window.message.message.text():
            break
        press(qtbot, Qt.Key_Return)  # once read (the helper waits for the guard): it moves on
    # instructions, training start, 4 feedback screens, test start, 2 breaks, the end
    assert screens == 10 and presses >= 5 * screens
    gui_session.close(window)
    with ResultsStore(gui_session.store_path, readonly=True) as store:
        frame = answers_frame(store)
        breaks = store.conn.execute(
            "SELECT kind, t_ms FROM events WHERE kind IN ('break_start', 'break_end') ORDER BY rowid"
        ).fetchall()
    trials = frame.drop_duplicates("trial_uuid")
    assert len(trials) == 16 and (trials["outcome"] == "not_sure").all()  # none added, none lost
    assert list(trials.sort_values(["phase", "trial"])["trial"]) == [*range(12), *range(4)]
    for shown, answered in zip(trials["shown_at"], trials["answered_at"], strict=True):
        assert shown and datetime.fromisoformat(shown) <= datetime.fromisoformat(answered)
    assert [kind for kind, _ in breaks] == ["break_start", "break_end"] * 2
    assert all(end - start >= 300 for (_, start), (_, end) in zip(breaks[::2], breaks[1::2]))


def test_no_answer_before_the_image_is_painted(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, "answers = 1\n[phases.presentation]\nfixation_ms = 400\nimage_ms = 100\nmask_ms = 50\n")
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("G02")
    skip_training(qtbot, window)
    qtbot.waitUntil(lambda: window.trial.view.mode == "fixation", timeout=20_000)
    for key in (Qt.Key_F5, Qt.Key_F6):  # not sure / none of these during the fixation cross
        qtbot.keyClick(window, key)  # nothing has the focus while the picker is off: the window takes it
        assert window.controller.position == 4 and current_page(window) is window.trial
    qtbot.waitUntil(lambda: window.trial.picker.isEnabled(), timeout=5000)  # image and mask shown
    qtbot.keyClick(window, Qt.Key_F5)  # now it is an answer to a shown image, asked for twice (no undo here)
    assert window.controller.position == 4 and "Press F5 again" in window.trial.status.text()
    qtbot.keyClick(window, Qt.Key_F5)
    assert window.controller.position == 5
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    test = frame[frame["phase"] == "test"]
    assert len(test) == 1 and test.iloc[0]["shown_at"] and test.iloc[0]["presented_ms"] >= 90


def test_a_study_sets_the_guard_and_zero_turns_it_off(qtbot, tiny_study, tmp_path):
    toml = tiny_study / "study.toml"
    toml.write_text(
        toml.read_text().replace(
            'instructions = "instructions.md"\n', 'instructions = "instructions.md"\nkey_guard_ms = 0\n'
        )
    )
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("G03")
    assert window.instructions.key_guard_ms == window.message.key_guard_ms == window.feedback.key_guard_ms == 0
    qtbot.waitUntil(lambda: window.instructions.shown_for_ms() is not None, timeout=5000)
    qtbot.keyClick(window.instructions, Qt.Key_Return)  # at once: no guard
    assert current_page(window) is window.message
    session.close(window)


def test_the_gui_pilot_presses_early_on_every_screen_and_does_not_get_ahead(qtbot, tiny_study, tmp_path):
    """simulate --gui: the scripted participant presses Enter within each screen's guard and the
    not-sure key during a fixation cross; the run fails if either moves on (pilot_driver.py)."""
    with_test_phase(tiny_study, "answers = 1\n[phases.presentation]\nfixation_ms = 150\nimage_ms = 50\nmask_ms = 50\n")
    study = load_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    summary = run_pilot(
        study, 1, store_path, accuracy=1.0, rt_ms=(30.0, 1.0), seed=3, drive=partial(drive_window, key_ms=4)
    )
    assert summary.trials == 16 and summary.correct == {"training": (4, 4), "test": (12, 12)}
    with ResultsStore(store_path, readonly=True) as store:
        trials = answers_frame(store).drop_duplicates("trial_uuid")
    assert (trials["outcome"] == "answer").all() and trials["shown_at"].astype(bool).all()

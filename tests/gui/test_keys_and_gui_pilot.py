"""The annotator's own keys file, and the GUI pilot typing into the real window."""

from __future__ import annotations

from functools import partial

import pytest
from PyQt5.QtCore import Qt

from study_app.errors import ProtocolError
from study_app.gui.main_window import AnnotationWindow
from study_app.gui.pilot_driver import drive_window
from study_app.protocol.keys import combine_keys, read_user_keys
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame
from tests.gui.keys import press, wait_for_trial


def test_keys_file_problems_name_file_and_line(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('flag = "F11"\nsubmitt = "F12"\nnot_sure = "x"\n', encoding="utf-8")
    with pytest.raises(ProtocolError) as error:
        read_user_keys(path)
    text = str(error.value)
    assert f"{path}:2 [submitt]: unknown command 'submitt'; did you mean 'submit'?" in text
    assert f"{path}:3 [not_sure]" in text and "would type into the search box" in text
    assert read_user_keys(tmp_path / "absent.toml") == {}


def test_user_key_clashing_with_the_study_is_refused():
    with pytest.raises(ProtocolError, match="F12 is bound to both 'submit' and 'flag'"):
        combine_keys({"submit": "F12"}, {"flag": "F12"}, "keys.toml")
    keys, sources = combine_keys({"submit": "F12"}, {"submit": "F11", "flag": "Ctrl+Shift+G"})
    assert keys["submit"] == "F12" and keys["flag"] == "Ctrl+Shift+G"  # the study's binding wins
    assert sources == {"submit": "this study", "flag": "your keys file"}


def test_user_binding_works_in_the_window_and_help_names_its_source(qtbot, gui_session, tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('flag = "F11"\n', encoding="utf-8")
    gui_session.store = ResultsStore(gui_session.store_path)
    controller = SessionController(gui_session.study, gui_session.store, "K01")
    window = AnnotationWindow(controller, gui_session.settings, user_keys=read_user_keys(path))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    press(qtbot, Qt.Key_F8)  # the default no longer flags
    assert not window.trial.flag_bar.isVisible()
    press(qtbot, Qt.Key_F11)
    assert window.trial.flag_bar.isVisible()
    assert window.trial.flag_button.text() == "Flag image (F11)"
    assert "F11</b> <i>(set by your keys file)</i>" in window.help.text.text()
    gui_session.close(window)


def test_simulate_gui_types_a_whole_session_into_the_window(qtbot, tiny_study, tmp_path):
    study = load_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    summary = run_pilot(
        study, 1, store_path, accuracy=1.0, rt_ms=(30.0, 1.0), seed=5, drive=partial(drive_window, key_ms=4)
    )
    assert summary.trials == 16 and summary.correct == {"training": (4, 4), "test": (12, 12)}
    with ResultsStore(store_path, readonly=True) as store:
        answers = answers_frame(store)
        ended = store.conn.execute("SELECT ended_at IS NOT NULL, pilot FROM sessions").fetchall()
        events = {kind for (kind,) in store.conn.execute("SELECT DISTINCT kind FROM events")}
    assert ended == [(1, 1)]
    assert answers["trial_uuid"].nunique() == 16
    assert {"instructions_read", "search", "add_label", "break_start", "break_end"} <= events  # typed, not injected


@pytest.mark.parametrize("after_pause", [None, "respond", "repeat"])
def test_simulate_gui_pauses_and_takes_answers_back_without_losing_a_chosen_class(
    qtbot, tiny_study, tmp_path, after_pause
):
    """``simulate --gui --interruptions 1``: F9 on every trial and Ctrl+Z wherever undo is allowed,
    then Esc or Ctrl+Return; the driver stops the pilot if a chosen class is not back after any."""
    if after_pause:  # the test phase timed: no undo there, and a pause must not show the image again unasked
        toml = (tiny_study / "study.toml").read_text()
        timing = "[phases.presentation]\nfixation_ms = 50\nimage_ms = 60\nmask_ms = 50\n"
        timing += f'after_pause = "{after_pause}"\n'
        (tiny_study / "study.toml").write_text(toml.replace("break_every = 4\n", f"break_every = 4\n{timing}"))
    study = load_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    summary = run_pilot(
        study,
        1,
        store_path,
        accuracy=1.0,
        rt_ms=(30.0, 1.0),
        seed=5,
        drive=partial(drive_window, key_ms=4),
        interruptions=1.0,
    )
    assert summary.correct == {"training": (4, 4), "test": (12, 12)}  # every revision resubmitted unchanged
    with ResultsStore(store_path, readonly=True) as store:
        answers = answers_frame(store).drop_duplicates("trial_uuid")
        (revised,) = store.conn.execute("SELECT COUNT(*) FROM trials WHERE supersedes IS NOT NULL").fetchone()
        kinds = [kind for (kind,) in store.conn.execute("SELECT kind FROM events")]
    assert len(answers) == 16 and answers["paused"].all() and kinds.count("pause") == 16
    undone = 0 if after_pause else 9  # test trials 2-4, 6-8, 10-12: not the first of the part or after a break
    assert kinds.count("undo") == undone == kinds.count("revision_cancelled") + revised
    exposures = answers.set_index("phase")["exposures"]
    assert (exposures["training"] == 1).all()
    assert (exposures["test"] == (2 if after_pause == "repeat" else 1)).all()

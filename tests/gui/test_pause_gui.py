"""A pause in a timed phase never shows the image a second time unasked, and the export says
how often it was shown (issue #22 item 2)."""

from __future__ import annotations

import json

import pytest
from PyQt5.QtCore import Qt

from study_app.errors import ProtocolError
from study_app.protocol.study import load_study
from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import Session
from tests.gui.keys import current_page, press, type_text, watch_timed_presentation
from tests.gui.test_modes_gui import skip_training, with_test_phase

TIMED = "answers = 1\n[phases.presentation]\nfixation_ms = 100\nimage_ms = 150\nmask_ms = 100\n"


def painted_modes(window) -> list[str]:
    """Every screen the trial's view paints from now on (fixation, image, mask, blank)."""
    modes: list[str] = []
    window.trial.view.painted.connect(lambda mode, _when: modes.append(mode))
    return modes


def pause_after_choosing(qtbot, window) -> tuple[str, list[str]]:
    """Watch the first test trial, choose 'cat', pause (F9) and continue: what the pause screen
    said, and the screens painted after it."""
    skip_training(qtbot, window)
    watch_timed_presentation(qtbot, window)
    type_text(qtbot, "cat")
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == ("cat",)
    press(qtbot, Qt.Key_F9)
    said = window.message.message.text()
    assert current_page(window) is window.message and "Paused" in said
    after = painted_modes(window)
    qtbot.wait(350)  # a person reads the pause screen (and message pages may ignore keys at first)
    press(qtbot, Qt.Key_Return)
    return said, after


def stored_test_trial(path):
    with ResultsStore(path, readonly=True) as store:
        row = answers_frame(store).query("phase == 'test' and trial == 0").iloc[0]
        pause = store.conn.execute("SELECT detail FROM events WHERE kind = 'pause'").fetchone()
        exposures = store.conn.execute("SELECT detail FROM events WHERE kind = 'exposure'").fetchall()
    return row, json.loads(pause[0]), [json.loads(detail) for (detail,) in exposures]


def test_a_pause_after_the_mask_resumes_at_the_response_screen_without_a_second_exposure(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, TIMED)
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("P01")
    said, after = pause_after_choosing(qtbot, window)
    assert "you answer without seeing the image again" in said and "classes you had chosen are kept" in said
    qtbot.waitUntil(lambda: current_page(window) is window.trial and window.trial.picker.isEnabled())
    qtbot.wait(400)  # longer than a fixation, an image and a mask: none of them may come
    assert "image" not in after and "fixation" not in after and window.trial.view.mode == "blank"
    assert window.trial.slots.labels == ("cat",)  # the chosen class is kept
    assert "the image is not shown again" in window.trial.status.text()
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.controller.position == 5)
    session.close(window)

    row, pause, exposures = stored_test_trial(tmp_path / "r.sqlite")
    assert (row["label_id"], bool(row["paused"]), int(row["exposures"])) == ("cat", True, 1)
    assert 140 <= row["presented_ms"] < 1000 and row["rt_ms"] >= row["presented_ms"]
    assert pause["seen"] is True and pause["then"] == "respond" and exposures == []


def test_a_study_may_repeat_the_exposure_after_a_pause_and_the_export_counts_both(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, TIMED + 'after_pause = "repeat"\n')
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("P02")
    said, after = pause_after_choosing(qtbot, window)
    assert "the image is shown once more" in said
    qtbot.waitUntil(lambda: current_page(window) is window.trial and window.trial.picker.isEnabled(), timeout=5000)
    assert after.count("image") == 1 and after.index("fixation") < after.index("image") < after.index("mask")
    assert window.trial.slots.labels == ("cat",)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.controller.position == 5)
    session.close(window)

    row, pause, exposures = stored_test_trial(tmp_path / "r.sqlite")
    assert (row["label_id"], bool(row["paused"]), int(row["exposures"])) == ("cat", True, 2)
    assert pause["then"] == "repeat" and exposures == [{"number": 2}]
    assert 140 <= row["presented_ms"] < 1000  # the exposure answered after
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        others = answers_frame(store).query("not (phase == 'test' and trial == 0)")
    assert not others["paused"].any() and (others["exposures"] == 1).all()


def test_after_pause_is_checked_like_every_other_field(tiny_study):
    with_test_phase(tiny_study, TIMED + 'after_pause = "again"\n')
    with pytest.raises(ProtocolError, match="after_pause must be one of respond, repeat, not 'again'"):
        load_study(tiny_study)

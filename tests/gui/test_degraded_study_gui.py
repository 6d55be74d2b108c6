"""A study made by ``new-study degrade`` in the real window: 200 ms presentation and mask, conditions stored."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import Qt

from study_app.authoring.degraded import write_degraded_study
from study_app.protocol.study import BUNDLED_PROTOCOLS
from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import Session
from tests.gui.keys import press, type_text, wait_for_trial, watch_timed_presentation


@pytest.fixture(scope="module")
def noise_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("degraded") / "noise"
    folder, _ = write_degraded_study(
        BUNDLED_PROTOCOLS / "demo-imagenet", "uniform_noise", [0, 0.1, 0.35, 0.6], 1, out, presentation_ms=200
    )
    return folder


def test_a_degraded_study_runs_with_timed_presentation_and_stores_each_condition(qtbot, noise_study, tmp_path):
    session = Session(qtbot, noise_study, tmp_path / "r.sqlite")
    window = session.open("N01")
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training starts
    for _ in range(5):  # training: untimed, with feedback
        wait_for_trial(qtbot, window)
        press(qtbot, Qt.Key_F5)
        press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
        press(qtbot, Qt.Key_Return)  # feedback
    press(qtbot, Qt.Key_Return)  # test phase starts
    view = window.trial.view
    for _ in range(3):
        watch_timed_presentation(qtbot, window, step_ms=3000)
        type_text(qtbot, "goldfish")
        press(qtbot, Qt.Key_Return)
        press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    qtbot.waitUntil(lambda: view.mode == "fixation", timeout=20_000)  # the third answer is stored
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    tests = frame[frame["phase"] == "test"].drop_duplicates("trial_uuid")
    assert len(tests) == 3
    assert (tests["condition"] == tests["image_id"].str.split("@").str[1]).all()
    assert set(tests["condition"]) <= {"0", "0.1", "0.35", "0.6"}
    assert tests["presented_ms"].between(190, 1000).all()  # measured on-screen time of a 200 ms exposure
    training = frame[frame["phase"] == "training"]
    assert set(training["condition"]) == {"0"} and training["presented_ms"].isna().all()

"""Psychophysics timing and multi-label answers in the real window."""

from __future__ import annotations

from PyQt5.QtCore import Qt

from study_app.store import ResultsStore, answers_frame
from tests.gui.conftest import Session
from tests.gui.keys import press, type_text, wait_for_trial, watch_timed_presentation


def with_test_phase(study_dir, extra: str) -> None:
    toml = (study_dir / "study.toml").read_text()
    toml = toml.replace("answers = 3\nbreak_every = 4\n", f"break_every = 4\n{extra}")
    (study_dir / "study.toml").write_text(toml)


def skip_training(qtbot, window) -> None:
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    for _ in range(4):
        wait_for_trial(qtbot, window)
        press(qtbot, Qt.Key_F5)
        press(qtbot, Qt.Key_F5)  # no undo in training: the second press answers
        press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)  # test phase start


def test_timed_presentation_with_mask(qtbot, tiny_study, tmp_path):
    with_test_phase(
        tiny_study, "answers = 1\n[phases.presentation]\nfixation_ms = 100\nimage_ms = 150\nmask_ms = 100\n"
    )
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("T01")
    skip_training(qtbot, window)
    watch_timed_presentation(qtbot, window)
    type_text(qtbot, "cat")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    test_row = frame[frame["phase"] == "test"].iloc[0]
    assert 140 <= test_row["presented_ms"] < 1000  # measured on-screen time of a 150 ms exposure (never short)
    assert test_row["rt_ms"] >= test_row["presented_ms"]


def test_multi_label_selection(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, 'answers = 2\nmode = "multi-label"\n')
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("T02")
    skip_training(qtbot, window)
    wait_for_trial(qtbot, window)
    assert "select up to 2" in window.trial.answer_title.text()
    for query in ("cat", "dog", "bus"):
        type_text(qtbot, query)
        press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == ("cat", "dog")
    assert "full" in window.trial.status.text()
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    assert sorted(frame[frame["phase"] == "test"]["label_id"]) == ["cat", "dog"]


def test_response_deadline_stores_a_timeout(qtbot, tiny_study, tmp_path):
    with_test_phase(tiny_study, "answers = 1\ntime_limit_s = 1.5\n")
    session = Session(qtbot, tiny_study, tmp_path / "r.sqlite")
    window = session.open("T03")
    skip_training(qtbot, window)
    wait_for_trial(qtbot, window)
    assert "time left" in window.trial.countdown.text()
    type_text(qtbot, "cat")
    press(qtbot, Qt.Key_Return)  # chosen but never submitted
    qtbot.waitUntil(lambda: window.controller.position == 5, timeout=20_000)
    session.close(window)
    with ResultsStore(tmp_path / "r.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    row = frame[frame["phase"] == "test"].iloc[0]
    assert row["outcome"] == "timeout" and row["label_id"] == "cat" and 1480 <= row["rt_ms"] < 5000  # kept (#22)

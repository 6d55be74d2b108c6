"""The rules of undo, on the session controller that the window and scripted runs share."""

from __future__ import annotations

import pytest

from study_app.errors import ProtocolError
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from tests.factory import STUDY_TOML


def answer(controller: SessionController, outcome: str = "answer") -> None:
    now = utc_now()
    labels = ("cat",) if outcome == "answer" else ()
    controller.submit(Response(labels, 900.0, now, now, outcome=outcome))


def test_undo_only_within_the_phase_and_never_after_a_timeout_or_the_end(tmp_path, tiny_study):
    study = load_study(tiny_study)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "R1")
        for _ in range(4):  # training has feedback: never undoable
            answer(controller)
            assert not controller.can_undo()
        answer(controller)  # first test trial
        assert controller.can_undo()
        controller.undo()
        assert controller.revising and controller.current().index == 0 and controller.position == 4
        with pytest.raises(RuntimeError):
            controller.undo()  # one step back only
        answer(controller, "not_sure")
        assert controller.can_undo()  # the revision itself may be taken back
        answer(controller, "timeout")
        assert not controller.can_undo()  # a deadline is final
        answer(controller)
        answer(controller)  # ends the block of 4: a break is due
        assert controller.break_due() and not controller.can_undo()
        while controller.position < controller.total - 1:
            answer(controller)
        answer(controller)  # the last trial: the session can end
        assert controller.complete and not controller.can_undo()
        controller.finish()
        rows = store.conn.execute("SELECT COUNT(*), COUNT(supersedes) FROM trials").fetchone()
    assert rows == (len(controller.session.trials) + 1, 1)


def test_protocol_switches_undo_off_and_refuses_it_with_feedback(tmp_path, tiny_study):
    toml = STUDY_TOML.replace("answers = 3\nbreak_every = 4", "answers = 3\nbreak_every = 4\nundo = false")
    (tiny_study / "study.toml").write_text(toml, encoding="utf-8")
    study = load_study(tiny_study)
    assert not study.phase("test").undo
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "R2")
        for _ in range(5):
            answer(controller)
        assert not controller.can_undo()

    (tiny_study / "study.toml").write_text(
        STUDY_TOML.replace("feedback = true", "feedback = true\nundo = true"), encoding="utf-8"
    )
    with pytest.raises(ProtocolError, match=r"study.toml:\d+ \[phases.0.undo\]: undo cannot be on in phase 'training'"):
        load_study(tiny_study)

"""A resumed session knows its earlier sittings' time from what they stored (issue #22 item 13)."""

from __future__ import annotations

from study_app.protocol.responses import Event, Response
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore


def at(clock: str) -> str:
    return f"2026-12-07T{clock}.000+00:00"


def answer(controller: SessionController, shown: str, answered: str) -> None:
    truth = controller.study.truth(controller.current().image_id)[0]
    controller.submit(Response((truth,), 1000.0, at(shown), at(answered)))


def test_a_quit_sitting_counts_to_its_quit_and_a_killed_one_to_its_last_answer(tmp_path, tiny_study):
    study = load_study(tiny_study)
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as store:
        first = SessionController(study, store, "A01")
        assert first.session.earlier_sittings == ()  # a new session has none
        # opened at 10:00:00 (the instructions read 5 s later), one answer, quit at 10:04:00
        first.log([Event("instructions_read", 5_000.0, at=at("10:00:05"))])
        answer(first, "10:02:00", "10:03:00")
        first.log([Event("quit", 240_000.0, {"position": 1}, at=at("10:04:00"))])
    with ResultsStore(path) as store:
        second = SessionController(study, store, "A01")
        assert second.resumed and second.session.earlier_sittings == (240_000.0,)
        # opened at 11:00:00, answers until 11:02:00, then killed: no quit event
        second.log([Event("instructions_read", 10_000.0, at=at("11:00:10"))])
        answer(second, "11:01:00", "11:01:30")
        answer(second, "11:01:40", "11:02:00")
    with ResultsStore(path) as store:
        third = SessionController(study, store, "A01")
        assert third.session.earlier_sittings == (240_000.0, 120_000.0)  # not the hour between them
        assert third.position == 3

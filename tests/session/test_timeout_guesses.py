"""Issue #22, items 1 and 3 in the session core: a timeout keeps the guesses chosen before
the deadline (scored only where the phase says ``score_timeout_guesses``), and an answer to
an image never shown is refused. Real SQLite stores, the real export and rater table."""

from __future__ import annotations

import random

import numpy as np
import pytest

from study_app.errors import ProtocolError
from study_app.protocol.correctness import guesses_count
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import ScriptedParticipant, run_pilot
from study_app.stats.raters import raters_from_answers
from study_app.store import ResultsStore, answers_frame
from study_app.store.export import export_answers, import_answers
from study_app.store.integrity import check_store


def timed(study_dir, training: str = "", test: str = "") -> None:
    """Deadlines in both phases of the tiny study, with extra keys per phase."""
    toml = study_dir / "study.toml"
    text = toml.read_text()
    text = text.replace("feedback = true\nanswers = 1\n", f"feedback = true\nanswers = 1\ntime_limit_s = 5\n{training}")
    text = text.replace("answers = 3\nbreak_every = 4\n", f"answers = 3\nbreak_every = 4\ntime_limit_s = 5\n{test}")
    toml.write_text(text)


def timeout(labels: tuple[str, ...]) -> Response:
    now = utc_now()
    return Response(labels, 5000.0, now, now, outcome="timeout")


def test_a_timeout_keeps_its_guesses_and_scores_them_as_the_phase_says(tmp_path, tiny_study):
    timed(tiny_study, training="score_timeout_guesses = true\n")
    study = load_study(tiny_study)
    assert study.phase("training").score_timeout_guesses and not study.phase("test").score_timeout_guesses
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "T1")
        for _ in range(4):  # training: the right class chosen, then the deadline
            truth = study.truth(controller.current().image_id)
            feedback = controller.submit(timeout((truth[0],)))
            assert feedback.correct and feedback.scored and feedback.given == (truth[0],)
        truth = study.truth(controller.current().image_id)
        wrong = next(label.label_id for label in study.labels if label.label_id not in truth)
        assert controller.submit(timeout((wrong, truth[0]))) is None  # test: kept, not scored
        controller.submit(timeout(()))
        assert controller.phase_accuracy("training") == (4, 4) and controller.phase_accuracy("test") == (0, 2)
    with ResultsStore(tmp_path / "r.sqlite") as store:  # resumed: the same scores from what is stored
        resumed = SessionController(study, store, "T1")
        assert resumed.phase_accuracy("training") == (4, 4) and resumed.phase_accuracy("test") == (0, 2)
        frame = answers_frame(store)
    kept = frame[(frame["phase"] == "test") & (frame["trial"] == 0)].sort_values("rank")
    assert list(kept["label_id"]) == [wrong, truth[0]] and set(kept["outcome"]) == {"timeout"}
    assert check_store(tmp_path / "r.sqlite").ok  # a timeout with labels is no longer an inconsistency

    # The export carries the guesses; an import of it gives them back unchanged.
    exported = export_answers(ResultsStore(tmp_path / "r.sqlite", readonly=True), tmp_path / "answers.csv")
    with ResultsStore(tmp_path / "copy.sqlite") as copy:
        import_answers(copy, exported)
        assert answers_frame(copy)[["trial_uuid", "rank", "label_id", "outcome"]].equals(
            frame[["trial_uuid", "rank", "label_id", "outcome"]]
        )

    # The rater table scores them as the study says; against a plain truth table (no study), not at all.
    raters = raters_from_answers(frame, study, k=3).set_index(["phase", "trial"])
    assert raters.loc[("training", 0), "correct_topk"] and not raters.loc[("test", 0), "correct_topk"]
    plain = raters_from_answers(frame, {i: study.truth(i) for i in study.images}, k=3).set_index(["phase", "trial"])
    assert not plain["correct_topk"].any()


def test_existing_timeouts_without_guesses_score_as_before():
    """The rule: an answer's guesses always count, a timeout's only when its phase scores them,
    never those of the other non-answers (which carry none)."""
    for outcome, scored_phase, counts in [
        ("answer", False, True),
        ("timeout", False, False),
        ("timeout", True, True),
        ("not_sure", True, False),
        ("skip", True, False),
    ]:
        assert bool(guesses_count(outcome, scored_phase)) is counts
    outcomes = np.array(["answer", "timeout", "timeout", "not_sure"], dtype=object)
    assert list(guesses_count(outcomes, np.array([False, False, True, True]))) == [True, False, True, False]
    with pytest.raises(ValueError, match="carries no labels"):
        Response(("cat",), 1.0, "t", "t", outcome="not_sure")


def test_score_timeout_guesses_needs_a_deadline_and_key_guard_its_range(tiny_study):
    toml = tiny_study / "study.toml"
    original = toml.read_text()
    toml.write_text(original.replace("answers = 3\n", "answers = 3\nscore_timeout_guesses = true\n"))
    with pytest.raises(
        ProtocolError, match="score_timeout_guesses is on in phase 'test' but the phase has no time_limit_s"
    ):
        load_study(tiny_study)
    for value, message in [("-1", "key_guard_ms must be between 0 and 5,000"), ('"fast"', "key_guard_ms")]:
        toml.write_text(original.replace("seed = 7\n", f"seed = 7\nkey_guard_ms = {value}\n"))
        with pytest.raises(ProtocolError, match=message) as error:
            load_study(tiny_study)
        assert "study.toml:" in str(error.value)
    toml.write_text(original.replace("seed = 7\n", "seed = 7\nkey_guard_ms = 120\n"))
    assert load_study(tiny_study).key_guard_ms == 120


def test_an_answer_to_an_image_never_shown_is_refused(tmp_path, tiny_study):
    study = load_study(tiny_study)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "U1")
        with pytest.raises(RuntimeError, match="never shown"):
            controller.submit(Response((), 20.0, "", utc_now(), outcome="not_sure"))
        assert controller.position == 0 and answers_frame(store).empty


def test_the_scripted_participant_times_out_with_the_guesses_chosen_by_then(tmp_path, tiny_study):
    timed(tiny_study)
    study = load_study(tiny_study)
    participant = ScriptedParticipant(
        study,
        random.Random(1),
        None,
        annotator="p",
        guesses=dict.fromkeys(study.images, ("cat", "dog", "bus")),
        rt_ms=(8000.0, 1.0),
    )
    response = participant.respond(next(iter(study.images)), 3, time_limit_s=5.0)
    assert response.outcome == "timeout" and response.rt_ms == 5000.0
    assert response.labels == ("cat", "dog")  # chosen at 2, 4 (and 6) s of 8
    summary = run_pilot(study, 1, tmp_path / "pilot.sqlite", accuracy=1.0, rt_ms=(7000.0, 1.0), seed=1)
    assert summary.correct == {"training": (0, 4), "test": (0, 12)}  # every trial ran out; guesses not scored
    with ResultsStore(tmp_path / "pilot.sqlite", readonly=True) as store:
        frame = answers_frame(store)
    assert set(frame["outcome"]) == {"timeout"} and frame["label_id"].astype(bool).all()

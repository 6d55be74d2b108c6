"""The analysis' entry points: a study's store or tidy files -> one frozen RaterInputs.

Real pilot stores of the tiny study (4 classes, 4 training and 12 test images, test phase
asks for 3 answers) and its predictions file; nothing is built by hand.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from study_app.analysis.raters import FileSource, RaterInputs, Reading, StudySource, file_raters, study_raters
from study_app.errors import StudyError
from study_app.protocol.responses import Event
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, export_answers


@pytest.fixture
def answered(tiny_study, tmp_path):
    study = load_study(tiny_study, check_images=False)
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, 2, store_path, accuracy=0.8, rt_ms=(400.0, 10.0), seed=1)
    return study, store_path


def test_study_raters_resolves_every_choice_into_a_frozen_result(answered):
    study, store_path = answered
    inputs = study_raters(study, store=store_path)
    assert (
        isinstance(inputs, RaterInputs) and isinstance(inputs.source, StudySource) and inputs.source.store == store_path
    )
    # defaults resolved and carried: the phase without feedback, as many guesses as people gave, top-k
    assert (inputs.phases, inputs.k, inputs.rule, inputs.name, inputs.pilot) == (("test",), 3, "top-k", "tiny", True)
    assert inputs.notes[0].startswith("pilot (simulated) sessions only")
    assert set(inputs.raters["phase"].astype(str)) <= {"test", ""}
    assert set(inputs.raters["rater"].astype(str)) >= {"pilot-1-001", "pilot-1-002", "model-a", "model-b"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.k = 1  # type: ignore[misc]
    assert "RaterInputs(name='tiny', phases=['test'], rule='top-k', k=3" in repr(inputs) and "DataFrame" not in repr(
        inputs
    )
    with pytest.raises(TypeError):
        study_raters(study, store_path)  # type: ignore[misc]  # options are keyword-only


def test_asked_k_rule_and_phases_win_and_are_said(answered):
    study, store_path = answered
    inputs = study_raters(study, store=store_path, reading=Reading(k=1, rule="top-1", phases=["training", "test"]))
    assert (inputs.phases, inputs.k, inputs.rule) == (("training", "test"), 1, "top-1")
    assert any(
        "--k 1: models are scored on their first 1 guesses, while people could give 3" in note for note in inputs.notes
    )
    with pytest.raises(StudyError, match="no phase 'final'; phases: training, test"):
        study_raters(study, store=store_path, reading=Reading(phases=["final"]))
    with pytest.raises(StudyError, match="rule must be one of top-k, top-1, all-valid, not 'top-2'"):
        study_raters(study, store=store_path, reading=Reading(rule="top-2"))
    with pytest.raises(StudyError, match="k must be at least 1, not 0"):
        study_raters(study, store=store_path, reading=Reading(k=0))


def test_interrupted_trials_are_left_out_only_when_asked(answered):
    study, store_path = answered
    with ResultsStore(store_path, pilot=True) as store:
        session = store.load_session(
            store.conn.execute("SELECT uuid FROM sessions ORDER BY annotator_id LIMIT 1").fetchone()[0]
        )
        for trial in [t for t in session.trials if t.phase == "test"][:2]:
            store.log_events(session, [Event("focus_lost", 100.0)], trial)
    every = study_raters(study, store=store_path)
    attentive = study_raters(study, store=store_path, reading=Reading(include_interrupted=False))
    people = every.raters[every.raters["kind"] == "human"]
    kept = attentive.raters[attentive.raters["kind"] == "human"]
    assert len(people) == 24 and len(kept) == 22
    assert attentive.answers is not None and not attentive.answers["interrupted"].astype(bool).any()


def test_file_raters_match_the_store_and_take_predictions_alone(answered, tmp_path):
    study, store_path = answered
    with ResultsStore(store_path, readonly=True) as store:
        export_answers(store, tmp_path / "answers.csv")
    truth, predictions = study.root / "manifest.csv", list(study.prediction_files)
    files = file_raters(
        truth=truth, answers=tmp_path / "answers.csv", reading=Reading(predictions=predictions, phases=["test"])
    )
    assert isinstance(files.source, FileSource) and (files.phases, files.k, files.name) == (("test",), 3, "tiny")
    from_store = study_raters(study, store=store_path)
    key = ["rater", "image_id", "correct_topk"]
    shown = files.raters[files.raters["phase"] == "test"]
    assert (
        shown[key]
        .astype(str)
        .sort_values(key)
        .reset_index(drop=True)
        .equals(
            from_store.raters[from_store.raters["phase"] == "test"][key]
            .astype(str)
            .sort_values(key)
            .reset_index(drop=True)
        )
    )
    alone = file_raters(truth=truth, reading=Reading(predictions=predictions))
    # predictions alone: scored on as many guesses as the models gave (two per image)
    assert (alone.phases, alone.k, alone.pilot, alone.answers) == (("(all)",), 2, False, None)
    assert set(alone.raters["rater"].astype(str)) == {"model-a", "model-b"} and len(alone.raters) == 2 * 16
    with pytest.raises(StudyError, match="--phase needs --answers"):
        file_raters(truth=truth, reading=Reading(predictions=predictions, phases=["test"]))
    with pytest.raises(StudyError, match="nothing to analyse"):
        file_raters(truth=truth)
    pd.testing.assert_frame_equal(
        alone.raters, file_raters(truth=truth, reading=Reading(predictions=predictions)).raters
    )

"""Pilot runs: scripted annotators through a whole study, kept apart from real data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from study_app.errors import StoreError, StudyError
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import run_pilot
from study_app.stats import error_consistency_table, image_phases, rater_table
from study_app.store import ResultsStore, answers_frame, merge_stores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits():
    return load_study("demo-digits", check_images=False)


def test_independent_answers_match_the_requested_accuracy(tmp_path, digits):
    """Both SDs 0: every answer is right with probability 0.7, independently (binomial)."""
    summary = run_pilot(digits, 3, tmp_path / "pilot.sqlite", accuracy=0.7, ability_sd=0, difficulty_sd=0, seed=5)
    assert summary.trials == 3 * 230 and len(summary.annotators) == 3
    right, answered = summary.correct["test"]
    low, high = proportion_confint(right, answered, alpha=0.01, method="beta")
    assert low <= 0.7 <= high
    with ResultsStore(tmp_path / "pilot.sqlite", readonly=True) as store:
        frame = answers_frame(store)
        ended = store.conn.execute("SELECT COUNT(*) FROM sessions WHERE ended_at IS NOT NULL AND pilot = 1").fetchone()[
            0
        ]
        breaks = store.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'break_start'").fetchone()[0]
    assert frame["pilot"].all() and ended == 3
    assert breaks == 3 * 3  # test phase of 200 with a break every 50
    assert frame["rt_ms"].between(150, 10_000).all()
    # the stamps agree with the response time, as a person's would
    span = pd.to_datetime(frame["answered_at"]) - pd.to_datetime(frame["shown_at"])
    assert ((span.dt.total_seconds() * 1000 - frame["rt_ms"]).abs() <= 1.5).all()
    assert "ability SD 0 logit, image difficulty SD 0 logit" in summary.summary()


def human_error_consistency(store_path: Path, study) -> tuple[float, float]:
    """(mean accuracy, mean error consistency of all annotator pairs) on the test phase."""
    with ResultsStore(store_path, readonly=True) as store:
        answers = answers_frame(store)
    raters = rater_table(answers, None, study, k=1, labels=study.labels, phase_of=image_phases(study))
    raters = raters[raters["phase"] == "test"]
    return float(raters["correct_topk"].mean()), float(error_consistency_table(raters)["kappa"].mean())


def test_annotators_share_the_hard_images_as_real_ones_do(tmp_path, digits):
    """The default Rasch model: human-human error consistency near 0.4, not 0, and reproducible.

    On 200 images with 5 annotators the mean pairwise kappa varies by about 0.035 between
    seeds (12 seeds: 0.39 +- 0.034), and the mean accuracy by 0.03 (the images' difficulties
    are a sample of 200); the bands are 3 such SDs wide. Independent answers (both SDs 0)
    give a consistency near 0 (its SD on 200 images is below 0.03).
    """
    summary = run_pilot(digits, 5, tmp_path / "rasch.sqlite", accuracy=0.8, seed=4)
    assert "expected human-human error consistency 0.40" in summary.summary()
    accuracy, consistency = human_error_consistency(tmp_path / "rasch.sqlite", digits)
    assert 0.29 <= consistency <= 0.51 and abs(accuracy - 0.8) <= 0.09
    run_pilot(digits, 5, tmp_path / "flat.sqlite", accuracy=0.8, ability_sd=0, difficulty_sd=0, seed=4)
    _, independent = human_error_consistency(tmp_path / "flat.sqlite", digits)
    assert abs(independent) <= 0.09
    run_pilot(digits, 5, tmp_path / "again.sqlite", accuracy=0.8, seed=4)
    with (
        ResultsStore(tmp_path / "rasch.sqlite", readonly=True) as first,
        ResultsStore(tmp_path / "again.sqlite", readonly=True) as second,
    ):
        columns = ["annotator", "phase", "trial", "image_id", "label_id", "rt_ms"]
        pd.testing.assert_frame_equal(
            answers_frame(first)[columns], answers_frame(second)[columns]
        )  # the seed decides everything


def assert_trials_do_not_overlap(frame: pd.DataFrame) -> None:
    """In every session, each trial is shown no earlier than the previous one was answered."""
    trials = frame.drop_duplicates("trial_uuid").assign(
        shown=lambda t: pd.to_datetime(t["shown_at"]), answered=lambda t: pd.to_datetime(t["answered_at"])
    )
    for _, session in trials.sort_values("shown").groupby("session"):
        assert len(session) > 1
        assert (session["shown"].iloc[1:].to_numpy() >= session["answered"].iloc[:-1].to_numpy()).all()
        assert (
            session["answered"] - session["shown"] >= pd.Timedelta(milliseconds=149)
        ).all()  # MIN_RT_MS, stamps to the ms


def test_answers_copied_from_a_model(tmp_path, digits):
    predictions = digits.prediction_files[0]
    summary = run_pilot(digits, 1, tmp_path / "p.sqlite", accuracy=None, from_predictions=predictions, model="svm-rbf")
    right, answered = summary.correct["test"]
    assert answered == 200 and right >= 190  # the SVM is ~98% right on these digits


def test_pilot_and_real_data_never_mix(tmp_path, digits):
    run_pilot(digits, 1, tmp_path / "pilot.sqlite", accuracy=0.9)
    with ResultsStore(tmp_path / "pilot.sqlite") as store:  # opened as a real store
        with pytest.raises(StoreError, match="pilot session"):
            SessionController(digits, store, "A01")
    with ResultsStore(tmp_path / "real.sqlite") as store:
        SessionController(digits, store, "A01")
    with pytest.raises(StoreError, match="holds 1 real session"):
        run_pilot(digits, 1, tmp_path / "real.sqlite", accuracy=0.9)
    with pytest.raises(StoreError, match="cannot merge pilot"):
        merge_stores(tmp_path / "merged.sqlite", [tmp_path / "real.sqlite", tmp_path / "pilot.sqlite"])


def test_simulate_then_compare_from_the_command_line(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    simulated = run(
        "simulate",
        "--study",
        "demo-digits",
        "--annotators",
        "3",
        "--accuracy",
        "0.85",
        "--difficulty-sd",
        "2",
        "--seed",
        "2",
    )
    assert simulated.returncode == 0, simulated.stderr
    assert "3 simulated annotator(s), 690 trials" in simulated.stdout
    assert "Rasch model: mean accuracy 0.85, ability SD 0.5 logit, image difficulty SD 2 logit" in simulated.stdout
    assert (tmp_path / "results" / "demo-digits" / "pilot.sqlite").exists()
    exported = run(
        "export", "--study", "demo-digits", "--store", "results/demo-digits/pilot.sqlite", "--out", "answers.csv"
    )
    assert exported.returncode == 0, exported.stderr
    assert_trials_do_not_overlap(pd.read_csv(tmp_path / "answers.csv"))
    assert not (tmp_path / "results" / "demo-digits" / "results.sqlite").exists()  # nothing reaches the real store
    compared = run(
        "compare", "--study", "demo-digits", "--store", "results/demo-digits/pilot.sqlite", "--n-boot", "200"
    )
    assert compared.returncode == 0, compared.stderr
    assert "pilot-2-001" in compared.stdout and "top-k rule (k = 1)" in compared.stdout
    # a dry run says so, and its tables never replace the real study's
    assert "note: pilot (simulated) sessions only: a dry run" in compared.stdout
    assert (tmp_path / "results" / "demo-digits" / "compare-pilot" / "rates.csv").exists()
    assert not (tmp_path / "results" / "demo-digits" / "compare").exists()


def test_compare_can_leave_out_interrupted_trials(tmp_path, digits, capsys):
    from study_app.cli.main import main
    from study_app.protocol.responses import Event

    store_path = tmp_path / "pilot.sqlite"
    run_pilot(digits, 2, store_path, accuracy=0.9, seed=3)
    with ResultsStore(store_path, pilot=True) as store:
        session_uuid = store.conn.execute("SELECT uuid FROM sessions ORDER BY annotator_id LIMIT 1").fetchone()[0]
        session = store.load_session(session_uuid)
        tested = [t for t in session.trials if t.phase == "test"][:5]
        for trial in tested:
            store.log_events(session, [Event("focus_lost", 100.0)], trial)
    common = [
        "compare",
        "--study",
        "demo-digits",
        "--store",
        str(store_path),
        "--n-boot",
        "200",
        "--json",
        "--out",
        str(tmp_path / "c"),
    ]
    assert main(common) == 0
    everything = capsys.readouterr().out
    assert main([*common, "--exclude-interrupted"]) == 0
    attentive = capsys.readouterr().out
    assert '"n": 200' in everything and '"n": 195' in attentive


def test_real_time_takes_each_response_time_before_answering(tmp_path, tiny_study):
    """--real-time: one answer per response time, stamped when it was really given."""
    study = load_study(tiny_study, check_images=False)
    started = pd.Timestamp.now(tz="UTC")
    summary = run_pilot(study, 1, tmp_path / "pilot.sqlite", rt_ms=(200.0, 0.0), real_time=True)
    with ResultsStore(tmp_path / "pilot.sqlite", readonly=True) as store:
        frame = answers_frame(store).drop_duplicates("trial_uuid").sort_values("answered_at")
    answered, shown = pd.to_datetime(frame["answered_at"]), pd.to_datetime(frame["shown_at"])
    assert len(frame) == summary.trials >= 5
    assert (shown.iloc[0] - started).total_seconds() >= -0.01  # not stamped back into the past
    assert (answered.diff().dropna().dt.total_seconds() >= 0.195).all()
    assert_trials_do_not_overlap(frame)


def test_interruptions_pause_and_take_answers_back_headless_as_in_the_window(tmp_path, tiny_study):
    """``simulate --interruptions``: the same script as the window's driver, through the controller:
    a pause on each trial, and where undo is allowed an undo, cancelled or resubmitted; the
    answers are those of the same seed without interruptions."""
    study = load_study(tiny_study, check_images=False)
    plain = run_pilot(study, 2, tmp_path / "plain.sqlite", accuracy=0.7, seed=3)
    interrupted = run_pilot(study, 2, tmp_path / "pilot.sqlite", accuracy=0.7, seed=3, interruptions=1.0)
    assert interrupted.correct == plain.correct
    with ResultsStore(tmp_path / "pilot.sqlite", readonly=True) as store:
        answers = answers_frame(store).drop_duplicates("trial_uuid")
        kinds = [kind for (kind,) in store.conn.execute("SELECT kind FROM events")]
        (revised,) = store.conn.execute("SELECT COUNT(*) FROM trials WHERE supersedes IS NOT NULL").fetchone()
    assert len(answers) == 32 and answers["paused"].all() and (answers["exposures"] == 1).all()
    assert kinds.count("pause") == kinds.count("resume") == 32
    assert kinds.count("undo") == 2 * 9 == kinds.count("revision_cancelled") + revised and revised > 0
    with pytest.raises(StudyError, match="--interruptions must be between 0 and 1"):
        run_pilot(study, 1, tmp_path / "bad.sqlite", interruptions=1.5)

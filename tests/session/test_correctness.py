"""One correctness rule: the session's per-answer feedback and resumed scores agree with the
statistics' vectorised rater table on every kind of answer (protocol/correctness.py)."""

from __future__ import annotations

import csv
from collections.abc import Callable

import pandas as pd
from hypothesis import given, strategies as st

from study_app.protocol.correctness import answers_correct
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import Phase, load_study
from study_app.session.controller import SessionController
from study_app.stats.raters import raters_from_answers, raters_from_guesses
from study_app.store import ResultsStore, answers_frame
from tests.factory import STUDY_TOML, make_study

PHASES = """
[[phases]]
name = "ranked"
split = "train"
feedback = true
answers = 2

[[phases]]
name = "multi"
split = "test"
feedback = true
answers = 3
mode = "multi-label"
"""
#: How the statistics judge each phase by default (``compare``: all-valid when every phase is multi-label).
COLUMN = {"ranked": "correct_topk", "multi": "all_guesses_valid"}

Case = tuple[str, Callable[[tuple[str, ...], list[str]], tuple[str, ...]], str, bool]
NON_ANSWERS: list[Case] = [
    (outcome, lambda valid, wrong: (), outcome, False) for outcome in ("not_sure", "none_of_these", "timeout", "skip")
]
#: (case, labels from (valid labels, wrong labels), outcome, right?) -- one per image of the phase.
RANKED: list[Case] = [
    ("truth only", lambda v, w: (v[0],), "answer", True),
    ("truth first", lambda v, w: (v[0], w[0]), "answer", True),
    ("truth second", lambda v, w: (w[0], v[0]), "answer", True),
    ("truth first of three", lambda v, w: (v[0], w[0], w[1]), "answer", True),
    ("truth beyond k", lambda v, w: (w[0], w[1], v[0]), "answer", False),
    ("one wrong", lambda v, w: (w[0],), "answer", False),
    ("two wrong", lambda v, w: (w[0], w[1]), "answer", False),
    ("three wrong", lambda v, w: (w[0], w[1], w[2]), "answer", False),
    *NON_ANSWERS,
]
MULTI: list[Case] = [
    ("one valid", lambda v, w: (v[0],), "answer", True),
    ("both valid", lambda v, w: (v[0], v[1]), "answer", True),
    ("both valid, other order", lambda v, w: (v[1], v[0]), "answer", True),
    ("valid and wrong", lambda v, w: (v[0], w[0]), "answer", False),
    ("wrong and valid", lambda v, w: (w[0], v[0]), "answer", False),
    ("one wrong", lambda v, w: (w[0],), "answer", False),
    ("two wrong", lambda v, w: (w[0], w[1]), "answer", False),
    ("both valid and a wrong third", lambda v, w: (v[0], v[1], w[0]), "answer", False),
    *NON_ANSWERS,
]
PARTNER = {"cat": "dog", "dog": "cat", "car": "bus", "bus": "car"}


def grid_study(tmp_path):
    """12 training images judged top-2 and 12 test images with two valid labels each, judged all-valid."""
    root = make_study(tmp_path / "grid", per_class_train=3, per_class_test=3)
    toml = (
        STUDY_TOML[: STUDY_TOML.index("[[phases]]")]
        + PHASES.lstrip()
        + '\n[models]\npredictions = ["predictions.csv"]\n'
    )
    (root / "study.toml").write_text(toml, encoding="utf-8")
    with open(root / "manifest.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        if row[3] == "test":
            row[2] = f"{row[2]};{PARTNER[row[2]]}"
    with open(root / "manifest.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return load_study(root, check_images=False)


def test_the_session_and_the_statistics_judge_every_answer_alike(tmp_path):
    study = grid_study(tmp_path)
    classes = [label.label_id for label in study.labels]
    cases = {"ranked": iter(RANKED), "multi": iter(MULTI)}
    feedback, expected = {}, {}
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "G1")
        while not controller.complete:
            trial = controller.current()
            name, labels_of, outcome, right = next(cases[trial.phase])
            valid = study.truth(trial.image_id)
            labels = labels_of(valid, [c for c in classes if c not in valid])
            flag = "broken" if outcome == "skip" else None
            now = utc_now()
            shown = controller.submit(Response(labels, 900.0, now, now, outcome=outcome, flag=flag))
            feedback[trial.phase, trial.image_id] = shown.correct
            expected[trial.phase, trial.image_id] = (name, right)
        assert all(next(cases[phase], None) is None for phase in cases)  # every case was answered
        resumed = SessionController(study, store, "G1")  # not finished: a second start resumes it
        answers = answers_frame(store)
    assert resumed.resumed
    for phase in study.phases:
        scores = [correct for (name, _), correct in feedback.items() if name == phase.name]
        assert resumed.phase_accuracy(phase.name) == (sum(scores), len(scores)) == controller.phase_accuracy(phase.name)
        mine = answers[answers["phase"] == phase.name]
        table = raters_from_answers(mine, study, k=phase.answers, labels=study.labels)
        vectorised = dict(zip(table["image_id"].astype(str), table[COLUMN[phase.name]]))
        for (name, image_id), correct in feedback.items():
            if name == phase.name:
                case, right = expected[name, image_id]
                assert correct == vectorised[image_id] == right, f"{phase.name}: {case}"


LABELS = ("a", "b", "c", "d", "e")
answer_lists = st.lists(st.sampled_from(LABELS), max_size=len(LABELS), unique=True).map(tuple)
truth_sets = st.lists(st.sampled_from(LABELS), min_size=1, max_size=3, unique=True).map(tuple)


@given(
    st.lists(st.tuples(answer_lists, truth_sets), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=5),
    st.sampled_from(["ranked", "multi-label"]),
)
def test_one_answer_at_a_time_is_scored_as_the_rater_table_scores_them_all(answers, k, mode):
    """What ``submit`` does (one answer per call) against ``raters_from_guesses`` (every answer at
    once, one rater per answer so that several may answer the same image)."""
    phase = Phase("p", "test", (), answers=k, mode=mode)
    one_by_one = [bool(answers_correct([labels], [valid], phase)[0]) for labels, valid in answers]
    rows = []
    for number, (labels, _) in enumerate(answers):
        rater, image = f"r{number}", f"i{number}"
        if not labels:
            rows.append(
                {"rater": rater, "kind": "human", "image_id": image, "rank": None, "label_id": "", "outcome": "timeout"}
            )
        rows += [
            {"rater": rater, "kind": "human", "image_id": image, "rank": r, "label_id": x, "outcome": "answer"}
            for r, x in enumerate(labels, 1)
        ]
    truth = {f"i{number}": valid for number, (_, valid) in enumerate(answers)}
    table = raters_from_guesses(pd.DataFrame(rows), truth, k=k)
    column = "all_guesses_valid" if mode == "multi-label" else "correct_topk"
    assert one_by_one == table[column].tolist()
    assert (
        answers_correct([labels for labels, _ in answers], [valid for _, valid in answers], phase).tolist()
        == one_by_one
    )

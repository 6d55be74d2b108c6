"""Scoring: top-1, top-k, multi-label and hierarchy severity, on tables checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from study_app.analysis.notes import input_notes
from study_app.errors import InputFileError
from study_app.stats import rater_table, raters_from_answers, raters_from_guesses, raters_from_predictions, truth_table
from study_app.stats.raters import later_exposures
from tests.stats.builders import animals_and_vehicles


def guesses(rows: list[tuple[str, str, list[str]]], kind: str = "human") -> pd.DataFrame:
    """(rater, image, ranked labels) -> tidy guesses; an empty list is a non-answer."""
    out = []
    for rater, image, labels in rows:
        if not labels:
            out.append(
                {"rater": rater, "kind": kind, "image_id": image, "rank": None, "label_id": "", "outcome": "not_sure"}
            )
        out += [
            {"rater": rater, "kind": kind, "image_id": image, "rank": r + 1, "label_id": label, "outcome": "answer"}
            for r, label in enumerate(labels)
        ]
    return pd.DataFrame(out)


def test_top1_topk_and_non_answers_by_hand():
    truth = {"i1": ("cat",), "i2": ("dog",), "i3": ("car",)}
    table = raters_from_guesses(
        guesses([("A", "i1", ["cat", "dog"]), ("A", "i2", ["cat", "bus", "dog"]), ("A", "i3", [])]), truth, k=2
    )
    # i1: right at rank 1; i2: right only at rank 3 (> k); i3: "not sure" is wrong by every rule.
    assert table["correct_top1"].tolist() == [True, False, False]
    assert table["correct_topk"].tolist() == [True, False, False]
    assert table["n_guesses"].tolist() == [2, 3, 0]
    assert table["label"].astype(str).tolist() == ["cat", "cat", ""]
    wider = raters_from_guesses(guesses([("A", "i2", ["cat", "bus", "dog"])]), truth, k=3)
    assert wider["correct_topk"].tolist() == [True]


def test_multi_label_truth_is_real_style():
    # i1 may be a cat or a dog (ReaL relabelling): either guess is right at top-1.
    truth = pd.DataFrame({"image_id": ["i1", "i1", "i2"], "label_id": ["cat", "dog", "car"]})
    table = raters_from_guesses(
        guesses(
            [
                ("A", "i1", ["dog"]),
                ("B", "i1", ["bus", "cat"]),
                ("C", "i1", ["cat", "dog"]),
                ("C", "i2", ["car", "bus"]),
            ]
        ),
        truth,
        k=5,
    )
    assert table["correct_top1"].tolist() == [True, False, True, True]
    assert table["correct_topk"].tolist() == [True, True, True, True]
    # multi-label answer mode: right only when every ticked label is valid.
    assert table["all_guesses_valid"].tolist() == [True, False, True, False]
    assert table["truth"].astype(str).tolist() == ["cat", "cat", "cat", "car"]
    assert table["valid_labels"].astype(str).tolist() == ["cat;dog", "cat;dog", "cat;dog", "car"]


def test_hierarchy_severity_by_hand():
    labels = animals_and_vehicles()
    truth = {"i1": ("cat",), "i2": ("cat",), "i3": ("cat",), "i4": ("apple",), "i5": ("cat",)}
    table = raters_from_guesses(
        guesses(
            [("A", "i1", ["cat"]), ("A", "i2", ["dog"]), ("A", "i3", ["bus"]), ("A", "i4", ["cat"]), ("A", "i5", [])]
        ),
        truth,
        labels=labels,
    )
    # cat = cat: depth of cat (2); dog: LCA animal (1); bus: LCA entity (0); apple is in another tree.
    assert table["lca_depth"].tolist()[:3] == [2.0, 1.0, 0.0]
    assert math.isnan(table["lca_depth"].iloc[3]) and math.isnan(table["lca_depth"].iloc[4])
    assert table["superclass_correct"].tolist() == [True, True, False, False, False]


def test_unknown_images_labels_and_repeated_ranks_are_clear_errors():
    truth = {"i1": ("cat",)}
    with pytest.raises(InputFileError, match="1 image\\(s\\) have no ground truth, e.g. 'i9'"):
        raters_from_guesses(guesses([("A", "i9", ["cat"])]), truth)
    with pytest.raises(InputFileError, match="not in the study's label set, e.g. 'lion'"):
        raters_from_guesses(guesses([("A", "i1", ["lion"])]), truth, labels=animals_and_vehicles())
    twice = guesses([("A", "i1", ["cat", "dog"])]).assign(rank=1)
    with pytest.raises(InputFileError, match="the same rank twice"):
        raters_from_guesses(twice, truth)
    # rank 0 used to land in the last column: the first guess lost, a sixth counted as top-5
    for bad in ([0, 1], [-1, 1], [1.5, 2]):
        with pytest.raises(InputFileError, match=f"rank {bad[0]:g}: ranks are whole numbers from 1"):
            raters_from_guesses(guesses([("A", "i1", ["cat", "dog"])]).assign(rank=bad), truth)


def test_a_models_ranked_list_is_judged_on_its_first_k_in_multi_label_mode():
    """A prediction file ranks five labels; a multi-label phase with k = 2 judges the first two,
    as an annotator with two slots would be judged."""
    truth = {"x": ("cat", "dog")}
    predictions = pd.DataFrame(
        {"model": "M", "image_id": "x", "rank": [1, 2, 3, 4, 5], "label_id": ["cat", "dog", "car", "bus", "cat2"]}
    )
    assert raters_from_predictions(predictions, truth, k=2)["all_guesses_valid"].tolist() == [True]
    assert raters_from_predictions(predictions, truth, k=3)["all_guesses_valid"].tolist() == [
        False
    ]  # car is not in the image


def answers_rows(rows):
    columns = [
        "annotator",
        "phase",
        "trial",
        "image_id",
        "rank",
        "label_id",
        "rt_ms",
        "outcome",
        "trial_uuid",
        "superseded",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def test_answers_drop_revisions_and_repeated_exposures():
    frame = answers_rows(
        [
            ("A", "test", 0, "i1", 1, "dog", 300.0, "answer", "t1", True),  # revised by t2
            ("A", "test", 0, "i1", 1, "cat", 310.0, "answer", "t2", False),
            ("A", "test", 1, "i2", None, "", 1500.0, "timeout", "t3", False),
            ("A", "test", 2, "i1", 1, "bus", 200.0, "answer", "t4", False),  # same image again: ignored
            ("B", "test", 0, "i2", 1, "cat", 250.0, "answer", "t5", False),
            ("B", "test", 0, "i2", 2, "dog", 250.0, "answer", "t5", False),
        ]
    )
    table = raters_from_answers(frame, {"i1": ("cat",), "i2": ("dog",)}, k=2)
    assert table[["rater", "image_id"]].astype(str).values.tolist() == [["A", "i1"], ["A", "i2"], ["B", "i2"]]
    assert table["correct_topk"].tolist() == [True, False, True]
    assert table["outcome"].astype(str).tolist() == ["answer", "timeout", "answer"]
    assert table["rt_ms"].tolist() == [310.0, 1500.0, 250.0]
    assert (table["kind"] == "human").all()
    # what was left out is said: one repeat of A's (the revision is not a repeat)
    assert later_exposures(frame) == {"A": 1}
    notes = input_notes(frame, None, 2)
    assert len(notes) == 1 and notes[0].startswith("1 repeated trial(s) of 1 annotator(s) left out (A 1)")
    assert "not scored by the same rule" in input_notes(frame.iloc[:0], 5, 2)[0]
    assert input_notes(frame.iloc[:0], 2, 2) == []


def test_rater_table_gives_models_the_phase_and_refuses_name_clashes():
    answers = answers_rows([("A", "test", 0, "i1", 1, "cat", 300.0, "answer", "t1", False)])
    predictions = pd.DataFrame(
        {"model": ["m", "m"], "image_id": ["i1", "i2"], "rank": [1, 1], "label_id": ["cat", "cat"], "score": [0.9, 0.8]}
    )
    truth = {"i1": ("cat",), "i2": ("dog",)}
    table = rater_table(answers, predictions, truth)
    model_rows = table[table["kind"] == "model"]
    assert model_rows["phase"].astype(str).tolist() == ["test", ""]
    assert model_rows["rt_ms"].isna().all() and model_rows["trial"].isna().all()
    with pytest.raises(InputFileError, match="also annotator ids"):
        rater_table(answers, predictions.assign(model="A"), truth)


def test_truth_from_manifest_lists_every_problem(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text(
        "image_id,path,labels,split\ni1,a.png,cat;dog,test\ni1,b.png,cat,test\ni2,c.png,,test\n", encoding="utf-8"
    )
    with pytest.raises(InputFileError) as caught:
        truth_table(path)
    assert [p.line for p in caught.value.problems] == [3, 4]
    path.write_text("image_id,path,labels,split\ni1,a.png,cat;dog,test\n", encoding="utf-8")
    assert truth_table(path).values.tolist() == [["i1", "cat"], ["i1", "dog"]]


def test_scoring_is_vectorised_consistently_with_a_loop():
    rng = np.random.default_rng(3)
    labels = [f"c{i}" for i in range(6)]
    truth = {f"i{i}": tuple(rng.choice(labels, size=rng.integers(1, 3), replace=False)) for i in range(40)}
    rows = [
        (f"A{a}", image, list(rng.choice(labels, size=rng.integers(0, 4), replace=False)))
        for a in range(5)
        for image in truth
    ]
    table = raters_from_guesses(guesses(rows), truth, k=2)
    expected_top1 = [bool(g) and g[0] in truth[i] for _, i, g in rows]
    expected_topk = [any(x in truth[i] for x in g[:2]) for _, i, g in rows]
    expected_all = [bool(g) and all(x in truth[i] for x in g[:2]) for _, i, g in rows]  # the first k, as top-k
    assert table["correct_top1"].tolist() == expected_top1
    assert table["correct_topk"].tolist() == expected_topk
    assert table["all_guesses_valid"].tolist() == expected_all

"""Per-class errors, confusions, trends over trials and response times, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from study_app.errors import StudyError
from study_app.protocol.labels import Label, LabelSet
from study_app.stats import (
    HUMANS,
    class_error_comparison,
    confused_pairs,
    error_by_trial,
    raters_from_guesses,
    rt_by_correctness,
)
from tests.stats.builders import top1_table

# classes a (img0-3) and b (img4-7)
ANSWERS = {"A": "aaaabbaa", "B": "aaabbbba", "m": "abbbbbbb"}


def test_class_errors_by_hand():
    table = top1_table(ANSWERS, "aaaabbbb", models=("m",))
    result = class_error_comparison(table, "m")
    rows = result.table.set_index("class")
    # class a: annotators' mean error per image 0, 0, 0, 0.5 -> 0.125; model wrong on img1-3 -> 0.75;
    # annotators better on 3 images, model on none: exact sign test p = 2/8.
    assert rows.loc["a", ["human_error", "model_error", "humans_better", "model_better"]].tolist() == [
        0.125,
        0.75,
        3,
        0,
    ]
    # class b: annotators 0, 0, 0.5, 1 -> 0.375; model 0; model better on 2 images: p = 2/4.
    assert rows.loc["b", ["human_error", "model_error", "humans_better", "model_better"]].tolist() == [0.375, 0.0, 0, 2]
    assert rows["pvalue"].tolist() == pytest.approx([0.25, 0.5])
    assert rows["pvalue_fdr"].tolist() == pytest.approx([0.5, 0.5])  # Benjamini-Hochberg
    assert result.n_significant == 0 and np.isnan(result.spearman_rho)  # two classes: no rank correlation


def test_superclass_level_and_spearman():
    labels = LabelSet(
        tuple(Label(i, i) for i in "abcd"),
        (Label("X", "X", is_class=False), Label("Y", "Y", is_class=False)),
        {"a": "X", "b": "X", "c": "Y", "d": "Y"},
    )
    table = top1_table({"A": "abcdabcd", "m": "bbcdaccd"}, "abcdabcd", models=("m",))
    superclass = class_error_comparison(table, "m", level="superclass", labels=labels).table.set_index("superclass")
    assert superclass["n_images"].tolist() == [4, 4]
    assert superclass["model_error"].tolist() == [0.5, 0.0]  # m wrong on img0 (a) and img5 (b), both under X
    with pytest.raises(StudyError, match="need a label hierarchy"):
        class_error_comparison(table, "m", level="superclass")
    # per-class errors: annotator 0, .5, .5, 1 (ranks 1, 2.5, 2.5, 4); model 0, .5, 1, 1 (ranks 1, 2, 3.5, 3.5):
    # rank deviations (-1.5, 0, 0, 1.5) and (-1.5, -0.5, 1, 1): rho = 3.75 / sqrt(4.5 * 4.5).
    profile = top1_table({"A": "aabacaaa", "m": "aabaaaaa"}, "aabbccdd", models=("m",))
    assert class_error_comparison(profile, "m").spearman_rho == pytest.approx(3.75 / 4.5)


def test_confused_pairs_by_hand():
    table = top1_table({"A": "bbc-", "B": "bac-", "m": "cccc"}, "aaca", models=("m",))
    pairs = confused_pairs(table)
    humans = pairs[pairs["group"] == HUMANS]
    # annotators' wrong labelled answers: a->b (img0, twice), a->b (img1, A); non-answers are not confusions
    assert humans[["truth", "label", "count"]].values.tolist() == [["a", "b", 3]]
    model = pairs[pairs["group"] == "m"]
    assert model[["truth", "label", "count", "share"]].values.tolist() == [["a", "c", 3, 1.0]]


def test_trend_over_trials_detects_fatigue():
    rows = []
    rng = np.random.default_rng(2)
    for annotator in range(4):
        for trial in range(60):
            wrong = rng.random() < (0.05 if trial < 30 else 0.5)
            rows.append(
                {
                    "rater": f"A{annotator}",
                    "kind": "human",
                    "image_id": f"i{trial}",
                    "phase": "test",
                    "trial": trial,
                    "rt_ms": 500.0,
                    "outcome": "answer",
                    "rank": 1,
                    "label_id": "b" if wrong else "a",
                }
            )
    table = raters_from_guesses(pd.DataFrame(rows), {f"i{t}": ("a",) for t in range(60)}, k=1)
    trend = error_by_trial(table, bins=2)
    assert trend.odds_ratio_per_100 > 1 and trend.pvalue < 0.001
    assert trend.binned["n"].tolist() == [120, 120]
    first_half = ~table["correct_topk"][table["trial"] < 30]
    assert trend.binned["error_rate"].iloc[0] == pytest.approx(first_half.mean())
    with pytest.raises(StudyError, match="trend"):
        error_by_trial(top1_table({"A": "aaaa"}, "aaaa"))


def test_response_times_by_hand_and_against_scipy():
    table = top1_table({"A": "aab-a", "B": "abba-"}, "aaaaa")  # rt = 500 + image index
    times = rt_by_correctness(table).set_index("rater")
    # A: right on img0, 1, 4 (500, 501, 504), wrong on img2 (502); the timeout is left out.
    assert times.loc["A", ["n_right", "n_wrong", "median_rt_right", "median_rt_wrong"]].tolist() == [3, 1, 501.0, 502.0]
    assert times.loc["A", "pvalue"] == pytest.approx(mannwhitneyu([500.0, 501.0, 504.0], [502.0]).pvalue)
    assert times.loc[HUMANS, ["n_right", "n_wrong"]].tolist() == [5, 3]


def _drifting(annotators: int, trials: int, seed: int = 0):
    """Annotators whose chance of an error grows from 10% to 40% over their session."""
    rng = np.random.default_rng(seed)
    index = np.tile(np.arange(trials), annotators)
    error = rng.random(annotators * trials) < 0.1 + 0.3 * index / trials
    return pd.DataFrame(
        {
            "kind": "human",
            "rater": np.repeat([f"A{i}" for i in range(annotators)], trials),
            "phase": "test",
            "trial": index,
            "correct_topk": ~error,
        }
    )


def test_trend_on_ilsvrc_length_sessions_and_with_many_annotators():
    long = error_by_trial(_drifting(3, 1500))  # a conditional logit recursed past Python's limit here
    assert 1.05 < long.odds_ratio_per_100 < 1.3 and long.pvalue < 1e-6
    many = error_by_trial(_drifting(1200, 6))  # too many intercepts: the GEE path
    assert many.ci_low < many.odds_ratio_per_100 < many.ci_high and many.odds_ratio_per_100 > 1

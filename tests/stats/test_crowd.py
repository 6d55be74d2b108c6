"""The three crowds: hand-worked votes, the seeded tie-break, and the model-vs-human data
where the strict majority is worse than the mean annotator and the plurality vote is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from study_app.importers import read_model_vs_human
from study_app.stats import (
    HUMANS_MEAN,
    OPTIMISTIC,
    PLURALITY_VOTE,
    STRICT_MAJORITY,
    crowds,
    error_rates,
    optimistic_human,
    plurality_vote,
    strict_majority,
)
from tests.stats.builders import correctness_table, top1_table

RAW = Path("/work/shared/data/model-vs-human/raw-data")


def error_of(rates, rater):
    return rates.loc[rates["rater"] == rater, "error_rate"].item()


def test_strict_majority_and_optimistic_by_hand():
    table = correctness_table({"A": "1100", "B": "1010", "C": "1001"})
    # images: 3 of 3 right, then 1 of 3 right three times
    vote = strict_majority(table)
    assert vote["correct_top1"].tolist() == [True, False, False, False]
    assert (vote["rater"] == STRICT_MAJORITY).all() and vote["n_annotators"].tolist() == [3] * 4
    assert optimistic_human(table)["correct_top1"].tolist() == [True] * 4
    rates = error_rates(table)
    assert (error_of(rates, STRICT_MAJORITY), error_of(rates, OPTIMISTIC)) == (0.75, 0.0)
    # a tie is no majority: counted as an error; two annotators: right only where both are
    tied = correctness_table({"A": "1101", "B": "0111"})
    assert strict_majority(tied)["correct_top1"].tolist() == [False, True, False, True]
    assert optimistic_human(tied)["correct_top1"].tolist() == [True] * 4


def test_plurality_vote_by_hand():
    """Truth "aaaa". img0: a, a, b -> a (right); img1: b, b, a -> b (wrong); img2: c, b, a ->
    a three-way tie; img3: a, -, - -> a: non-answers do not vote. The strict majority on
    correctness says wrong on img2 and img3, right on img0."""
    table = top1_table({"A": "abca", "B": "abb-", "C": "baa-"}, "aaaa")
    vote = plurality_vote(table).set_index("image_id")
    assert vote.loc["img0", "label"] == "a" and vote.loc["img1", "label"] == "b" and vote.loc["img3", "label"] == "a"
    assert vote.loc[["img0", "img1", "img3"], "correct_top1"].tolist() == [True, False, True]
    assert vote["correct_top1"].equals(vote["correct_topk"]) and vote["correct_top1"].equals(vote["all_guesses_valid"])
    # the tie goes each way with the seed, one in three times, and one seed always gives the same crowd
    winners = [plurality_vote(table, seed=seed).set_index("image_id").loc["img2", "label"] for seed in range(300)]
    assert set(winners) == {"a", "b", "c"} and winners.count("a") / 300 == pytest.approx(1 / 3, abs=0.08)
    assert plurality_vote(table, seed=7).equals(plurality_vote(table, seed=7))
    # nobody answered: no label and wrong
    silent = plurality_vote(top1_table({"A": "-a", "B": "-a"}, "aa"))
    assert silent["label"].tolist() == ["", "a"] and silent["correct_top1"].tolist() == [False, True]
    assert plurality_vote(top1_table({"A": "--", "B": "--"}, "aa"))["correct_top1"].tolist() == [False, False]


def test_plurality_vote_counts_any_valid_label():
    """Multi-label truth: the crowd's label is right when it is among the image's valid labels."""
    table = top1_table({"A": "b", "B": "b", "C": "a"}, "a")
    table["valid_labels"] = table["valid_labels"].cat.rename_categories({"a": "a;b"})
    assert plurality_vote(table)["correct_top1"].tolist() == [True]


def test_crowds_are_rows_of_every_rate_table():
    table = correctness_table({"A": "1100", "B": "1010", "C": "1001", "m": "1111"}, models=("m",))
    assert set(crowds(table)["rater"]) == {PLURALITY_VOTE, OPTIMISTIC, STRICT_MAJORITY}
    assert set(error_rates(table)["rater"]) >= {PLURALITY_VOTE, OPTIMISTIC, STRICT_MAJORITY, HUMANS_MEAN}


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_model_vs_human_contrast():
    """Four annotators on 800 contrast images: the mean annotator errs on 33.9% (the issue's
    number), the strict majority on 38.5%, worse; the plurality vote on 26.5% on average over
    tie-breaks (computed here from each image's tied labels) and 25.1% with seed 0."""
    table = read_model_vs_human(RAW, ["contrast"])
    humans = table[table["kind"] == "human"]
    rates = error_rates(humans, correct="correct_top1", n_boot=50)
    assert error_of(rates, HUMANS_MEAN) == pytest.approx(0.339, abs=5e-4)
    assert error_of(rates, STRICT_MAJORITY) == pytest.approx(0.385, abs=5e-4)
    assert error_of(rates, PLURALITY_VOTE) == pytest.approx(0.25125)
    # expected error over tie-breaks: per stimulus, the share of its most-voted labels that are wrong
    answered = humans[humans["label"].astype(str) != ""].assign(label=lambda t: t["label"].astype(str))
    votes = (
        answered.groupby(["image_id", "condition", "label"], observed=True)
        .agg(votes=("rater", "size"), right=("correct_top1", "first"))
        .reset_index()
    )
    top = votes[votes["votes"] == votes.groupby(["image_id", "condition"])["votes"].transform("max")]
    stimuli = humans.groupby(["image_id", "condition"], observed=True).ngroups
    expected = 1 - top.groupby(["image_id", "condition"])["right"].mean().sum() / stimuli
    assert expected == pytest.approx(0.265, abs=5e-4)
    seeded = [1 - plurality_vote(humans, seed=seed)["correct_top1"].mean() for seed in range(20)]
    assert np.mean(seeded) == pytest.approx(expected, abs=0.005)
    # optimistic: right where any annotator is
    anyone = humans.groupby(["image_id", "condition"], observed=True)["correct_top1"].any()
    assert error_of(rates, OPTIMISTIC) == pytest.approx(1 - anyone.mean())

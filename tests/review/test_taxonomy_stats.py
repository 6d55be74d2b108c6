"""Taxonomy statistics on hand-worked cases: shares, intervals, tests, kappa, re-scored error rates."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from study_app.analysis.resampling import Resampling
from study_app.analysis.taxonomy_inputs import study_taxonomy
from study_app.protocol.taxonomy import DEFAULT_TAXONOMY
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.stats import image_phases, rater_table
from study_app.stats.error_taxonomy import compare_causes, consensus, reviewed_truth, reviewer_agreement, taxonomy_table
from study_app.store import ResultsStore


def review_rows(
    reviewer: str, rater: str, kind: str, causes: list[str], proposals: list[str] | None = None
) -> pd.DataFrame:
    """Reviews as :func:`reviews_frame` gives them: error i is image ``im<i>`` of ``rater``."""
    n = len(causes)
    return pd.DataFrame(
        {
            "reviewer": reviewer,
            "item": [f"{rater}:{i}" for i in range(n)],
            "rater": rater,
            "rater_kind": kind,
            "phase": "test",
            "image_id": [f"im{i}" for i in range(n)],
            "causes": causes,
            "blind": True,
            "proposed_truth": proposals or [""] * n,
            "reviewed_at": [f"2026-01-01T00:00:{i:02d}" for i in range(n)],
        }
    )


def wilson(count: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# people: 10 errors, 6 fine-grained (2 of them also multiple objects), 4 other;
# the model: 10 errors, none fine-grained, 5 small objects (1 also multiple objects), 5 other
PEOPLE = ["fine_grained;multiple_objects"] * 2 + ["fine_grained"] * 4 + ["other"] * 4
MODEL = ["small_thin;multiple_objects"] + ["small_thin"] * 4 + ["other"] * 5


def test_taxonomy_table_counts_shares_and_wilson_intervals():
    reviews = pd.concat(
        [review_rows("R1", "A01", "human", PEOPLE), review_rows("R1", "net", "model", MODEL)], ignore_index=True
    )
    table = taxonomy_table(consensus(reviews, DEFAULT_TAXONOMY.keys), DEFAULT_TAXONOMY).set_index(["group", "cause"])
    assert table.loc[("humans", "fine_grained"), ["errors_reviewed", "count", "share"]].tolist() == [10, 6, 0.6]
    assert (
        table.loc[("humans", "multiple_objects"), "count"] == 2 and table.loc[("net", "multiple_objects"), "count"] == 1
    )
    assert table.loc[("net", "small_thin"), "share"] == 0.5 and table.loc[("net", "fine_grained"), "count"] == 0
    # multi-label: people's shares add up to 120%, not 100%
    assert table.loc["humans", "share"].sum() == pytest.approx(1.2)
    low, high = wilson(6, 10)
    assert (low, high) == pytest.approx((0.3127, 0.8318), abs=1e-4)
    assert table.loc[("humans", "fine_grained"), ["wilson_low", "wilson_high"]].tolist() == pytest.approx([low, high])
    assert table.loc[("net", "fine_grained"), "wilson_high"] == pytest.approx(wilson(0, 10)[1])


def test_people_and_model_causes_compared_without_counting_an_error_twice():
    reviews = pd.concat(
        [review_rows("R1", "A01", "human", PEOPLE), review_rows("R1", "net", "model", MODEL)], ignore_index=True
    )
    tests, overall = compare_causes(consensus(reviews, DEFAULT_TAXONOMY.keys), DEFAULT_TAXONOMY, n_perm=4000, seed=1)
    fine = tests.set_index("cause").loc["fine_grained"]
    # [[6, 4], [0, 10]]: P(6) = P(0) = C(14,4) / C(20,10) = 1001 / 184756, two-sided p = 2002 / 184756
    assert (fine["humans_count"], fine["model_count"]) == (6, 0)
    assert fine["pvalue"] == pytest.approx(2002 / 184756)
    assert fine["small_counts"]  # expected 3 per cell in the cause column
    other = tests.set_index("cause").loc["other"]
    assert other["pvalue"] == pytest.approx(1.0)  # 4/10 against 5/10
    # Holm over 9 causes: the smallest p is multiplied by the number of causes
    assert tests["pvalue_holm"].min() == pytest.approx(min(1.0, 9 * tests["pvalue"].min()))
    row = overall.iloc[0]
    # statistic: chi-square of each 2x2 table summed; fine-grained 20*(6*10-4*0)^2/(10*10*6*14) = 8.571,
    # small/thin 20*(0*5-10*5)^2/(10*10*5*15) = 6.667, multiple objects 20*(2*9-8*1)^2/(10*10*3*17) = 0.392,
    # other 20*(4*5-6*5)^2/(10*10*9*11) = 0.202
    assert row["statistic"] == pytest.approx(20 * 3600 / 8400 + 20 * 2500 / 7500 + 20 * 100 / 5100 + 20 * 100 / 9900)
    assert row["pvalue"] < 0.01 and row["causes_tested"] == 4
    same = pd.concat(
        [review_rows("R1", "A01", "human", PEOPLE), review_rows("R1", "net", "model", PEOPLE)], ignore_index=True
    )
    _, overall_same = compare_causes(consensus(same, DEFAULT_TAXONOMY.keys), DEFAULT_TAXONOMY, n_perm=2000, seed=1)
    assert overall_same["statistic"].iloc[0] == 0 and overall_same["pvalue"].iloc[0] == 1.0


def test_consensus_of_two_reviewers_and_kappa_per_cause():
    a = ["fine_grained"] * 3 + ["other"] * 7
    b = ["fine_grained", "fine_grained", "other", "fine_grained"] + ["other"] * 6
    reviews = pd.concat([review_rows("R1", "A01", "human", a), review_rows("R2", "A01", "human", b)], ignore_index=True)
    kappa = reviewer_agreement(reviews, DEFAULT_TAXONOMY).set_index("cause").loc["fine_grained"]
    # both 2, only R1 1, only R2 1, neither 6: p_o = 0.8, p_e = 0.3*0.3 + 0.7*0.7 = 0.58, kappa = 0.22 / 0.42
    assert kappa[["both", "only_a", "only_b", "neither"]].tolist() == [2, 1, 1, 6]
    assert kappa["kappa"] == pytest.approx(0.22 / 0.42) and kappa["kappa_low"] < kappa["kappa"] < kappa["kappa_high"]
    assert math.isnan(reviewer_agreement(reviews, DEFAULT_TAXONOMY).set_index("cause").loc["abstract", "kappa"])
    agreed = consensus(reviews, DEFAULT_TAXONOMY.keys)
    # a cause counts when at least half of the reviewers ticked it: errors 0-3 are fine-grained
    assert agreed["fine_grained"].tolist() == [True] * 4 + [False] * 6 and (agreed["reviewers"] == 2).all()


def test_rescored_error_rates_on_the_tiny_study(answered):
    """A01 answered img-004 (a cat) with dog, car; a reviewer says img-004 is really a dog.

    top-1: A01 3/12 -> 2/12 (img-004 fixed); model-a (always right, cat first, dog second)
    0/12 -> 1/12 (img-004 broken); model-b (dog first on img-004) 9/12 -> 8/12 (fixed).
    Two reviewers disagree about img-016: it keeps its ground truth.
    """
    study, store_path = answered
    selection = Selection(("all",), "top-1")
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, selection)
        for reviewer, proposals in (
            ("R1", {"img-004": ["dog"], "img-016": ["bus"]}),
            ("R2", {"img-016": ["car", "bus"]}),
        ):
            controller = ReviewController(study, store, reviewer, items, False, selection)
            for position, item in enumerate(controller.items):
                if item.rater == "A01":
                    controller.go_to(position)
                    controller.save(
                        ["incorrect_ground_truth"] if item.image_id in proposals else ["other"],
                        proposed_truth=proposals.get(item.image_id),
                    )
            controller.finish()
        from study_app.importers import read_prediction_files
        from study_app.store import answers_frame

        answers = answers_frame(store)
    predictions = read_prediction_files(list(study.prediction_files), set(study.images), study.labels.class_ids)
    raters = rater_table(answers, predictions, study, k=3, labels=study.labels, phase_of=image_phases(study))
    raters = raters[raters["phase"] == "test"].reset_index(drop=True)
    analysis = study_taxonomy(
        study,
        store_path,
        raters,
        rule="top-1",
        k=3,
        answers=answers,
        predictions=predictions,
        resampling=Resampling(n_boot=200),
        n_perm=500,
    )
    rates = analysis.rescored.set_index("rater")
    assert rates.loc["A01", ["errors_original", "errors_reviewed", "fixed", "broken"]].tolist() == [3, 2, 1, 0]
    assert rates.loc["model-a", ["errors_original", "errors_reviewed", "fixed", "broken"]].tolist() == [0, 1, 0, 1]
    assert rates.loc["model-b", ["errors_original", "errors_reviewed", "fixed", "broken"]].tolist() == [9, 8, 1, 0]
    assert rates.loc["A01", "error_rate_reviewed"] == pytest.approx(2 / 12)
    corrections = analysis.corrections.set_index("image_id")
    assert corrections.loc["img-004", ["original", "reviewed", "status", "reviewers"]].tolist() == [
        "cat",
        "dog",
        "corrected",
        "R1",
    ]
    assert corrections.loc["img-016", ["original", "reviewed", "status"]].tolist() == ["car", "", "disputed"]
    assert any("different ground truths" in note for note in analysis.notes)
    truth, _ = reviewed_truth(pd.DataFrame(columns=["reviewer", "image_id", "proposed_truth", "reviewed_at"]), study)
    assert len(truth) == len(study.images)  # no proposals: the original ground truth


def test_causes_missing_from_the_taxonomy_are_named_not_counted(answered):
    study, store_path = answered
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
        controller = ReviewController(study, store, "R1", items, False, selection)
        controller.save(["other"])
        store.conn.execute("UPDATE reviews SET causes = ?", ('["glare", "other"]',))  # a cause of an older taxonomy
        from study_app.store import answers_frame

        answers = answers_frame(store)
    raters = rater_table(answers, None, study, k=3, labels=study.labels, phase_of=image_phases(study))
    analysis = study_taxonomy(
        study,
        store_path,
        raters[raters["phase"] == "test"].reset_index(drop=True),
        rule="top-k",
        k=3,
        answers=answers,
        predictions=None,
        resampling=Resampling(n_boot=200),
        n_perm=200,
    )
    assert any("glare" in note and "not counted" in note for note in analysis.notes)
    counts = analysis.taxonomy.set_index(["group", "cause"])["count"]
    assert counts[("humans", "other")] == 1 and counts.loc["humans"].sum() == 1


def test_only_reviews_of_the_analysed_errors_count_and_the_share_reviewed_is_said():
    """Reviews of errors the analysed table does not count (another phase; right under its
    rule) are left out of the causes, and the note says how many of each side's errors were reviewed."""
    from study_app.stats.error_taxonomy import reviews_of_counted_errors

    raters = pd.DataFrame(
        {
            "rater": ["A01"] * 4 + ["net"] * 4,
            "kind": ["human"] * 4 + ["model"] * 4,
            "phase": "test",
            "image_id": [f"im{i}" for i in range(4)] * 2,
            "correct_topk": [False, False, False, True, False, True, True, True],  # 3 human errors, 1 model error
        }
    )
    reviews = pd.concat(
        [
            review_rows("R1", "A01", "human", ["other", "fine_grained", "other", "other"]),  # im3 is right under top-k
            review_rows("R1", "net", "model", ["small_thin"]),
            review_rows("R1", "A01", "human", ["class_unawareness"]).assign(phase="training", item="A01:training:0"),
        ],
        ignore_index=True,
    )
    counted, notes = reviews_of_counted_errors(reviews, raters, correct="correct_topk")
    assert sorted(zip(counted["rater"], counted["image_id"])) == [
        ("A01", "im0"),
        ("A01", "im1"),
        ("A01", "im2"),
        ("net", "im0"),
    ]
    assert notes == [
        "2 review(s) of errors outside this analysis (other phases, "
        "or not an error under this rule) are not counted here",
        "errors reviewed: humans 3 of 3; net 1 of 1",
    ]
    table = taxonomy_table(consensus(counted, DEFAULT_TAXONOMY.keys), DEFAULT_TAXONOMY).set_index(["group", "cause"])
    assert table.loc[("humans", "other"), ["errors_reviewed", "count"]].tolist() == [3, 2]
    assert table.loc[("humans", "class_unawareness"), "count"] == 0
    few, notes = reviews_of_counted_errors(reviews.iloc[:1], raters, correct="correct_topk")
    assert len(few) == 1 and notes == ["errors reviewed: humans 1 of 3; net 0 of 1"]

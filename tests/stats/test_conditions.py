"""Per-condition statistics, condition levels and stimulus identity (image, condition).

Small tables are written out in full so that every count can be checked by hand; the
real model-vs-human trial files (/work/shared/data/model-vs-human) are checked against a
direct pandas computation on the raw CSVs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from study_app.errors import InputFileError, StudyError
from study_app.importers import read_model_vs_human
from study_app.stats import error_consistency_table, error_rates, humanlike_metrics, mcnemar_test, raters_from_guesses
from study_app.stats.conditions import (
    CONDITION_COLUMNS,
    condition_analysis,
    condition_consistency,
    condition_level,
    condition_order,
    condition_population,
    condition_rates,
    condition_tests,
    order_note,
)

RAW = Path("/work/shared/data/model-vs-human/raw-data")
PARAMETRIC = [
    "uniform-noise",
    "contrast",
    "low-pass",
    "high-pass",
    "eidolonI",
    "eidolonII",
    "eidolonIII",
    "phase-scrambling",
    "power-equalisation",
    "rotation",
]


def stimulus_table(trials: dict[str, str], models: tuple[str, ...] = ()) -> pd.DataFrame:
    """Raters' trials as ``"image@condition=1"`` (right) or ``=0`` (wrong), space-separated.

    Every image's true label is ``a``; a right trial answers ``a``, a wrong one ``b``.
    """
    rows = []
    for rater, text in trials.items():
        for trial in text.split():
            stimulus, outcome = trial.split("=")
            image, condition = stimulus.split("@")
            rows.append(
                {
                    "rater": rater,
                    "kind": "model" if rater in models else "human",
                    "image_id": image,
                    "phase": "test",
                    "condition": condition,
                    "rank": 1,
                    "label_id": "a" if outcome == "1" else "b",
                }
            )
    images = {row["image_id"] for row in rows}
    return raters_from_guesses(pd.DataFrame(rows), dict.fromkeys(images, ("a",)), k=1)


def row(table: pd.DataFrame, **where) -> pd.Series:
    found = table
    for column, value in where.items():
        found = found[found[column] == value]
    assert len(found) == 1, where
    return found.iloc[0]


# ---------------------------------------------------------------- levels and their order


def test_numeric_levels_sort_by_value_with_inf_last():
    assert condition_order(["inf", "0.35", "0", "0.1", "0.6"]) == ["0", "0.1", "0.35", "0.6", "inf"]
    assert condition_order(["10", "9", "1e-3", "-1"]) == ["-1", "1e-3", "9", "10"]  # not text order ("10" < "9")
    assert order_note(["10", "9", "inf"]) is None


def test_words_and_mixed_levels_sort_as_written_with_a_note():
    assert condition_order(["c50", "c05", "c100"]) == ["c05", "c100", "c50"]
    assert order_note(["c50", "c05"]) is None
    assert condition_order(["c10", "0.5", "c05"]) == ["0.5", "c05", "c10"]
    note = order_note(["c10", "0.5", "c05"])
    assert note is not None and "mix numbers and words" in note and "'0.5'" in note


def test_a_level_has_one_spelling_per_number():
    assert condition_level("0.00") == condition_level("0") == condition_level(" 0.0 ") == "0"
    assert [
        condition_level(text) for text in ("0.90", "3", "3.0", "Inf", "1e-7", "c05", "false", "1-10-10", "NaN", None)
    ] == [
        "0.9",
        "3",
        "3",
        "inf",
        "0.0000001",
        "c05",
        "false",
        "1-10-10",
        "",
        "",
    ]


# ---------------------------------------------------------------- per-condition rates


def test_rates_per_condition_worked_by_hand():
    table = stimulus_table(
        {
            "ann1": "i0@0=1 i1@0=1 i2@0.5=1 i3@0.5=0",
            "ann2": "i0@0=1 i1@0=0 i2@0.5=0 i3@0.5=0",
            "net": "i0@0=1 i1@0=0 i0@0.5=0 i1@0.5=0 i2@0.5=1 i3@0.5=1",
        },
        models=("net",),
    )
    rates = condition_rates(table, n_boot=500)
    assert list(rates.columns) == CONDITION_COLUMNS
    assert list(rates["condition"]) == ["0"] * 4 + ["0.5"] * 4  # levels by value, pooled humans last in each
    assert list(rates["rater"])[:4] == ["ann1", "ann2", "net", "humans (mean of annotators)"]
    expected = {  # (rater, condition): (n, errors)
        ("ann1", "0"): (2, 0),
        ("ann2", "0"): (2, 1),
        ("net", "0"): (2, 1),
        ("ann1", "0.5"): (2, 1),
        ("ann2", "0.5"): (2, 2),
        ("net", "0.5"): (4, 2),
    }
    for (rater, level), (n, errors) in expected.items():
        found = row(rates, rater=rater, condition=level)
        assert (found["n"], found["errors"], found["error_rate"]) == (n, errors, errors / n)
        wilson = proportion_confint(errors, n, method="wilson")
        exact = proportion_confint(errors, n, method="beta")
        assert (found["wilson_low"], found["wilson_high"]) == pytest.approx(wilson, abs=1e-12)
        assert (found["cp_low"], found["cp_high"]) == pytest.approx(exact, abs=1e-12)
        assert np.isnan(found["boot_low"])
    pooled = row(rates, rater="humans (mean of annotators)", condition="0.5")
    assert (pooled["kind"], pooled["n_raters"], pooled["n"], pooled["errors"]) == ("humans", 2, 4, 3)
    assert pooled["error_rate"] == (0.5 + 1.0) / 2  # the mean of the annotators' rates
    assert pooled["boot_low"] <= pooled["error_rate"] <= pooled["boot_high"]
    assert np.isnan(pooled["wilson_low"]) and np.isnan(pooled["cp_low"])


def test_shared_scope_keeps_the_stimuli_some_annotator_and_every_model_saw():
    table = stimulus_table(
        {
            "ann1": "i0@lo=1 i1@lo=0 i3@lo=0",
            "ann2": "i0@lo=0 i4@hi=1",
            "m1": "i0@lo=1 i1@lo=1 i2@lo=0 i3@lo=0 i4@hi=0",
            "m2": "i0@lo=1 i1@lo=0 i2@lo=0 i4@lo=1",
        },
        models=("m1", "m2"),
    )
    rates = condition_rates(table, scope=("all", "shared"), n_boot=200)
    everything = rates[rates["scope"] == "all"]
    shared = rates[rates["scope"] == "shared"]
    # all: each rater's own trials; m2 saw i4 at "lo", a stimulus no annotator saw
    assert row(everything, rater="m1", condition="lo")[["n", "errors"]].tolist() == [4, 2]
    assert row(everything, rater="m2", condition="lo")[["n", "errors"]].tolist() == [4, 2]
    # shared at "lo": seen by an annotator (i0, i1, i3) and by both models (i0, i1, i2, i4 for m2) -> i0, i1
    assert row(shared, rater="m1", condition="lo")[["n", "errors"]].tolist() == [2, 0]
    assert row(shared, rater="m2", condition="lo")[["n", "errors"]].tolist() == [2, 1]
    assert row(shared, rater="ann1", condition="lo")[["n", "errors"]].tolist() == [2, 1]
    assert row(shared, rater="humans (mean of annotators)", condition="lo")["error_rate"] == (0.5 + 1.0) / 2
    # i4 at "hi": ann2 and m1 saw it, m2 did not (it saw i4 at "lo", another stimulus) -> nothing shared at "hi"
    assert not (shared["condition"] == "hi").any()
    assert row(everything, rater="ann2", condition="hi")["n"] == 1


def test_a_table_without_conditions_is_one_level_and_keeps_its_pooled_rates():
    table = stimulus_table({"ann1": "i0@=1 i1@=0", "ann2": "i0@=0 i1@=0", "net": "i0@=1 i1@=1"}, models=("net",))
    rates = condition_rates(table.drop(columns="condition"), n_boot=300, seed=3)
    pooled = error_rates(table, correct="correct_top1", n_boot=300, seed=3)
    assert set(rates["condition"]) == {""}
    for rater in ("ann1", "ann2", "net", "humans (mean of annotators)"):
        mine, theirs = row(rates, rater=rater), row(pooled, rater=rater)
        assert mine[["n", "errors", "error_rate", "wilson_low", "cp_high"]].tolist() == pytest.approx(
            theirs[["n", "errors", "error_rate", "wilson_low", "cp_high"]].tolist(), nan_ok=True
        )
    assert row(rates, rater="humans (mean of annotators)")[["boot_low", "boot_high"]].tolist() == pytest.approx(
        row(pooled, rater="humans (mean of annotators)")[["boot_low", "boot_high"]].tolist()
    )


def test_an_unknown_scope_is_refused():
    table = stimulus_table({"ann1": "i0@0=1"})
    with pytest.raises(ValueError, match="scope 'some'"):
        condition_rates(table, scope="some")


# ---------------------------------------------------------------- stimulus identity


def test_a_model_that_saw_one_image_at_two_conditions_counts_twice():
    table = stimulus_table({"ann1": "i0@0=1 i1@0.5=0", "net": "i0@0=1 i0@0.5=0 i1@0.5=1"}, models=("net",))
    assert len(table[table["rater"] == "net"]) == 3
    assert row(error_rates(table, correct="correct_top1"), rater="net")[["n", "errors"]].tolist() == [3, 1]
    rates = condition_rates(table, n_boot=100)
    assert row(rates, rater="net", condition="0.5")[["n", "errors"]].tolist() == [2, 1]


def test_raters_are_paired_only_on_the_same_stimulus():
    table = stimulus_table({"ann1": "i0@0=1 i1@0=0", "net": "i0@0.5=0 i1@0.5=1"}, models=("net",))
    with pytest.raises(StudyError, match="share no image"):
        mcnemar_test(table, "ann1", "net", correct="correct_top1")  # same images, other level: nothing paired
    assert error_consistency_table(table, correct="correct_top1").empty
    both = stimulus_table({"ann1": "i0@0=1 i1@0=0", "net": "i0@0=0 i1@0=1 i0@0.5=1"}, models=("net",))
    result = mcnemar_test(both, "ann1", "net", correct="correct_top1")
    assert (result.n_images, result.only_a_right, result.only_b_right) == (2, 1, 1)


def test_paired_tests_and_consistency_per_condition():
    table = stimulus_table(
        {
            "ann1": "i0@0=1 i1@0=1 i2@0=0 i3@1=0 i4@1=0",
            "ann2": "i0@0=1 i1@0=0 i2@0=0 i3@1=1 i4@1=0",
            "net": "i0@0=0 i1@0=1 i2@0=0 i3@1=1 i4@1=1",
        },
        models=("net",),
    )
    tests = condition_tests(table, n_boot=200)
    at0 = row(tests, condition="0", rater_a="ann1")
    assert (at0["n_images"], at0["both_right"], at0["only_a_right"], at0["only_b_right"], at0["both_wrong"]) == (
        3,
        1,
        1,
        0,
        1,
    )
    assert at0["mcnemar_p"] == 1.0  # one discordant pair
    humans = row(tests, condition="1", rater_a="humans")
    assert (humans["rater_b"], humans["error_a"], humans["error_b"]) == ("net", 0.75, 0.0)
    per_condition, averaged = condition_consistency(table)
    at1 = row(per_condition, condition="1")
    # ann1 vs net at "1": accuracies 0 and 1 -> c_exp = 0, c_obs = 0 -> kappa 0; ann2: c_obs 0.5, c_exp 0.5 -> kappa 0
    assert (at1["n_humans"], at1["error_consistency"], at1["observed_consistency"]) == (2, 0.0, 0.25)
    assert row(averaged, model="net")["n_conditions"] == 2


def test_analysis_summary_names_levels_and_mixed_orders():
    table = stimulus_table({"ann1": "i0@c10=1 i1@0.5=0", "net": "i0@c10=1 i1@0.5=1"}, models=("net",))
    analysis = condition_analysis(table, n_boot=100)
    assert analysis.levels == "test: 0.5, c10"
    assert analysis.notes and "mix numbers and words" in analysis.notes[0]
    assert set(analysis.rates["scope"]) == {"all", "shared"}
    text = analysis.summary()
    assert "Per-condition statistics" in text and "humans (mean of annotators)" in text


# ---------------------------------------------------------------- importer: sessions and levels


HEADER = "subj,session,trial,rt,object_response,category,condition,imagename\n"


def write_trials(path: Path, rater: str, trials: list[tuple[str, str, str, str]]) -> None:
    """``trials``: (condition, image name, response, category)."""
    lines = [
        f"{rater},1,{i + 1},NaN,{response},{category},{level},{name}"
        for i, (level, name, response, category) in enumerate(trials)
    ]
    path.write_text(HEADER + "\n".join(lines) + "\n")


def test_sessions_are_all_read_and_levels_keep_one_spelling(tmp_path):
    folder = tmp_path / "raw" / "noise"
    folder.mkdir(parents=True)
    write_trials(
        folder / "noise_subject-01_session_1.csv",
        "subject-01",
        [
            ("0.00", "0001_nse_s01_0.00_cat_10_n02123045_1.png", "cat", "cat"),
            ("0.35", "0002_nse_s01_0.35_dog_10_n02084071_2.png", "cat", "dog"),
        ],
    )
    for session in range(1, 8):  # a model run in 7 sessions of different images
        level = "0" if session % 2 else "0.35"
        write_trials(
            folder / f"noise_resnet50_session-{session}.csv",
            "resnet50",
            [
                (level, f"{session:04d}_nse_dnn_{level}_cat_10_n02123045_{session}.png", "cat", "cat"),
            ],
        )
    write_trials(
        folder / "noise_resnet50_session-8.csv",
        "resnet50",
        [
            ("0.35", "0008_nse_dnn_0.35_cat_10_n02123045_1.png", "dog", "cat"),  # image 1 again, at another level
        ],
    )
    raters = read_model_vs_human(tmp_path / "raw", benchmark_conditions_only=False)
    model = raters[raters["rater"] == "resnet50"]
    assert len(model) == 8 and sorted(model["session"]) == list(range(1, 9))
    assert set(raters["condition"].astype(str)) == {"0", "0.35"}  # "0.00" and "0" are one level
    again = model[model["image_id"] == "noise/n02123045_1.png"]
    assert sorted(again["condition"].astype(str)) == ["0", "0.35"]  # one image at two levels: two stimuli
    rates = condition_rates(raters, n_boot=100)
    assert row(rates, rater="resnet50", condition="0")[["n", "errors"]].tolist() == [4, 0]  # sessions 1, 3, 5, 7
    assert row(rates, rater="resnet50", condition="0.35")[["n", "errors"]].tolist() == [4, 1]  # sessions 2, 4, 6, 8
    assert row(rates, rater="noise:subject-01", condition="0.35")[["n", "errors"]].tolist() == [1, 1]


def test_word_levels_stay_as_written(tmp_path):
    folder = tmp_path / "raw" / "contrast"
    folder.mkdir(parents=True)
    write_trials(
        folder / "contrast_subject-01_session_1.csv",
        "subject-01",
        [
            ("c05", "0001_cop_s01_c05_cat_10_n02123045_1.png", "cat", "cat"),
            ("c100", "0002_cop_s01_c100_cat_10_n02123045_2.png", "cat", "cat"),
        ],
    )
    raters = read_model_vs_human(tmp_path / "raw", benchmark_conditions_only=False)
    assert sorted(raters["condition"].astype(str)) == ["c05", "c100"]


def test_one_stimulus_twice_for_a_rater_is_an_error_naming_the_files(tmp_path):
    folder = tmp_path / "raw" / "noise"
    folder.mkdir(parents=True)
    for session in (1, 2):
        write_trials(
            folder / f"noise_resnet50_session-{session}.csv",
            "resnet50",
            [
                ("0.0" if session == 1 else "0", f"000{session}_nse_dnn_0_cat_10_n02123045_1.png", "cat", "cat"),
                ("0.35", f"001{session}_nse_dnn_0.35_cat_10_n02123045_{session + 5}.png", "cat", "cat"),
            ],
        )
    with pytest.raises(
        InputFileError,
        match=(
            r"several trials of image 'noise/n02123045_1.png' at condition "
            r"'0'.*session-1.csv and noise_resnet50_session-2.csv"
        ),
    ):
        read_model_vs_human(tmp_path / "raw", benchmark_conditions_only=False)


# ---------------------------------------------------------------- the real model-vs-human data


def direct_counts(dataset: str) -> pd.DataFrame:
    """Trials and errors per (rater, level) straight from the raw CSVs, levels matched by value."""
    frames = []
    for path in sorted((RAW / dataset).glob(f"{dataset}_*session*.csv")):
        frame = pd.read_csv(path)
        frame.columns = [c.lower() for c in frame.columns]
        frames.append(frame)
    trials = pd.concat(frames, ignore_index=True)
    numeric = pd.to_numeric(trials["condition"], errors="coerce")
    trials["level"] = np.where(numeric.notna(), numeric.astype(float).astype(str), trials["condition"].astype(str))
    trials["rater"] = np.where(
        trials["subj"].str.startswith("subject-"), dataset + ":" + trials["subj"], trials["subj"]
    )
    trials["error"] = trials["object_response"] != trials["category"]
    return trials.groupby(["rater", "level"])["error"].agg(n="size", errors="sum").reset_index()


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_per_condition_accuracies_equal_a_direct_computation_on_the_raw_files():
    raters = read_model_vs_human(RAW, datasets=PARAMETRIC, benchmark_conditions_only=False)
    rates = condition_rates(raters, n_boot=50)
    for dataset in PARAMETRIC:
        mine = rates[rates["phase"] == dataset]
        single = mine[mine["kind"] != "humans"].assign(
            level=lambda t: [str(float(v)) if _is_number(v) else v for v in t["condition"]]
        )
        direct = direct_counts(dataset)
        merged = direct.merge(single, on=["rater", "level"], how="outer", suffixes=("_direct", ""), indicator=True)
        assert (merged["_merge"] == "both").all(), dataset  # every rater and level on both sides
        assert (merged["n_direct"] == merged["n"]).all() and (merged["errors_direct"] == merged["errors"]).all(), (
            dataset
        )
        assert np.allclose(
            1 - merged["error_rate"], 1 - merged["errors_direct"] / merged["n_direct"], rtol=0, atol=1e-15
        )
        assert len(set(merged["rater"])) == 7  # 4 subjects and 3 models
        humans = mine[mine["kind"] == "humans"].set_index("condition")["error_rate"]
        subjects = single[single["kind"] == "human"].groupby("condition")["error_rate"].mean()
        assert np.allclose(humans.sort_index(), subjects.sort_index(), rtol=0, atol=1e-15)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_consistency_per_condition_averages_to_the_benchmark():
    raters = read_model_vs_human(RAW)
    _, averaged = condition_consistency(raters)
    benchmark = humanlike_metrics(raters).set_index("model")
    over_datasets = averaged.groupby("model")[
        ["error_consistency", "observed_consistency", "accuracy_difference"]
    ].mean()
    for model in benchmark.index:
        for metric in over_datasets.columns:
            assert over_datasets.loc[model, metric] == pytest.approx(benchmark.loc[model, metric], abs=1e-12)
    assert round(over_datasets.loc["resnet50", "error_consistency"], 3) == 0.208  # the published value


def test_report_galleries_keep_one_image_at_two_conditions_apart():
    from study_app.report.gallery import model_galleries
    from study_app.stats import plurality_vote

    table = stimulus_table(
        {"ann1": "i0@0=1 i0@0.5=0", "ann2": "i0@0=1 i0@0.5=0", "net": "i0@0=0 i0@0.5=1"}, models=("net",)
    )
    humans_wrong, model_wrong = model_galleries(
        table,
        plurality_vote(table),
        "net",
        correct="correct_top1",
        name=str,
        image_paths={},
        max_pixels=10_000,
        size=5,
        key="test",
    )
    assert [item.image_id for item in humans_wrong.items] == ["i0 @ 0.5"]
    assert [item.image_id for item in model_wrong.items] == ["i0 @ 0"]
    assert (
        model_wrong.items[0].humans == "a x2" and humans_wrong.items[0].humans == "b x2"
    )  # answers of that level only


def test_a_level_with_no_trials_for_a_rater_is_a_note():
    table = stimulus_table({"ann1": "i0@0=1 i1@0.5=0", "net": "i0@0=1"}, models=("net",))
    analysis = condition_analysis(table, n_boot=100)
    assert analysis.notes == ("test: net has no trials at level(s) 0.5",)
    assert not ((analysis.rates["rater"] == "net") & (analysis.rates["condition"] == "0.5")).any()


def test_answers_with_conditions_keep_one_image_at_two_levels_as_two_trials():
    from study_app.stats import raters_from_answers
    from study_app.stats.raters import later_exposures

    answers = pd.DataFrame(
        {
            "annotator": ["ann1"] * 3,
            "phase": ["test"] * 3,
            "trial": [1, 2, 3],
            "image_id": ["i0", "i0", "i0"],
            "rank": [1, 1, 1],
            "label_id": ["a", "b", "a"],
            "rt_ms": [500.0, 600.0, 700.0],
            "outcome": ["answer"] * 3,
            "trial_uuid": ["u1", "u2", "u3"],
            "condition": ["0", "0.5", "0"],
        }
    )
    raters = raters_from_answers(answers, {"i0": ("a",)}, k=1)
    assert list(zip(raters["condition"].astype(str), raters["correct_top1"])) == [("0", True), ("0.5", False)]
    assert later_exposures(answers) == {"ann1": 1}  # only the repeat at level 0
    plain = raters_from_answers(answers.drop(columns="condition"), {"i0": ("a",)}, k=1)
    assert len(plain) == 1 and (plain["condition"] == "").all()  # without conditions: one image, first trial


def test_each_level_gets_the_mixed_model_and_the_score_interval_of_its_own_stimuli():
    """Per condition, the population test is the mixed model fitted on that level's stimuli
    alone, and the annotator-vs-model tests carry Tango's interval and Holm within the level."""
    from study_app.stats.mixed import humans_vs_model_mixed
    from study_app.stats.paired_score import tango_interval

    raters = read_model_vs_human(RAW, ["uniform-noise"], benchmark_conditions_only=False)
    found = condition_population(raters)
    levels = sorted(set(raters["condition"].astype(str)))
    assert len(found) == 3 * len(levels) and set(found["condition"]) == set(levels)
    at = found[(found["condition"] == "0.35") & (found["model"] == "resnet50")].iloc[0]
    alone = humans_vs_model_mixed(raters[raters["condition"].astype(str) == "0.35"], "resnet50", correct="correct_top1")
    assert (at["effect"], at["pvalue"], at["n_images"]) == (alone.effect, alone.pvalue, alone.n_images)
    tests = condition_tests(raters, n_boot=200)
    one = tests[
        (tests["condition"] == "0.35") & (tests["rater_b"] == "resnet50") & (tests["rater_a"] != "humans")
    ].iloc[0]
    # only A wrong = only B right, and the reverse
    low, high = tango_interval(
        np.array([one["only_b_right"]]), np.array([one["only_a_right"]]), np.array([one["n_images"]]), alpha=0.05
    )
    assert (one["score_low"], one["score_high"]) == pytest.approx((low[0], high[0]), rel=1e-12)
    level = tests[(tests["condition"] == "0.35") & tests["mcnemar_p"].notna()]
    assert (level["mcnemar_p_holm"] >= level["mcnemar_p"]).all() and set(level["family"]) == {"humans vs models"}

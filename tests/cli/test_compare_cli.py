"""The compare and plan commands, on demo-digits answered by three scripted annotators."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import binom

from study_app.cli.compare import add_compare_commands
from study_app.errors import InputFileError, StudyError
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame, export_answers

DIGITS = BUNDLED_PROTOCOLS / "demo-digits"
ACCURACY = {"A01": 0.95, "A02": 0.9, "A03": 0.85}
ROOT = Path(__file__).resolve().parents[2]


def scripted_answer(study, annotator: str, image_id: str) -> Response:
    """Right with the annotator's accuracy, else a random digit; 2% 'not sure'."""
    draw = random.Random(f"{annotator}:{image_id}")
    now = utc_now()
    if draw.random() < 0.02:
        return Response((), 900.0, now, now, outcome="not_sure")
    truth = study.truth(image_id)[0]
    guess = truth if draw.random() < ACCURACY[annotator] else draw.choice([label.label_id for label in study.labels])
    return Response((guess,), 400 + 600 * draw.random(), now, now)


def fill_scripted_sessions(store: ResultsStore, study) -> None:
    """Three complete demo-digits sessions answered by :func:`scripted_answer`."""
    for annotator in ACCURACY:
        controller = SessionController(study, store, annotator)
        while not controller.complete:
            controller.submit(scripted_answer(study, annotator, controller.current().image_id))
        controller.finish()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with results/demo-digits/results.sqlite holding three complete sessions."""
    root = tmp_path_factory.mktemp("compare")
    study = load_study(DIGITS, check_images=False)
    store_path = root / "results" / "demo-digits" / "results.sqlite"
    store_path.parent.mkdir(parents=True)
    with ResultsStore(store_path) as store:
        fill_scripted_sessions(store, study)
        export_answers(store, root / "answers.csv")
        answers = answers_frame(store)
    return root, answers, study


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python main.py")
    add_compare_commands(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def plain_error_rates(answers: pd.DataFrame, study) -> dict[str, float]:
    """Each annotator's test-phase error, counted trial by trial without the stats package."""
    rates = {}
    for annotator, rows in answers[answers["phase"] == "test"].groupby("annotator"):
        wrong = [
            trial["outcome"].iloc[0] != "answer"
            or trial["label_id"].iloc[0] not in study.truth(trial["image_id"].iloc[0])
            for _, trial in rows.groupby("trial_uuid")
        ]
        rates[annotator] = sum(wrong) / len(wrong)
    return rates


def test_compare_study_with_default_paths(workspace, monkeypatch, capsys):
    root, answers, study = workspace
    monkeypatch.chdir(root)
    assert run(["compare", "--study", str(DIGITS), "--n-boot", "500"]) == 0
    printed = capsys.readouterr().out
    assert "Error rates" in printed and "Paired comparisons" in printed and "Cochran's Q" in printed
    out = root / "results" / "demo-digits" / "compare"
    every = pd.read_csv(out / "rates.csv")
    rates = every[every["scope"] == "shared"].set_index("rater")
    for annotator, expected in plain_error_rates(answers, study).items():
        assert rates.loc[annotator, "error_rate"] == pytest.approx(expected)
        assert rates.loc[annotator, "n"] == 200
    predictions = pd.read_csv(DIGITS / "predictions" / "models.csv")
    knn = predictions[(predictions["model"] == "knn-5") & predictions["image_id"].isin(study.phase("test").image_ids)]
    top1 = knn[knn["rank"] == 1]
    hit = top1["label_id"] == top1["image_id"].map(lambda i: study.truth(i)[0])
    # the test phase asks for 1 answer, so models are scored top-1 like the annotators
    assert rates.loc["knn-5", "error_rate"] == pytest.approx(1 - hit.mean())
    assert rates.loc["humans (mean of annotators)", "error_rate"] == pytest.approx(
        sum(plain_error_rates(answers, study).values()) / 3
    )
    paired = pd.read_csv(out / "paired.csv")
    assert len(paired) == 3 * 7 + 3  # (3 annotators, humans, 3 crowds) x 3 models + 3 model pairs
    assert (paired["family"] == "humans vs models").sum() == 21 and (paired["family"] == "models vs models").sum() == 3
    single = paired["mcnemar_p"].notna()
    assert (paired.loc[single, "mcnemar_p_holm"] >= paired.loc[single, "mcnemar_p"]).all()
    assert (paired.loc[single, "score_low"] < paired.loc[single, "score_high"]).all()
    assert paired["n_images"].eq(200).all()
    consistency = pd.read_csv(out / "consistency.csv")
    assert len(consistency) == 15 + 1  # 6 raters, every pair, and the annotators' ceiling
    assert consistency["pair"].iloc[-1] == "human ceiling" and consistency["rater_a"].iloc[-1] == "humans"
    assert len(pd.read_csv(out / "consistency_differences.csv")) == 3  # every two of the 3 models
    assert (pd.read_csv(out / "label_agreement.csv")["test"] == "Fleiss' kappa").sum() == 1
    raters = pd.read_csv(out / "raters.csv", keep_default_na=False)
    assert (
        set(raters["phase"]) == {"test", ""} and (raters["phase"] == "test").sum() == 6 * 200
    )  # "": images in no phase
    # scope all: a model's error on every image it predicted outside the phases not analysed (training)
    overall = every[(every["scope"] == "all") & (every["phase"] == "(all)")].set_index("rater")
    trained = set(study.phase("training").image_ids)
    knn_all = predictions[
        (predictions["model"] == "knn-5") & (predictions["rank"] == 1) & ~predictions["image_id"].isin(trained)
    ]
    hit_all = knn_all["label_id"] == knn_all["image_id"].map(lambda i: study.truth(i)[0])
    assert overall.loc["knn-5", "n"] == len(knn_all) > 200 and overall.loc["knn-5", "error_rate"] == pytest.approx(
        1 - hit_all.mean()
    )


def test_compare_json_and_file_mode_agree(workspace, tmp_path, capsys):
    root, _, _ = workspace
    store = root / "results" / "demo-digits" / "results.sqlite"
    assert (
        run(
            [
                "compare",
                "--study",
                str(DIGITS),
                "--store",
                str(store),
                "--n-boot",
                "300",
                "--out",
                str(tmp_path / "a"),
                "--json",
            ]
        )
        == 0
    )
    from_study = json.loads(capsys.readouterr().out)
    assert from_study["study"] == "demo-digits" and from_study["phases"] == ["test"] and from_study["rule"] == "top-k"
    wide = tmp_path / "knn-5.csv"
    predictions = pd.read_csv(DIGITS / "predictions" / "models.csv")
    knn = predictions[predictions["model"] == "knn-5"].pivot(index="image_id", columns="rank", values="label_id")
    knn.rename(columns=lambda r: f"top{r}").reset_index().to_csv(wide, index=False)
    others = tmp_path / "others.csv"
    predictions[predictions["model"] != "knn-5"].to_csv(others, index=False)
    argv = [
        "compare",
        "--answers",
        str(root / "answers.csv"),
        "--truth",
        str(DIGITS / "manifest.csv"),
        "--predictions",
        str(wide),
        str(others),
        "--phase",
        "test",
        "--n-boot",
        "300",
        "--out",
        str(tmp_path / "b"),
        "--json",
    ]
    assert run(argv) == 0
    from_files = json.loads(capsys.readouterr().out)
    assert from_files["study"] == "demo-digits"
    assert pd.DataFrame(from_files["rates"]).equals(pd.DataFrame(from_study["rates"]))
    assert pd.DataFrame(from_files["paired"]).equals(pd.DataFrame(from_study["paired"]))
    # JSON keeps small p-values' significant digits (pandas' to_json kept 10 decimals: an exact McNemar
    # p of 2e-11 became 0.0, one of 8.7e-7 kept 4 digits): the smallest exact McNemar p, from its counts.
    paired = pd.DataFrame(from_study["paired"]).dropna(subset=["mcnemar_p"])
    smallest = paired.loc[paired["mcnemar_p"].idxmin()]
    low, high = sorted((int(smallest["only_a_right"]), int(smallest["only_b_right"])))
    assert smallest["mcnemar_p"] < 1e-5 and smallest["mcnemar_p"] == pytest.approx(
        2 * binom.cdf(low, low + high, 0.5), rel=1e-12
    )


def test_compare_user_errors(workspace, tmp_path):
    root, _, _ = workspace
    with pytest.raises(StudyError, match="no results store here"):
        run(["compare", "--study", str(DIGITS), "--store", str(tmp_path / "none.sqlite")])
    store = str(root / "results" / "demo-digits" / "results.sqlite")
    with pytest.raises(StudyError, match="no phase 'final'; phases: training, test"):
        run(["compare", "--study", str(DIGITS), "--store", store, "--phase", "final"])
    with pytest.raises(StudyError, match="not both"):
        run(["compare", "--study", str(DIGITS), "--answers", "a.csv", "--truth", "m.csv"])
    with pytest.raises(StudyError, match="needs --study"):
        run(["compare", "--answers", "a.csv"])
    stray = tmp_path / "stray.csv"
    stray.write_text("model,image_id,rank,label_id,score\nm,no-such-image,1,digit-1,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="stray.csv:2 \\[image_id\\]: image_id not in the study's manifest"):
        run(["compare", "--study", str(DIGITS), "--store", store, "--predictions", str(stray)])


def test_plan_command(capsys):
    assert (
        run(
            [
                "plan",
                "--human-error",
                "0.051",
                "--model-error",
                "0.068",
                "--discordance",
                "0.06",
                "--simulations",
                "300",
            ]
        )
        == 0
    )
    assert "exact McNemar power" in capsys.readouterr().out
    assert (
        run(
            [
                "plan",
                "--human-error",
                "0.10",
                "--model-error",
                "0.05",
                "--annotators",
                "1",
                "3",
                "--simulations",
                "300",
                "--json",
            ]
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert [row["annotators"] for row in plan["table"]] == [1, 3] and plan["discordance"] == pytest.approx(0.14)
    with pytest.raises(SystemExit) as refused:  # a usage error of argparse: out of its documented range
        run(["plan", "--human-error", "0.1", "--model-error", "0.05", "--power", "1.5"])
    assert refused.value.code == 2


def wired() -> bool:
    from study_app.cli.main import build_parser

    return "compare" in build_parser().format_help()


@pytest.mark.skipif(not wired(), reason="compare is not wired into study_app.cli.main yet")
def test_main_py_compare_subprocess(workspace, tmp_path):
    root, _, _ = workspace
    store = root / "results" / "demo-digits" / "results.sqlite"
    done = subprocess.run(
        [
            sys.executable,
            "main.py",
            "compare",
            "--study",
            "demo-digits",
            "--store",
            str(store),
            "--n-boot",
            "200",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rates.csv").is_file()
    failed = subprocess.run(
        [sys.executable, "main.py", "compare", "--study", "demo-digits", "--store", str(tmp_path / "none.sqlite")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr and "no results store" in failed.stderr


def test_compare_top_k_and_hierarchy_on_the_tiny_study(tiny_study, tmp_path, capsys):
    """Ranked answers and a hierarchy: A01 is right, A02 right only at rank 2 (a sibling
    first), A03 answers a class of the other superclass."""
    study = load_study(tiny_study)
    sibling = {"cat": "dog", "dog": "cat", "car": "bus", "bus": "car"}
    other = {"cat": "car", "dog": "bus", "car": "cat", "bus": "dog"}
    plans = {"A01": lambda t: (t,), "A02": lambda t: (sibling[t], t), "A03": lambda t: (other[t],)}
    store_path = tmp_path / "tiny.sqlite"
    with ResultsStore(store_path) as store:
        for annotator, plan in plans.items():
            controller = SessionController(study, store, annotator)
            while not controller.complete:
                now = utc_now()
                controller.submit(Response(plan(study.truth(controller.current().image_id)[0]), 300.0, now, now))
    for k, expected in ((1, {"A01": 0.0, "A02": 1.0, "A03": 1.0}), (3, {"A01": 0.0, "A02": 0.0, "A03": 1.0})):
        out = tmp_path / f"k{k}"
        assert (
            run(
                [
                    "compare",
                    "--study",
                    str(tiny_study),
                    "--store",
                    str(store_path),
                    "--k",
                    str(k),
                    "--n-boot",
                    "200",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        rates = pd.read_csv(out / "rates.csv").query("scope == 'shared'").set_index("rater")["error_rate"]
        assert {a: rates[a] for a in expected} == expected
    capsys.readouterr()
    raters = pd.read_csv(tmp_path / "k3" / "raters.csv")
    people = raters[raters["kind"] == "human"].groupby("rater")
    assert people["superclass_correct"].all().to_dict() == {"A01": True, "A02": True, "A03": False}
    assert people["lca_depth"].max().to_dict() == {
        "A01": 1.0,
        "A02": 0.0,
        "A03": pytest.approx(float("nan"), nan_ok=True),
    }
    levels = set(pd.read_csv(tmp_path / "k3" / "classes.csv")["level"])
    assert levels == {"class", "superclass"}

"""The comparison report on real data: demo-digits answered through SessionController by
three scripted annotators, and published model-vs-human trials (subjects vs ResNet-50).

Numbers in the page are checked against :mod:`study_app.stats` run independently here.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from study_app.cli.report import add_report_command
from study_app.errors import StudyError
from study_app.importers import read_model_vs_human
from study_app.importers.predictions import read_prediction_files
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study
from study_app.report.tables import interval, percent
from study_app.stats import compare, image_phases, rater_table, shown_images_only
from study_app.stats.results import format_pvalue, format_value
from study_app.store import ResultsStore, answers_frame
from tests.cli.test_compare_cli import fill_scripted_sessions
from tests.report.htmltables import html_tables

DIGITS = BUNDLED_PROTOCOLS / "demo-digits"
RAW = Path("/work/shared/data/model-vs-human/raw-data")
N_BOOT = 400


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python main.py")
    add_report_command(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A demo-digits store with three complete sessions and the report written from it."""
    root = tmp_path_factory.mktemp("report")
    study = load_study(DIGITS, check_images=False)
    store_path = root / "results.sqlite"
    with ResultsStore(store_path) as store:
        fill_scripted_sessions(store, study)
        answers = answers_frame(store)
    argv = [
        "report",
        "--study",
        str(DIGITS),
        "--store",
        str(store_path),
        "--n-boot",
        str(N_BOOT),
        "--k",
        "5",
        "--out",
        str(root / "out"),
    ]
    assert run(argv) == 0
    return root / "out", argv, answers, study


def expected_comparison(answers, study):
    predictions = read_prediction_files(list(study.prediction_files), set(study.images))
    raters = rater_table(answers, predictions, study, k=5, labels=study.labels, phase_of=image_phases(study))
    raters = shown_images_only(raters[raters["phase"] == "test"].reset_index(drop=True))
    return compare(raters, alpha=0.05, rule="top-k", k=5, n_boot=N_BOOT, seed=0, labels=study.labels)


def test_digits_report_files_are_self_contained(digits):
    out, _, _, _ = digits
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/svg+xml;base64,') == 6  # error dots, heatmap, learning curve, 3 scatters
    assert page.count('<img src="data:image/png;base64,') > 0  # gallery thumbnails
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "<script" not in page.lower()
    assert "Error taxonomy" not in page  # no review data yet
    for stem in ("error-rates-test", "consistency-test", "learning-curve-test", "class-scatter-test-knn-5"):
        assert (out / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / "figures" / f"{stem}.svg").read_bytes()[:1000]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "![top-5 error with 95% intervals](figures/error-rates-test.png)" in markdown
    for linked in re.findall(r"\]\(((?:figures|tables|thumbnails)/[^)]+)\)", markdown):
        assert (out / linked).is_file(), linked
    study_facts = dict(pd.read_csv(out / "tables" / "study.csv").values)
    assert study_facts["protocol hash"] == load_study(DIGITS, check_images=False).protocol_hash
    assert study_facts["sessions"] == "3" and study_facts["annotators"] == "3: A01, A02, A03"


def test_the_wording_claims_only_what_was_computed(digits):
    """No sentence claims pairing or sameness of images, or a model type, that the computation did not use:
    the pairs' image counts are stated from the paired table, the trend is named for the regression it is,
    and the mixed model is named only beside its table."""
    out, _, _, _ = digits
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for claim in (
        "rated the same images",
        "Paired comparisons on the same images",
        "conditional logistic",
        "majority vote",
    ):
        assert claim not in markdown, claim
    paired = pd.read_csv(out / "tables" / "paired.csv")
    low, high = paired["n_images"].min(), paired["n_images"].max()
    counted = f"{low}" if low == high else f"from {low} to {high}"
    assert f"compared only on the stimuli both of them saw ({counted} per pair" in markdown
    population = pd.read_csv(out / "tables" / "population.csv")
    assert len(population) == 3 and markdown.count("logistic mixed model") == 2  # the table's title and its note
    models = pd.read_csv(out / "tables" / "all_images.csv")
    assert (
        set(models["kind"]) == {"model"} and (models["n"] > 200).all()
    )  # demo-digits' models predicted more than the test phase


def test_digits_numbers_match_the_stats_module(digits):
    out, _, answers, study = digits
    expected = expected_comparison(answers, study)
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    headline = {row["rater"]: row for row in tables["Error rates"]}
    for row in expected.rates.itertuples():
        shown = headline[row.rater]
        assert shown["n"] == str(row.n) and shown["top-5 error"] == percent(row.error_rate)
        low, high = (row.boot_low, row.boot_high) if row.kind == "humans" else (row.wilson_low, row.wilson_high)
        assert shown["top-5 95% interval"] == interval(low, high)
    csv = pd.read_csv(out / "tables" / "headline.csv").set_index("rater")
    assert csv["error top-5"].to_dict() == pytest.approx(expected.rates.set_index("rater")["error_rate"].to_dict())
    paired = {(row["A"], row["B"]): row for row in tables["Paired comparisons on the stimuli both raters saw"]}
    for row in expected.paired.dropna(subset=["mcnemar_p"]).itertuples():
        shown = paired[(row.rater_a, row.rater_b)]
        assert shown["McNemar p"] == format_value(row.mcnemar_p) and shown["only A right"] == str(int(row.only_a_right))
        assert shown["95% bootstrap"] == interval(row.boot_low, row.boot_high)
    consistency = {(row["A"], row["B"]): row for row in tables["Error consistency of every pair of raters"]}
    for row in expected.consistency.itertuples():
        shown = consistency[(row.rater_a, row.rater_b)]
        assert shown["kappa"] == format_value(row.kappa)
        assert shown["interval"] == (
            ""
            if math.isnan(row.kappa_ci_low)
            else f"[{format_value(row.kappa_ci_low)}, {format_value(row.kappa_ci_high)}]"
        )
        if row.pair == "human ceiling":  # the annotators' mean over their pairs: no range, no test
            assert (shown["attainable range"], shown["p"], shown["Holm p"]) == ("", "", "")
            continue
        assert shown["attainable range"] == f"[{format_value(row.kappa_min)}, {format_value(row.kappa_max)}]"
        assert shown["p"] == format_pvalue(row.pvalue) and shown["Holm p"] == format_pvalue(row.pvalue_holm)
    assert list(consistency)[-1] == ("humans", "humans (mean over pairs)")
    differences = tables["Which model errs more like the annotators?"]
    assert len(differences) == len(expected.consistency_differences) == 3
    trend = tables["Error over the trials of a session"][0]
    assert trend["odds ratio per 100 trials"] == format_value(float(expected.trend["odds_ratio_per_100"].iloc[0]))
    assert [row["class"] for row in tables["Errors per class and superclass"]][0].endswith(")")  # names, not ids


def test_same_inputs_give_the_same_bytes(digits):
    out, argv, _, _ = digits
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert run(argv) == 0
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys()
    stamp = re.compile(rb"Generated [0-9T:.+-]+")
    for name, content in first.items():
        assert stamp.sub(b"", content) == stamp.sub(b"", second[name]), name


@pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")
def test_model_vs_human_subjects_vs_resnet50(tmp_path):
    argv = [
        "report",
        "--model-vs-human",
        str(RAW),
        "--dataset",
        "edge",
        "--models",
        "resnet50",
        "--n-boot",
        "300",
        "--out",
        str(tmp_path),
    ]
    assert run(argv) == 0
    raters = shown_images_only(read_model_vs_human(RAW, ["edge"]))
    raters = raters[(raters["kind"] == "human") | (raters["rater"] == "resnet50")].reset_index(drop=True)
    expected = compare(raters, alpha=0.05, rule="top-1", k=1, n_boot=300, seed=0)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    tables = html_tables(page)
    headline = {row["rater"]: row for row in tables["Error rates"]}
    assert len([r for r in headline.values() if r["kind"] == "human"]) == 10 and "bagnet33" not in headline
    for row in expected.rates.itertuples():
        assert headline[row.rater]["top-1 error"] == percent(row.error_rate) and headline[row.rater]["n"] == str(row.n)
    gee = next(
        r
        for r in tables["Paired comparisons on the stimuli both raters saw"]
        if r["A"] == "humans (mean of annotators)"
    )
    assert (
        gee["GEE p"] == format_pvalue(float(expected.paired.dropna(subset=["gee_p"])["gee_p"].iloc[0])) == "< 1e-16"
    )  # 1.7e-144
    assert "image file not available" in page  # the raw data has no images: listed, not failed
    assert "top-1 error" in tables["Error rates"][0] and "top-5 error" not in tables["Error rates"][0]


def test_user_errors(digits, tmp_path):
    out, _, _, _ = digits
    with pytest.raises(StudyError, match="exactly one source"):
        run(["report"])
    with pytest.raises(StudyError, match="exactly one source"):
        run(["report", "--study", str(DIGITS), "--model-vs-human", str(RAW), "--dataset", "edge"])
    with pytest.raises(StudyError, match="--answers and --truth go together"):
        run(["report", "--answers", "a.csv"])
    with pytest.raises(StudyError, match="needs --dataset"):
        run(["report", "--model-vs-human", str(RAW)])
    with pytest.raises(SystemExit) as refused:  # a usage error of argparse: out of its documented range
        run(["report", "--study", str(DIGITS), "--n-boot", "5"])
    assert refused.value.code == 2
    store = out.parent / "results.sqlite"
    with pytest.raises(StudyError, match="no model 'gpt' in the data; models: knn-5"):
        run(["report", "--study", str(DIGITS), "--store", str(store), "--models", "gpt", "--out", str(tmp_path)])


def test_tidy_files_give_the_same_report_numbers(digits, tmp_path):
    out, _, _, _ = digits
    from study_app.store import export_answers

    with ResultsStore(out.parent / "results.sqlite", readonly=True) as store:
        export_answers(store, tmp_path / "answers.csv")
    argv = [
        "report",
        "--answers",
        str(tmp_path / "answers.csv"),
        "--truth",
        str(DIGITS / "manifest.csv"),
        "--phase",
        "test",
        "--predictions",
        *map(str, load_study(DIGITS, check_images=False).prediction_files),
        "--n-boot",
        str(N_BOOT),
        "--k",
        "5",
        "--out",
        str(tmp_path / "files"),
    ]
    assert run(argv) == 0
    from_files = pd.read_csv(tmp_path / "files" / "tables" / "headline.csv")
    from_store = pd.read_csv(out / "tables" / "headline.csv")
    assert from_files.equals(from_store)
    page = (tmp_path / "files" / "index.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') > 0  # thumbnails found through the manifest's paths


def test_the_report_can_leave_out_interrupted_trials(digits, tmp_path):
    """``--exclude-interrupted``, as in compare: A01's five test trials during which the window
    lost focus leave the report's numbers, and the command written into the report says so."""
    from study_app.protocol.responses import Event

    out, _, _, _ = digits
    store_path = tmp_path / "results.sqlite"
    shutil.copyfile(out.parent / "results.sqlite", store_path)
    with ResultsStore(store_path) as store:
        session = store.load_session(
            store.conn.execute("SELECT uuid FROM sessions WHERE annotator_id = 'A01'").fetchone()[0]
        )
        for trial in [t for t in session.trials if t.phase == "test"][:5]:
            store.log_events(session, [Event("focus_lost", 100.0)], trial)
    common = ["report", "--study", str(DIGITS), "--store", str(store_path), "--n-boot", "200", "--gallery-size", "0"]
    assert run([*common, "--out", str(tmp_path / "all")]) == 0
    assert run([*common, "--exclude-interrupted", "--out", str(tmp_path / "attentive")]) == 0
    every = pd.read_csv(tmp_path / "all" / "tables" / "headline.csv").set_index("rater")["n"]
    attentive = pd.read_csv(tmp_path / "attentive" / "tables" / "headline.csv").set_index("rater")["n"]
    assert every["A01"] == 200 and attentive["A01"] == 195
    assert attentive["A02"] == every["A02"] == 200 and attentive["knn-5"] == every["knn-5"]
    facts = pd.read_csv(tmp_path / "attentive" / "tables" / "study.csv").set_index("item")["value"]
    assert "--exclude-interrupted" in facts["command"].split()
    assert (
        "--exclude-interrupted"
        not in pd.read_csv(tmp_path / "all" / "tables" / "study.csv").set_index("item")["value"]["command"]
    )

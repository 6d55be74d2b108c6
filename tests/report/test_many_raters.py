"""Many annotators: pairwise tables are summarised on the page, every pair stays in the CSV files.

With 100 annotators the consistency table has 5,000+ pairs; the page shows its spread per
pairing (checked here against the per-pair numbers, median and range by hand) and the
CSV files keep every row, so nothing is lost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study_app.analysis.resampling import Resampling
from study_app.report import ReportData, Settings, analyse, build_document, write_document
from study_app.report.figures import MAX_NAMED_RATERS
from study_app.stats import HUMANS_MEAN, raters_from_guesses
from study_app.stats.results import format_value
from tests.report.htmltables import html_tables

PEOPLE = 12


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> tuple[ReportData, pd.DataFrame]:
    """12 annotators and 2 models on 40 images of 4 classes (no image files: galleries list the reason)."""
    rng = np.random.default_rng(12)
    classes = ["w", "x", "y", "z"]
    truth = {f"img{i:02d}": (classes[i % 4],) for i in range(40)}
    rows = []
    raters = [(f"A{p:02d}", "human", 0.55 + 0.03 * p) for p in range(PEOPLE)] + [
        ("net-1", "model", 0.8),
        ("net-2", "model", 0.6),
    ]
    for rater, kind, accuracy in raters:
        for i, (image_id, (label,)) in enumerate(truth.items()):
            guess = label if rng.random() < accuracy else classes[rng.integers(4)]
            rows.append(
                {
                    "rater": rater,
                    "kind": kind,
                    "image_id": image_id,
                    "phase": "test",
                    "trial": i if kind == "human" else None,
                    "rt_ms": 400.0 + 5 * i if kind == "human" else float("nan"),
                    "outcome": "answer",
                    "rank": 1,
                    "label_id": guess,
                }
            )
    table = raters_from_guesses(pd.DataFrame(rows), truth, k=1)
    data = ReportData("many", table, "top-1", 1, (("study", "many raters"),), image_paths={})
    out = tmp_path_factory.mktemp("many") / "report"
    settings = Settings(Resampling(n_boot=200), pair_rows=20)
    analysis = analyse(data, settings)
    write_document(build_document(data, settings, analysis, generated_at="now"), out)
    return analysis.comparison, out


def test_consistency_is_summarised_by_pairing_and_every_pair_is_in_the_csv(many):
    comparison, out = many
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    shown = {row["pairs"]: row for row in tables["Error consistency of every pair of raters"]}
    assert list(shown) == [
        "annotator - annotator",
        "human ceiling",
        "annotator - net-1",
        "annotator - net-2",
        "net-1 - net-2",
    ]
    pairs = comparison.consistency
    among = pairs[(pairs["kind_a"] == "human") & (pairs["kind_b"] == "human") & (pairs["pair"] != "human ceiling")]
    ceiling = pairs[pairs["pair"] == "human ceiling"].iloc[0]
    assert shown["human ceiling"]["n pairs"] == "1" and shown["human ceiling"]["mean kappa"] == format_value(
        float(among["kappa"].mean())
    )
    assert ceiling["kappa"] == pytest.approx(among["kappa"].mean())
    assert shown["annotator - annotator"]["Holm p < 0.05"] == str(int((among["pvalue_holm"] < 0.05).sum()))
    assert shown["annotator - annotator"]["n pairs"] == str(PEOPLE * (PEOPLE - 1) // 2) == str(len(among))
    assert shown["annotator - annotator"]["median kappa"] == format_value(float(np.median(among["kappa"])))
    assert (
        shown["annotator - annotator"]["range"]
        == f"[{format_value(float(among['kappa'].min()))}, {format_value(float(among['kappa'].max()))}]"
    )
    assert shown["annotator - annotator"]["p < 0.05"] == str(int((among["pvalue"] < 0.05).sum()))
    with_net1 = pairs[(pairs["rater_a"] == "net-1") | (pairs["rater_b"] == "net-1")]
    assert shown["annotator - net-1"]["n pairs"] == str(PEOPLE)
    assert shown["annotator - net-1"]["mean kappa"] == format_value(
        float(with_net1[with_net1["kind_a"] != with_net1["kind_b"]]["kappa"].mean())
    )
    on_file = pd.read_csv(out / "tables" / "consistency.csv")
    assert len(on_file) == len(pairs) == (PEOPLE + 2) * (PEOPLE + 1) // 2 + 1  # every pair and the ceiling
    assert np.allclose(on_file["kappa"], pairs["kappa"])


def test_label_agreement_is_summarised_per_statistic(many):
    comparison, out = many
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    shown = {row["pairs"]: row for row in tables["Agreement of the annotators' labels"]}
    cohen = comparison.label_agreement[comparison.label_agreement["test"] == "Cohen's kappa"]
    assert shown["Cohen's kappa"]["n pairs"] == str(len(cohen)) == str(PEOPLE * (PEOPLE - 1) // 2)
    assert shown["Cohen's kappa"]["median kappa"] == format_value(float(cohen["kappa"].median()))
    assert (
        shown["Fleiss' kappa"]["n pairs"] == "1" and shown["Fleiss' kappa"]["p < 0.05"] == ""
    )  # Fleiss has no p-value here
    assert len(pd.read_csv(out / "tables" / "label_agreement.csv")) == len(comparison.label_agreement)


def test_paired_table_shows_the_pooled_comparisons_and_keeps_every_pair_on_file(many):
    comparison, out = many
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    shown = [(row["A"], row["B"]) for row in tables["Paired comparisons on the stimuli both raters saw"]]
    assert shown and not any(a.startswith("A") and a[1:].isdigit() for a, _ in shown)  # no single annotator on the page
    assert (HUMANS_MEAN, "net-1") in shown and ("net-1", "net-2") in shown
    assert len(pd.read_csv(out / "tables" / "paired.csv")) == len(comparison.paired) > 20


def test_a_small_study_keeps_every_pair_on_the_page(tmp_path):
    rows = []
    for rater, kind in (("A", "human"), ("B", "human"), ("m", "model")):
        for i in range(6):
            rows.append(
                {
                    "rater": rater,
                    "kind": kind,
                    "image_id": f"i{i}",
                    "phase": "test",
                    "trial": i,
                    "rt_ms": 300.0,
                    "outcome": "answer",
                    "rank": 1,
                    "label_id": "a" if (i + len(rater) + (kind == "model")) % 3 else "b",
                }
            )
    data = ReportData(
        "small",
        raters_from_guesses(pd.DataFrame(rows), {f"i{i}": ("a",) for i in range(6)}, k=1),
        "top-1",
        1,
        (),
        image_paths={},
    )
    settings = Settings(Resampling(n_boot=200))
    write_document(build_document(data, settings, analyse(data, settings), generated_at="now"), tmp_path)
    tables = html_tables((tmp_path / "index.html").read_text(encoding="utf-8"))
    shown = [(row["A"], row["B"]) for row in tables["Error consistency of every pair of raters"]]
    assert shown == [("A", "B"), ("A", "m"), ("B", "m"), ("humans", "humans (mean over pairs)")]


def test_figures_name_a_bounded_number_of_annotators():
    from study_app.report import figures

    people = MAX_NAMED_RATERS + 20
    names = [f"P{i:03d}" for i in range(people)] + ["net"]
    a, b = np.triu_indices(len(names), k=1)
    kinds = np.array(["human"] * people + ["model"])
    pairs = pd.DataFrame(
        {
            "rater_a": np.array(names)[a],
            "rater_b": np.array(names)[b],
            "kind_a": kinds[a],
            "kind_b": kinds[b],
            "kappa": np.linspace(-0.5, 0.5, len(a)),
        }
    )
    heatmap = figures.consistency_heatmap("h", pairs)
    assert "one annotator in 2" in heatmap.caption and b"net" in heatmap.svg
    ceiling = {
        "rater_a": "humans",
        "rater_b": "humans (mean over pairs)",
        "kind_a": "human",
        "kind_b": "human",
        "kappa": 0.3,
        "pair": "human ceiling",
    }
    with_ceiling = pd.concat([pairs.assign(pair="human-human"), pd.DataFrame([ceiling])], ignore_index=True)
    assert (
        b"mean over pairs" not in figures.consistency_heatmap("h", with_ceiling).svg
    )  # a row of the table, not a rater
    headline = pd.DataFrame({"rater": names, "kind": kinds, "error top-1": 0.2, "low top-1": 0.1, "high top-1": 0.3})
    dots = figures.error_dots("d", headline, "top-1")
    assert f"The {people} annotators are the small dots" in dots.caption

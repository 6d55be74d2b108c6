"""Hostile names stay text: HTML, Markdown, figures and spreadsheet-safe CSV; the taxonomy hook."""

from __future__ import annotations

import pandas as pd
from PIL import Image

from study_app.analysis.resampling import Resampling
from study_app.protocol.labels import Label, LabelSet
from study_app.report import ReportData, Settings, write_report
from study_app.stats import raters_from_guesses
from tests.report.htmltables import html_tables

EVIL = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'


def hostile_data(tmp_path) -> ReportData:
    """Three annotators (one with a lone ``$``, which matplotlib would read as maths) and a
    model on 12 images of three classes, one named ``<script>...``; real PNG files, one truncated."""
    labels = LabelSet((Label("evil", EVIL), Label("formula", FORMULA), Label("plain", "plain $x$ & <b>bold</b>")))
    ids = ["evil", "formula", "plain"]
    truth = {f"img{i:02d}": (ids[i % 3],) for i in range(12)}
    paths = {}
    for i, image_id in enumerate(truth):
        paths[image_id] = tmp_path / f"{image_id}.png"
        Image.new("RGB", (40, 30), (20 * i, 100, 200)).save(paths[image_id])
    paths["img01"].write_bytes(paths["img01"].read_bytes()[:60])  # truncated
    rows = []
    for rater, kind, shift in (
        ("<b>A01</b>", "human", 0),
        ("A02", "human", 1),
        ("A$03", "human", 2),
        ("model=1+1", "model", 3),
    ):
        for i, image_id in enumerate(truth):
            guess = ids[i % 3] if (i + shift) % 4 else ids[(i + 1) % 3]
            rows.append(
                {
                    "rater": rater,
                    "kind": kind,
                    "image_id": image_id,
                    "phase": "test",
                    "trial": i if kind == "human" else None,
                    "rt_ms": 500.0 + 10 * i if kind == "human" else float("nan"),
                    "outcome": "answer",
                    "rank": 1,
                    "label_id": guess,
                }
            )
    raters = raters_from_guesses(pd.DataFrame(rows), truth, k=1, labels=labels)
    facts = (("study", f"{EVIL} study"), ("command", "python main.py report --study '<script>'"))
    return ReportData(EVIL, raters, "top-1", 1, facts, labels, paths)


def test_hostile_names_are_escaped_everywhere(tmp_path):
    out = tmp_path / "out"
    write_report(hostile_data(tmp_path), Settings(Resampling(n_boot=200)), out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tables = html_tables(page)
    assert {row["rater"] for row in tables["Error rates"]} >= {"<b>A01</b>", "model=1+1"}  # shown as the text it is
    assert any(row["true class"] == EVIL for row in tables["Most confused pairs (top-1 answers)"])
    assert "truncated" in page  # the broken image is listed with its reason
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script" not in markdown.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    confusions = pd.read_csv(out / "tables" / "confusions.csv", dtype=str, keep_default_na=False)
    assert "'" + FORMULA in set(confusions["truth_name"]) | set(confusions["label_name"])
    assert not any(
        cell.startswith(("=", "+", "@"))
        for path in (out / "tables").glob("*.csv")
        for cell in pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
    )


def test_error_taxonomy_appears_only_with_review_data(tmp_path):
    data = hostile_data(tmp_path)
    reviews = pd.DataFrame(
        {"rater": ["model=1+1", "A02"], "category": ["fine-grained", "<i>class unawareness</i>"], "errors": [3, 1]}
    )
    write_report(
        ReportData(**{**data.__dict__, "reviews": reviews}), Settings(Resampling(n_boot=200)), tmp_path / "out"
    )
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Error taxonomy" in page and "&lt;i&gt;class unawareness&lt;/i&gt;" in page
    assert pd.read_csv(tmp_path / "out" / "tables" / "error_taxonomy.csv")["category"].tolist() == [
        "<i>class unawareness</i>",
        "fine-grained",
    ]

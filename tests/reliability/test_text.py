"""Unicode, emoji, right-to-left, very long and HTML-like names in the real widgets, and text
cells that a spreadsheet would run as formulas in every CSV the program writes."""

from __future__ import annotations

import pandas as pd
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QTextDocument
from PyQt5.QtWidgets import QLabel

from study_app.io.csvfiles import write_csv
from study_app.protocol.responses import Response, utc_now
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, export_answers, import_answers, read_export
from tests.factory import make_study
from tests.gui.conftest import Session
from tests.gui.keys import press, wait_for_trial

LONG = "Very long class name " + "with many words " * 25 + "end"
NAMES = {
    "cat": ("Straße ÄÖÜ 🐱 cat", "ünï;çødé"),
    "dog": ("كلب عربي", "חתול עברי"),  # right-to-left: Arabic name, Hebrew synonym
    "car": (LONG, "car"),
    "bus": ("<b>bold</b> & <img src='x.png'> bus", "<script>alert(1)</script>"),
}


def shown_text(label: QLabel) -> str:
    """What a QLabel displays: its rich text rendered to plain text, or the text itself."""
    if label.textFormat() == Qt.PlainText:
        return label.text()
    if label.textFormat() == Qt.RichText or Qt.mightBeRichText(label.text()):
        document = QTextDocument()
        document.setHtml(label.text())
        return document.toPlainText()
    return label.text()


@pytest.fixture
def exotic_study(tmp_path):
    root = make_study(tmp_path / "exotic")
    rows = [
        [label_id, name, f"{name};{synonym}", f"definition of {name}"] for label_id, (name, synonym) in NAMES.items()
    ]
    write_csv(root / "labels.csv", ["label_id", "name", "synonyms", "definition"], rows)
    toml = (root / "study.toml").read_text().replace('name = "training"', 'name = "training <i>one</i> 🐱"')
    (root / "study.toml").write_text(toml)
    return root


def search(qtbot, window, query: str) -> str:
    """Type ``query`` (set as typed: QTest cannot type every script); the top result's text."""
    window.trial.picker.search.setText(query)
    qtbot.wait(10)
    model = window.trial.picker.results_model
    return model.data(model.index(0))


@pytest.mark.parametrize("label_id", list(NAMES))
def test_names_are_found_shown_and_stored_exactly(qtbot, exotic_study, tmp_path, label_id):
    name, synonym = NAMES[label_id]
    session = Session(qtbot, exotic_study, tmp_path / "results" / "results.sqlite")
    window = session.open(f"U{list(NAMES).index(label_id)}")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return)
    wait_for_trial(qtbot, window)
    assert shown_text(window.trial.heading).startswith("Training <i>one</i> 🐱")  # a phase name is text, not markup
    assert name in search(qtbot, window, synonym[:12])  # found by a synonym, shown by its name
    assert name in shown_text(window.trial.picker.details)
    press(qtbot, Qt.Key_Return)
    assert window.trial.slots.labels == (label_id,)
    assert window.trial.slots.item(0).text() == f"1. {name}"
    assert shown_text(window.trial.status) == f"added {name}"
    assert window.width() <= 1600 and window.trial.minimumSizeHint().width() < 1280  # long names wrap or scroll
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    assert window.pages.currentWidget() is window.feedback
    assert name in shown_text(window.feedback.given)
    assert "<" not in name or "<b>" not in shown_text(window.feedback.given).replace(name, "")
    session.close(window)
    with ResultsStore(session.store_path, readonly=True) as store:
        assert store.conn.execute("SELECT label_id FROM answers").fetchall() == [(label_id,)]


def test_formula_cells_are_neutralised_in_exports_and_restored_on_import(tiny_study, tmp_path):
    """Label ids, flag notes and annotator ids starting with = + - @ (and tab, CR) are prefixed with
    an apostrophe in the CSV export, and import restores every original exactly."""
    formulas = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "'quoted"]
    root = make_study(tmp_path / "formula")
    rows = [[f, f"class {i}", "", ""] for i, f in enumerate(formulas[:4])]
    write_csv(root / "labels.csv", ["label_id", "name", "synonyms", "definition"], rows)
    manifest = (root / "manifest.csv").read_text().splitlines()
    mapping = dict(zip(["cat", "dog", "car", "bus"], formulas[:4]))
    fixed = [manifest[0]] + [
        ",".join(r.split(",")[:2] + [mapping[r.split(",")[2]], r.split(",")[3]]) for r in manifest[1:]
    ]
    (root / "manifest.csv").write_text("\n".join(fixed) + "\n")
    for name in ("hierarchy.csv", "nodes.csv", "examples.csv", "predictions.csv"):
        (root / name).unlink()
    toml = (root / "study.toml").read_text()
    for line in (
        'hierarchy = "hierarchy.csv"\n',
        'nodes = "nodes.csv"\n',
        'examples = "examples.csv"\n',
        '[models]\npredictions = ["predictions.csv"]\n',
    ):
        toml = toml.replace(line, "")
    (root / "study.toml").write_text(toml)
    from study_app.protocol.study import load_study

    study = load_study(root)
    store_path = tmp_path / "r.sqlite"
    with ResultsStore(store_path) as store:
        controller = SessionController(study, store, "A01")
        for note in formulas:
            now = utc_now()
            controller.submit(Response((formulas[len(note) % 4],), 5.0, now, now, flag="ambiguous", flag_note=note))
        out = export_answers(store, tmp_path / "export" / "answers.csv")
    cells = pd.read_csv(out, dtype=str, keep_default_na=False).to_numpy().ravel()
    assert not any(str(cell).startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert '\'=HYPERLINK("http://evil")' in set(cells) and "''quoted" in set(cells)
    back = read_export(out)
    assert set(back["flag_note"]) == set(formulas) and set(back["label_id"]) <= set(formulas)
    with ResultsStore(tmp_path / "again.sqlite") as again:
        assert import_answers(again, out) == len(formulas)
        notes = {row[0] for row in again.conn.execute("SELECT note FROM flags")}
    assert notes == set(formulas)

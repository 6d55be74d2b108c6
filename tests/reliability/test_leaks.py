"""No ground truth reaches the annotator: file names, paths and image ids never appear in any
widget, title, tooltip, accessible name or log of the real window, and training feedback only
appears in phases with feedback."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QGroupBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from study_app.gui.pages import FeedbackPage
from study_app.io.csvfiles import write_csv
from tests.factory import make_study
from tests.gui.conftest import Session
from tests.gui.keys import press, type_text, wait_for_trial
from tests.gui.test_picker_gui import open_first_trial

ROLES = (
    Qt.DisplayRole,
    Qt.ToolTipRole,
    Qt.StatusTipRole,
    Qt.WhatsThisRole,
    Qt.AccessibleTextRole,
    Qt.AccessibleDescriptionRole,
)


def leaky_study(root: Path) -> Path:
    """The tiny study with the truth in every file name, folder and image id."""
    make_study(root)
    rows = (root / "manifest.csv").read_text().splitlines()[1:]
    manifest = []
    for row in rows:
        image_id, path, label, split = row.split(",")
        number = image_id.split("-")[1]
        new_path = f"images/truth-{label}/{label}-photo-{number}.png"
        (root / new_path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).rename(root / new_path)
        manifest.append([f"IMGID-{label}-{number}", new_path, label, split])
    write_csv(root / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)
    (root / "predictions.csv").unlink()
    text = (root / "study.toml").read_text().replace('[models]\npredictions = ["predictions.csv"]\n', "")
    (root / "study.toml").write_text(text)
    return root


def widget_texts(widget: QWidget, skip_models: tuple = ()) -> list[str]:
    """Every text the widget shows or announces (assistive technology included)."""
    texts = [
        widget.windowTitle(),
        widget.toolTip(),
        widget.statusTip(),
        widget.whatsThis(),
        widget.accessibleName(),
        widget.accessibleDescription(),
    ]
    if isinstance(widget, (QLabel, QAbstractButton)):
        texts.append(widget.text())
    if isinstance(widget, QLineEdit):
        texts += [widget.text(), widget.placeholderText()]
    if isinstance(widget, QTextEdit):
        texts.append(widget.toPlainText())
    if isinstance(widget, QGroupBox):
        texts.append(widget.title())
    if isinstance(widget, QProgressBar):
        texts.append(widget.text())
    if isinstance(widget, QTabWidget):
        texts += [widget.tabText(i) for i in range(widget.count())] + [
            widget.tabToolTip(i) for i in range(widget.count())
        ]
    if isinstance(widget, QAbstractItemView) and widget.model() is not None and widget not in skip_models:
        texts += model_texts(widget.model())
    return [t for t in texts if t]


def model_texts(model, parent=None) -> list[str]:
    from PyQt5.QtCore import QModelIndex

    parent = parent or QModelIndex()
    try:
        columns, tree = max(1, model.columnCount(parent)), True
    except TypeError:  # a flat list model: one column, no children (PyQt makes those methods private)
        columns, tree = 1, False
    texts = []
    for row in range(model.rowCount(parent)):
        for column in range(columns):
            index = model.index(row, column, parent)
            texts += [str(v) for v in (model.data(index, role) for role in ROLES) if v]
            if tree and model.hasChildren(index) and len(texts) < 50_000:
                texts += model_texts(model, index)
    return texts


def everything_on_screen(window, skip_models: tuple = (), visible_only: bool = False) -> str:
    """Texts of every widget of the window, hidden ones too unless ``visible_only``."""
    widgets = [w for w in (window, *window.findChildren(QWidget)) if w.isVisible() or not visible_only]
    return "\n".join(text for widget in widgets for text in widget_texts(widget, skip_models))


def forbidden_names(study, image_id: str) -> list[str]:
    record = study.images[image_id]
    path = Path(record.path)
    return [image_id, path.name, path.stem, path.parent.name, str(path), str(path.relative_to(study.root))]


def truth_words(study, image_id: str) -> re.Pattern:
    names = {n for label_id in study.truth(image_id) for n in (label_id, *study.labels[label_id].all_names)}
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names)) + r")\b", re.IGNORECASE)


@pytest.fixture
def leaky_session(qtbot, tmp_path):
    """A session on the leaky study whose first test image breaks after validation (a failing disk):
    the window must skip it without naming it."""
    session = Session(qtbot, leaky_study(tmp_path / "leaky"), tmp_path / "results" / "results.sqlite")
    broken = session.study.images[session.study.phase("test").image_ids[0]].path
    broken.write_bytes(broken.read_bytes()[:40])
    return session


def test_no_file_name_path_id_or_truth_anywhere_in_the_test_phase(qtbot, leaky_session, caplog, capfd):
    """Walks every widget of the real window (texts, titles, tooltips, status and accessible names,
    every item of every list and tree) on each test-phase screen; also Python's log and stderr."""
    caplog.set_level(logging.DEBUG)
    study = leaky_session.study
    window = leaky_session.open("LEAK1")
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training intro
    while window.controller.current_phase().name == "training":  # answer training (feedback allowed there)
        wait_for_trial(qtbot, window)
        type_text(qtbot, "bus")
        press(qtbot, Qt.Key_Return)
        press(qtbot, Qt.Key_Return, Qt.ControlModifier)
        assert isinstance(window.pages.currentWidget(), FeedbackPage)
        press(qtbot, Qt.Key_Return)
    capfd.readouterr()
    caplog.clear()
    class_lists = (window.trial.picker.results, window.trial.picker.tree)  # list every class, whatever the image
    all_ids = list(study.images)
    checked_trials = 0
    seen_broken = False
    while not window.controller.complete:
        page = window.pages.currentWidget()
        if page is window.trial:
            wait_for_trial(qtbot, window)
            image_id = window.controller.current().image_id
            shown = everything_on_screen(window, class_lists)
            for name in forbidden_names(study, image_id):
                assert name not in shown, f"{name!r} is in the window"
            assert not truth_words(study, image_id).search(
                everything_on_screen(window, class_lists, visible_only=True)
            ), "the true class is named on screen"
            assert window.trial.picker.current is None  # nothing pre-highlighted (it would hint at the answer)
            type_text(qtbot, "c")  # the results list now shows classes; file names still must not appear
            typed = everything_on_screen(window)
            assert not any(name in typed for i in all_ids for name in forbidden_names(study, i))
            press(qtbot, Qt.Key_Return)
            press(qtbot, Qt.Key_Return, Qt.ControlModifier)
            assert not isinstance(window.pages.currentWidget(), FeedbackPage), "feedback in a phase without feedback"
            checked_trials += 1
        else:
            shown = everything_on_screen(window)
            visible = everything_on_screen(window, visible_only=True)
            seen_broken |= "cannot be shown" in visible
            assert not any(name in shown for i in all_ids for name in forbidden_names(study, i))
            assert not re.search(r"\bcorrect\b", visible, re.IGNORECASE), visible  # no right/wrong, no block score
            press(qtbot, Qt.Key_Return)
            qtbot.wait(5)
    assert checked_trials >= 10 and seen_broken
    out, err = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records) + out + err
    assert not any(name in logged for i in all_ids for name in forbidden_names(study, i)[1:])
    leaky_session.close(window)


def test_feedback_only_in_phases_with_feedback(qtbot, leaky_session):
    window = open_first_trial(qtbot, leaky_session, "LEAK2")
    image_id = window.controller.current().image_id
    type_text(qtbot, "bus")
    press(qtbot, Qt.Key_Return)
    press(qtbot, Qt.Key_Return, Qt.ControlModifier)
    assert isinstance(window.pages.currentWidget(), FeedbackPage)  # training: the answer is shown
    assert truth_words(leaky_session.study, image_id).search(window.feedback.truth.text())
    leaky_session.close(window)

"""Starting the review window: the protocol, the store, the errors to review, the reviewer's id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PyQt5.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from study_app.errors import StudyError
from study_app.gui.app import application
from study_app.gui.crash import crash_handler
from study_app.gui.review_window import ReviewWindow
from study_app.protocol.schedule import check_annotator_id
from study_app.protocol.study import load_study
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.store.results_store import ResultsStore, default_store_path


def _ask_reviewer() -> str | None:
    """The reviewer's pseudonym from a dialog, asked again until valid (None: cancelled)."""
    prompt = "Reviewer id (a pseudonym such as R01):"
    while True:
        text, ok = QInputDialog.getText(None, "Review errors", prompt, QLineEdit.Normal, "")
        if not ok:
            return None
        try:
            return check_annotator_id(text)
        except StudyError as exc:
            prompt = f"{exc}\n\nReviewer id:"


def run_review(
    study_ref: str,
    reviewer: str | None,
    blind: bool,
    selection: Selection,
    store_path: str | Path | None = None,
    predictions: Sequence[str] | None = None,
) -> int:
    """The reviewer's program: returns the exit status."""
    app = application()
    try:
        study = load_study(study_ref, check_images=False)
        store = ResultsStore(Path(store_path) if store_path else default_store_path(study))
    except StudyError as exc:
        QMessageBox.critical(None, "Cannot start the review", str(exc))
        raise
    try:
        items, selection = study_errors(study, store, predictions, selection)
        reviewer = check_annotator_id(reviewer) if reviewer else _ask_reviewer()
        if reviewer is None:
            return 0
        controller = ReviewController(study, store, reviewer, items, blind, selection)
        if not items:
            print(f"no errors to review for {', '.join(selection.raters)} in phase(s) {', '.join(selection.phases)}")
            controller.finish()
            return 0
        window = ReviewWindow(controller)
        window.show()
        with crash_handler():
            return app.exec_()
    finally:
        store.close()

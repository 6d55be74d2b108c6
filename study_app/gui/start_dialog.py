"""The start dialog: who is annotating, what the study is, and whether to resume.

Annotator ids are pseudonyms, checked as they are typed. When the id has an unfinished
session in the store, the dialog says so (how much is done) and starting resumes it.
"""

from __future__ import annotations

import html

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout

from study_app.errors import StudyError
from study_app.protocol.schedule import check_annotator_id
from study_app.protocol.study import Study
from study_app.store.answer_store import AnswerStore


class StartDialog(QDialog):
    """Asks for the annotator id; ``annotator`` holds it after ``accept``."""

    def __init__(self, study: Study, store: AnswerStore, annotator: str = "") -> None:
        super().__init__()
        self.study = study
        self.store = store
        self.annotator = ""
        self._refused: tuple[str, str] | None = None  # (id, why) the store refused: Start waits for another id
        self.setWindowTitle(f"{study.title} — start")
        self.setMinimumWidth(560)
        about = QLabel(
            f"<h2>{html.escape(study.title)}</h2><p>{html.escape(study.description)}</p>"
            f"<p><small>{len(study.labels)} classes · {sum(len(p.image_ids) for p in study.phases)} images in "
            f"{len(study.phases)} part(s)</small></p>"
        )
        about.setWordWrap(True)
        about.setTextFormat(Qt.RichText)
        self.id_field = QLineEdit(annotator)
        self.id_field.setPlaceholderText("your annotator id (a pseudonym such as A07)")
        self.id_field.textChanged.connect(self.check)
        self.id_field.returnPressed.connect(self._start)
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self._start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(QLabel("Annotator id:"))
        layout.addWidget(self.id_field)
        layout.addWidget(self.state)
        layout.addWidget(self.buttons)
        self.check(annotator)

    def check(self, text: str) -> bool:
        """Show what ``text`` as an id would do (new session, resume, invalid); True if usable."""
        ok_button = self.buttons.button(QDialogButtonBox.Ok)
        if not text.strip():
            self.state.setText("")
            ok_button.setText("Start")
            ok_button.setEnabled(False)
            return False
        try:
            annotator = check_annotator_id(text)
        except StudyError as exc:
            self.state.setText(f"<span style='color:#b42318'>{html.escape(str(exc))}</span>")
            ok_button.setEnabled(False)
            return False
        if self._refused and annotator == self._refused[0]:
            self._show_refusal()  # Enter (or typing the id again) would only fail again
            return False
        open_session = self.store.unfinished_session(self.study, annotator)
        if open_session:
            _, started, answered = open_session
            self.state.setText(
                f"An unfinished session of {html.escape(annotator)} (started "
                f"{html.escape(started[:16].replace('T', ' '))} UTC, "
                f"{answered} answered) will be resumed where it stopped."
            )
            ok_button.setText("Resume")
        else:
            self.state.setText("A new session will start.")
            ok_button.setText("Start")
        ok_button.setEnabled(True)
        return True

    def _start(self) -> None:
        if self.check(self.id_field.text()):
            self.annotator = check_annotator_id(self.id_field.text())
            self.accept()

    def show_error(self, message: str) -> None:
        """The session could not be opened (e.g. the protocol changed, or this id finished the
        study): say why and stay, with Start off until the id changes (it would only fail again)."""
        self._refused = (self.annotator or self.id_field.text().strip(), message)
        self._show_refusal()

    def _show_refusal(self) -> None:
        self.state.setText(f"<span style='color:#b42318'>{html.escape(self._refused[1])}</span>")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)

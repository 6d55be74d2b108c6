"""The review window: one error at a time, sorted into causes with the keyboard.

A view on :class:`~study_app.review.controller.ReviewController`. It shows the image,
the ground truth with its definition and examples, the rater's guesses in order (the
highlighted guess described and illustrated beside the ground truth), and, unless the
review is blind, who erred (person or model) and a person's response time. Blind, no
name, kind or time is shown and every cause of the taxonomy is offered, so nothing on
screen tells a person's error from a model's. Each review is in the store before the
next error shows; quitting loses only the error on screen, and the next start resumes
at the first unreviewed error.
"""

from __future__ import annotations

import html
import time

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QCloseEvent, QKeySequence
from PyQt5.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QScrollArea,
    QShortcut,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from study_app.errors import StudyError
from study_app.gui.examples_pane import ExamplesPane
from study_app.gui.help_overlay import HelpOverlay
from study_app.gui.image_loader import window_loaders
from study_app.gui.image_view import ImageView, view_actions
from study_app.gui.label_picker import ClassDetails, LabelPicker
from study_app.gui.main_window import AnnotationWindow, pan_key_texts
from study_app.gui.review_widgets import CauseList, GuessList, ProposalLine
from study_app.gui.window_state import restore_geometry, save_geometry
from study_app.protocol.keys import REVIEW_COMMANDS, REVIEW_KEYS, REVIEW_NAVIGATION
from study_app.review.controller import ReviewController
from study_app.review.items import ErrorItem
from study_app.session.label_search import LabelSearchIndex

#: Errors ahead whose images are decoded while the reviewer looks at this one.
PREFETCH = 3
STYLE = """
QLabel#heading { font-size: 15px; }
QLabel#status { color: #444; min-height: 18px; }
QLabel#section { font-weight: bold; margin-top: 6px; }
"""


def review_help_text(controller: ReviewController) -> str:
    """The review keys and the causes' keys, for the F1 overlay."""
    commands = "".join(
        f"<tr><td style='padding-right:18px'><b>{html.escape(c.keys)}</b></td>"
        f"<td>{html.escape(c.description)}</td></tr>"
        for c in (*REVIEW_COMMANDS, *REVIEW_NAVIGATION)
    )
    causes = "".join(
        f"<tr><td style='padding-right:18px'><b>{html.escape(c.shortcut)}</b></td><td>{html.escape(c.name)}"
        f"{'' if controller.blind else ' <i>(' + html.escape(c.applies_to) + ')</i>'}: "
        f"{html.escape(c.description)}</td></tr>"
        for c in controller.taxonomy.causes
    )
    return (
        "<h2>Reviewing errors</h2><p>Tick every cause that applies (a key ticks or unticks it), add a note if useful, "
        f"then save.</p><table>{commands}</table><h3>Causes</h3><table>{causes}</table>"
        "<p><i>F1 or Esc closes this help.</i></p>"
    )


class ReviewWindow(QMainWindow):
    """One reviewer's sitting in one window."""

    def __init__(self, controller: ReviewController, settings: QSettings | None = None) -> None:
        super().__init__()
        self._settings = settings or QSettings()
        self.controller = controller
        study = controller.study
        self.study = study
        labels = study.labels
        self._shown_at = time.monotonic()
        self._dirty = False
        self._warned_unsaved = False
        self._waiting_for: str | None = None
        blind = " (blind)" if controller.blind else ""
        self.setWindowTitle(f"{study.title} — review by {controller.reviewer}{blind}")
        self.setStyleSheet(STYLE)

        self.images, self.thumbnails = window_loaders(
            self, 64 << 20, study.max_pixels, self._image_ready, self._image_failed
        )

        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.RichText)
        self.heading.setWordWrap(True)
        self.view = ImageView()
        self.status = QLabel()
        self.status.setObjectName("status")

        self.truth_details = ClassDetails(labels)
        self.truth_details.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.truth_examples = ExamplesPane(labels, self.thumbnails, study.examples_per_class)
        self.guesses = GuessList(labels)
        self.guess_details = ClassDetails(labels)
        self.guess_details.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.guess_examples = ExamplesPane(labels, self.thumbnails, study.examples_per_class)
        self.guesses.highlighted.connect(self._guess_highlighted)
        self.picker = LabelPicker(
            labels, LabelSearchIndex.for_label_set(labels), self.thumbnails, study.examples_per_class
        )
        self.picker.label_chosen.connect(self._toggle_proposal)
        for pane in (self.truth_examples, self.guess_examples, self.picker.examples):  # one row each: room for the rest
            pane.show_rows(1)
        self.causes = CauseList()
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note (F2)…")
        self.note.returnPressed.connect(self._leave_text)
        self.note.textEdited.connect(self._edited)
        self.proposal = ProposalLine(labels)

        guess_page = QWidget()
        guess_layout = QVBoxLayout(guess_page)
        guess_layout.setContentsMargins(0, 0, 0, 0)
        guess_layout.addWidget(self._section("The rater's guesses, in order (Up/Down)"))
        guess_layout.addWidget(self.guesses)
        guess_layout.addWidget(self.guess_details)
        if labels.examples:
            guess_layout.addWidget(self.guess_examples)
        else:
            self.guess_examples.hide()
        guess_layout.addStretch(1)
        self.middle = QStackedWidget()
        self.middle.addWidget(guess_page)
        self.middle.addWidget(self.picker)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self._section("Ground truth"))
        side_layout.addWidget(self.truth_details)
        if labels.examples:
            side_layout.addWidget(self.truth_examples)
        else:
            self.truth_examples.hide()
        side_layout.addWidget(self.middle, stretch=1)
        side_layout.addWidget(self._section("Causes (press the key to tick or untick)"))
        side_layout.addWidget(self.causes)
        side_layout.addWidget(self.note)
        side_layout.addWidget(self.proposal)
        # On a small screen the column scrolls (to what the keys work on) rather than push the window off it.
        self.side_scroll = QScrollArea()
        self.side_scroll.setWidget(side)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.side_scroll.setFrameShape(QScrollArea.NoFrame)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.heading)
        left_layout.addWidget(self.view, stretch=1)
        left_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.side_scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([880, 520])
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setCentralWidget(central)
        self.help = HelpOverlay(central, {}, {})
        self.help.text.setText(review_help_text(controller))
        self._install_shortcuts()
        restore_geometry(self, self._settings, "review")
        self._show_current()

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("section")
        return label

    # -- keys -----------------------------------------------------------------------------
    def _install_shortcuts(self) -> None:
        view = self.view
        actions = {
            "help": self.help.toggle,
            "note": self._unless_help(self._focus_note),
            "propose": self._unless_help(self._open_picker),
            "clear_proposal": self._unless_help(self._clear_proposal),
            "save": self._unless_help(self.save),
            "next": self._unless_help(lambda: self._move(self.controller.position + 1)),
            "previous": self._unless_help(lambda: self._move(self.controller.position - 1)),
            **view_actions(view),
            "quit": self.close,
        }
        self.shortcuts: dict[str, QShortcut] = {}
        for name, action in actions.items():
            shortcut = QShortcut(QKeySequence(REVIEW_KEYS[name]), self)
            shortcut.activated.connect(action)
            self.shortcuts[name] = shortcut
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self._unless_help(self.save))
        QShortcut(QKeySequence("Escape"), self).activated.connect(self._escape)
        for cause in self.controller.taxonomy.causes:
            shortcut = QShortcut(QKeySequence(cause.shortcut), self)
            shortcut.activated.connect(self._unless_help(lambda key=cause.key: self.toggle_cause(key)))
            self.shortcuts[f"cause:{cause.key}"] = shortcut
        self._command_keys = {QKeySequence(k).toString() for k in (*REVIEW_KEYS.values(), "Ctrl+Enter")}
        self._pan_keys = pan_key_texts(REVIEW_KEYS)
        self._panned_view = self.view
        QApplication.instance().installEventFilter(self)

    #: Command keys (``_command_keys``; ``_pan_keys`` only while ``_panned_view`` is zoomed)
    #: win over the note and search fields, which would take Ctrl+Return as Return: the
    #: annotation window's own filter, shared.
    eventFilter = AnnotationWindow.eventFilter  # noqa: N815 - Qt's name

    def _unless_help(self, action):
        def guarded() -> None:
            if not self.help.isVisible():
                action()

        return guarded

    # -- showing an error -------------------------------------------------------------------
    def _show_current(self) -> None:
        item = self.controller.current()
        self._dirty = False
        self._warned_unsaved = False
        if item is None:
            self._show_done()
            return
        self.side_scroll.show()
        self.middle.setCurrentIndex(0)
        review = self.controller.review_of(item)
        self.causes.set_causes(self.controller.offered(item), review.causes if review else ())
        self.note.setText(review.note if review else "")
        self.proposal.set_labels(review.proposed_truth or () if review else ())
        self.truth_details.show_class(item.truth[0])
        self.truth_examples.show_class(item.truth[0])
        if len(item.truth) > 1:
            names = ", ".join(self.study.labels[label].name for label in item.truth)
            self.truth_details.setText(self.truth_details.text() + f"<br><i>all valid labels: {html.escape(names)}</i>")
        self.guesses.show_guesses(item.guesses, item.outcome)
        self.heading.setText(self._heading(item))
        self.status.setText(
            f"Reviewed {review.reviewed_at[:16].replace('T', ' ')} UTC; saving again revises it."
            if review
            else "Tick the causes, then Ctrl+Return saves. F1: all keys."
        )
        self._show_image(item)
        self.guesses.setFocus()
        self._shown_at = time.monotonic()
        for ahead in self.controller.items[self.controller.position + 1 : self.controller.position + 1 + PREFETCH]:
            self.images.request(ahead.image_id, self.study.images[ahead.image_id].path, fit=self.view.paint_size())

    def _heading(self, item: ErrorItem) -> str:
        controller = self.controller
        where = f"Error {controller.position + 1} of {controller.total} · {controller.reviewed_count} reviewed"
        if controller.blind:
            return f"<b>{where}</b> · image {html.escape(item.image_id)}"
        if item.kind == "human":
            who = (  # numbered as in the answers export (its trial column, from 0), so one number finds the row
                f"annotator <b>{html.escape(item.rater)}</b> (person), "
                f"phase {html.escape(item.phase)}, trial {item.trial}"
            )
            if item.rt_ms is not None:
                who += f", response time {item.rt_ms / 1000:.1f} s"
        else:
            who = f"model <b>{html.escape(item.rater)}</b>, phase {html.escape(item.phase)}"
        return f"<b>{where}</b> · image {html.escape(item.image_id)} · {who}"

    def _show_image(self, item: ErrorItem) -> None:
        record = self.study.images[item.image_id]
        if self.images.request(item.image_id, record.path, fit=self.view.paint_size()):
            self._waiting_for = None
            self.view.show_image(self.images.get(item.image_id))
        else:
            self._waiting_for = item.image_id
            self.view.clear()
            error = self.images.error(item.image_id)
            if error:
                self._image_failed(item.image_id, error)

    def _image_ready(self, image_id: str) -> None:
        if image_id == self._waiting_for:
            self._waiting_for = None
            self.view.show_image(self.images.get(image_id))

    def _image_failed(self, image_id: str, error: str) -> None:
        if image_id == self._waiting_for:
            self.status.setText(
                f"The image cannot be shown: {error}. It can still be reviewed (e.g. 'other' with a note)."
            )

    def _guess_highlighted(self, label_id: str) -> None:
        if label_id:
            self.guess_details.show_class(label_id)
        else:  # a non-answer: nothing to describe (the picker's hint would mislead here)
            self.guess_details.clear()
        self.guess_examples.show_class_soon(label_id or None)

    def _show_done(self) -> None:
        controller = self.controller
        self.view.clear()
        if controller.complete:
            self.heading.setText(f"<b>All {controller.total} errors are reviewed.</b>")
        else:
            self.heading.setText(
                f"<b>End of the list: {controller.reviewed_count} of {controller.total} errors are reviewed.</b>"
            )
        for pane in (self.truth_details, self.guess_details):
            pane.clear()
        for pane in (self.truth_examples, self.guess_examples):
            pane.show_class(None)
        self.causes.set_causes(())
        self.guesses.clear()
        self.note.clear()
        self.proposal.set_labels([])
        # Nothing is left to edit: no empty cause list, note field or "F3 to propose one" hint.
        self.side_scroll.hide()
        self.status.setText("Alt+Left goes back to revise a review; Ctrl+Q quits.")

    # -- editing ------------------------------------------------------------------------
    def toggle_cause(self, key: str) -> None:
        if self.controller.current() is None:
            return
        if self.causes.toggle(key):
            self._edited()
            self.side_scroll.ensureWidgetVisible(self.causes)
        else:
            self.status.setText(f"'{self.controller.taxonomy.by_key(key).name}' is not a cause for this kind of rater.")

    def _edited(self, *_args) -> None:
        self._dirty = True

    def _focus_note(self) -> None:
        self.side_scroll.ensureWidgetVisible(self.note)
        self.note.setFocus()
        self.note.end(False)

    def _leave_text(self) -> None:
        self.middle.setCurrentIndex(0)
        self.guesses.setFocus()

    def _escape(self) -> None:
        if self.help.isVisible():
            self.help.close_help()
        else:
            self._leave_text()

    def _open_picker(self) -> None:
        if self.controller.current() is None:
            return
        self.middle.setCurrentIndex(1)
        self.picker.reset()
        self.picker.focus_search()

    def _toggle_proposal(self, label_id: str) -> None:
        self.proposal.toggle(label_id)
        self._edited()
        self.side_scroll.ensureWidgetVisible(self.proposal)
        self.picker.search.clear()

    def _clear_proposal(self) -> None:
        self.proposal.set_labels([])
        self._edited()

    # -- moving and saving -----------------------------------------------------------------
    def save(self) -> bool:
        """Store the review of the error on screen and show the next unreviewed one."""
        if self.controller.current() is None:
            return False
        causes = self.causes.checked()
        if not causes:
            self.status.setText("Tick at least one cause first (F1 lists them; 'other' with a note for anything else).")
            return False
        try:
            self.controller.save(
                causes, self.note.text(), self.proposal.labels, (time.monotonic() - self._shown_at) * 1000
            )
        except StudyError as exc:
            self.status.setText(f"Not saved: {exc}")
            return False
        self.controller.go_to(self.controller.next_position())
        self._show_current()
        return True

    def _move(self, position: int) -> None:
        if not 0 <= position <= self.controller.total or position == self.controller.position:
            return
        if self._stopped_by_unsaved_review("press the key again to leave it unsaved"):
            return
        self.controller.go_to(position)
        self._show_current()

    def _stopped_by_unsaved_review(self, then: str) -> bool:
        """Leaving a review with unsaved edits (moving on, quitting) is stopped once, with a word."""
        if not self._dirty or self._warned_unsaved:
            return False
        self._warned_unsaved = True
        self.status.setText(f"This review is not saved: Ctrl+Return saves it; {then}.")
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._stopped_by_unsaved_review("press Ctrl+Q again to quit without it"):
            event.ignore()
            return
        save_geometry(self, self._settings, "review")
        QApplication.instance().removeEventFilter(self)
        try:
            self.controller.finish()
        except StudyError:
            pass  # the reviews are saved; only the sitting's end time is missing
        self.images.close()
        self.thumbnails.close()
        super().closeEvent(event)

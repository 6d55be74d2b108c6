"""The screens between trials: instructions, phase start, feedback, break, pause, end.

Each is a :class:`ContinuePage`: Return or Space (or its button) continues, so a whole
session runs from the keyboard. Study text is untrusted: instructions render as
Markdown with raw HTML switched off, and everything else is escaped.
"""

from __future__ import annotations

import html

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QImage, QKeyEvent, QPixmap, QTextCursor, QTextDocument
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from study_app.gui.examples_pane import ExamplesPane
from study_app.gui.label_picker import describe_label
from study_app.protocol.labels import LabelSet
from study_app.session.controller import Feedback

FEEDBACK_IMAGE = 420


class ContinuePage(QWidget):
    """A page that continues on Return/Enter/Space or its button."""

    continued = pyqtSignal()

    def __init__(self, button_text: str = "Continue (Enter)") -> None:
        super().__init__()
        self.setFocusPolicy(Qt.StrongFocus)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(40, 30, 40, 30)
        self.button = QPushButton(button_text)
        self.button.setFocusPolicy(Qt.NoFocus)
        self.button.clicked.connect(self.continued)

    def finish_layout(self) -> None:
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.button)
        self.body.addLayout(row)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Space) and not event.isAutoRepeat():
            self.continued.emit()
        else:
            super().keyPressEvent(event)


class InstructionsPage(ContinuePage):
    """The protocol's instructions (Markdown, no raw HTML); PgUp/PgDn scroll."""

    def __init__(self, title: str, instructions: str) -> None:
        super().__init__("Start (Enter)")
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setFocusPolicy(Qt.NoFocus)
        features = QTextDocument.MarkdownFeatures(QTextDocument.MarkdownDialectGitHub | QTextDocument.MarkdownNoHTML)
        self.text.document().setMarkdown(instructions or "Label each image with its class.", features)
        # setMarkdown leaves the text cursor at the end, and the browser keeps its cursor in view
        # whenever it is laid out: the page would open scrolled to the last paragraph.
        self.text.moveCursor(QTextCursor.Start)
        self.body.addWidget(self.title)
        self.body.addWidget(self.text, stretch=1)
        self.finish_layout()
        self.set_heading(title, resumed=False)

    def set_heading(self, title: str, resumed: bool) -> None:
        note = " — welcome back: you continue where you stopped" if resumed else ""
        self.title.setText(f"<h2>{html.escape(title)}</h2><i>{note}</i>" if note else f"<h2>{html.escape(title)}</h2>")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_PageDown, Qt.Key_PageUp, Qt.Key_Down, Qt.Key_Up):
            bar = self.text.verticalScrollBar()
            step = bar.pageStep() if event.key() in (Qt.Key_PageDown, Qt.Key_PageUp) else bar.singleStep()
            bar.setValue(bar.value() + (step if event.key() in (Qt.Key_PageDown, Qt.Key_Down) else -step))
        else:
            super().keyPressEvent(event)


class MessagePage(ContinuePage):
    """A heading and a paragraph: phase start, break, pause, end."""

    def __init__(self) -> None:
        super().__init__()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setTextFormat(Qt.RichText)
        self.body.addStretch(1)
        self.body.addWidget(self.message)
        self.body.addStretch(1)
        self.finish_layout()

    def show_message(self, heading: str, lines: list[str], button: str = "Continue (Enter)") -> None:
        """``heading`` and ``lines`` are plain text (escaped here)."""
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        self.message.setText(f"<h2>{html.escape(heading)}</h2>{paragraphs}")
        self.button.setText(button)


#: What the feedback page says of an answer without a class.
NO_CLASS = {"not_sure": "not sure (no class)", "none_of_these": "none of these classes", "timeout": "no answer in time"}


class FeedbackPage(ContinuePage):
    """After a training answer: right or wrong, the correct class, running accuracy."""

    def __init__(self, labels: LabelSet, examples: ExamplesPane) -> None:
        super().__init__()
        self._labels = labels
        self.verdict = QLabel()
        self.verdict.setObjectName("verdict")
        self.image = QLabel()
        self.image.setFixedSize(FEEDBACK_IMAGE, FEEDBACK_IMAGE)
        self.image.setAlignment(Qt.AlignCenter)
        self.truth = QLabel()
        self.truth.setWordWrap(True)
        self.truth.setTextFormat(Qt.RichText)
        self.truth.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.given = QLabel()
        self.given.setWordWrap(True)
        self.score = QLabel()
        self.examples = examples
        self.given.setTextFormat(Qt.RichText)
        row = QHBoxLayout()
        row.addWidget(self.image, alignment=Qt.AlignTop)
        row.addSpacing(16)
        column = QVBoxLayout()
        column.addWidget(self.truth)
        column.addSpacing(12)
        column.addWidget(self.given)
        column.addWidget(self.score)
        column.addStretch(1)
        row.addLayout(column, stretch=1)
        self.body.addWidget(self.verdict)
        self.body.addLayout(row, stretch=1)
        self.body.addWidget(self.examples)
        if not labels.examples:
            self.examples.hide()
        self.finish_layout()

    def show_feedback(self, feedback: Feedback, image: QImage | None) -> None:
        first_right = bool(feedback.given) and feedback.given[0] in feedback.truth
        if feedback.correct and (first_right or len(feedback.given) == 1):
            self.verdict.setText("<h2 style='color:#1a7f37'>Correct</h2>")
        elif feedback.correct:  # counted right by a later guess: the first one still missed
            self.verdict.setText(
                "<h2 style='color:#1a7f37'>Correct <span style='color:#9a6700'>(not your first guess)</span></h2>"
            )
        else:
            self.verdict.setText("<h2 style='color:#b42318'>Not correct</h2>")
        if image is not None and not image.isNull():
            scaled = image.scaled(FEEDBACK_IMAGE, FEEDBACK_IMAGE, Qt.KeepAspectRatio, Qt.SmoothTransformation)
            self.image.setPixmap(QPixmap.fromImage(scaled))
        title = "The correct class is:" if len(feedback.truth) == 1 else "Correct classes:"
        self.truth.setText(f"<b>{title}</b><br>" + "<hr>".join(describe_label(self._labels, t) for t in feedback.truth))
        rows = [
            f"{rank}. {html.escape(self._labels[label].name)}"
            + (" <b style='color:#1a7f37'>✓</b>" if label in feedback.truth else "")
            for rank, label in enumerate(feedback.given, start=1)
        ]
        self.given.setText(
            "<b>Your answer:</b><br>" + ("<br>".join(rows) or NO_CLASS.get(feedback.outcome, "no class"))
        )
        percent = 100.0 * feedback.running_accuracy
        self.score.setText(
            f"Training so far: {feedback.phase_correct} of {feedback.phase_answered} correct ({percent:.0f}%)"
        )
        self.examples.show_class(feedback.truth[0])

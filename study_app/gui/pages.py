"""The screens between trials: instructions, phase start, feedback, break, pause, end.

Each is a :class:`ContinuePage`: Return or Space (or its button) continues, so a whole
session runs from the keyboard. A page ignores those keys for the study's ``key_guard_ms``
after it is painted: a key meant for the screen before (an answer's Return, a held key, a
fast double press) must not dismiss a break or a feedback screen unseen and put the next
answer on an image nobody looked at. Study text is untrusted: instructions render as
Markdown with raw HTML switched off, and everything else is escaped.
"""

from __future__ import annotations

import html
import time

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QHideEvent, QImage, QKeyEvent, QPaintEvent, QPixmap, QShowEvent, QTextCursor, QTextDocument
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from study_app.gui.examples_pane import ExamplesPane
from study_app.gui.label_picker import describe_label
from study_app.protocol.labels import LabelSet
from study_app.session.controller import Feedback

FEEDBACK_IMAGE = 420


class ContinuePage(QWidget):
    """A page that continues on Return/Enter/Space or its button, its keys guarded.

    The guard runs from the first paint of what the page shows now (a page showing new
    content while on screen, e.g. a break after a phase's start screen, is guarded afresh):
    for ``key_guard_ms`` after it, the continue keys are swallowed. The button (a mouse
    click, aimed at what is on screen) is not guarded.
    """

    continued = pyqtSignal()

    def __init__(self, button_text: str = "Continue (Enter)", key_guard_ms: int = 0) -> None:
        super().__init__()
        self.key_guard_ms = key_guard_ms
        self._painted_at: float | None = None  # monotonic time of the first paint of this content
        #: How many contents the page has shown: a driver tells a new screen from the same one.
        self.showings = 0
        #: (showing, ms after its paint) of the last key that continued: what the guard saw, which a
        #: driver that timed its press a moment before cannot know.
        self.continued_by_key: tuple[int, float] | None = None
        self.setFocusPolicy(Qt.StrongFocus)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(40, 30, 40, 30)
        self.button = QPushButton(button_text)
        self.button.setFocusPolicy(Qt.NoFocus)
        self.button.clicked.connect(self.continued)
        self.note = QLabel()  # a passing word on a key that does nothing here (e.g. undo in a feedback phase)
        self.note.setObjectName("status")
        self.note.setTextFormat(Qt.PlainText)

    def finish_layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(self.note, stretch=1)
        row.addWidget(self.button)
        self.body.addLayout(row)

    def arm_key_guard(self) -> None:
        """New content: its keys wait for its first paint and then ``key_guard_ms``."""
        self._painted_at = None
        self.showings += 1
        self.note.clear()
        self.update()

    def shown_for_ms(self) -> float | None:
        """Milliseconds since the current content was first painted (None: not painted yet)."""
        return None if self._painted_at is None else (time.monotonic() - self._painted_at) * 1000.0

    def accepts_keys(self) -> bool:
        shown = self.shown_for_ms()
        return shown is not None and shown >= self.key_guard_ms

    def show_note(self, text: str) -> None:
        self.note.setText(text)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.arm_key_guard()
        super().showEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        if self._painted_at is None:
            self._painted_at = time.monotonic()
        super().paintEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Space):
            shown = self.shown_for_ms()
            if not event.isAutoRepeat() and shown is not None and self.accepts_keys():
                self.continued_by_key = (self.showings, shown)
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
    """A heading and a paragraph: phase start, break, pause, end; or a notice that goes on by
    itself after a moment (time's up)."""

    def __init__(self) -> None:
        super().__init__()
        # Continues a notice after its moment; stopped when the page shows something else or is left.
        self._moment = QTimer(self)
        self._moment.setSingleShot(True)
        self._moment.timeout.connect(self.continued)
        self.continued.connect(self._moment.stop)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setTextFormat(Qt.RichText)
        self.body.addStretch(1)
        self.body.addWidget(self.message)
        self.body.addStretch(1)
        self.finish_layout()

    def show_message(
        self, heading: str, lines: list[str], button: str = "Continue (Enter)", moment_ms: int | None = None
    ) -> None:
        """``heading`` and ``lines`` are plain text (escaped here); with ``moment_ms`` the page
        continues by itself that long after it is shown (or earlier, on its keys)."""
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        self.message.setText(f"<h2>{html.escape(heading)}</h2>{paragraphs}")
        self.button.setText(button)
        self.arm_key_guard()
        self._moment.stop()
        if moment_ms is not None:
            self._moment.start(moment_ms)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        self._moment.stop()  # left (another page, a closed window): its moment must not continue anything
        super().hideEvent(event)


#: What the feedback page says of an answer without a class.
NO_CLASS = {"not_sure": "not sure (no class)", "none_of_these": "none of these classes", "timeout": "no answer in time"}
RED = "#b42318"


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
        self.arm_key_guard()
        first_right = bool(feedback.given) and feedback.given[0] in feedback.truth
        if feedback.outcome == "timeout":
            verdict = "Correct" if feedback.correct else "Not correct"
            self.verdict.setText(f"<h2 style='color:{RED}'>Time's up</h2><b>{verdict}</b>")
        elif feedback.correct and (first_right or len(feedback.given) == 1):
            self.verdict.setText("<h2 style='color:#1a7f37'>Correct</h2>")
        elif feedback.correct:  # counted right by a later guess: the first one still missed
            self.verdict.setText(
                "<h2 style='color:#1a7f37'>Correct <span style='color:#9a6700'>(not your first guess)</span></h2>"
            )
        else:
            self.verdict.setText(f"<h2 style='color:{RED}'>Not correct</h2>")
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
        title = "Your answer:" if feedback.scored else "Your guesses when time ran out (kept, not scored):"
        self.given.setText(f"<b>{title}</b><br>" + ("<br>".join(rows) or NO_CLASS.get(feedback.outcome, "no class")))
        percent = 100.0 * feedback.running_accuracy
        self.score.setText(
            f"Training so far: {feedback.phase_correct} of {feedback.phase_answered} correct ({percent:.0f}%)"
        )
        self.examples.show_class(feedback.truth[0])

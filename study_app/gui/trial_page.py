"""One trial on screen: the image, the label picker, the answer slots and the commands.

The response time runs on a monotonic clock from the moment the image is first painted
to the submit. In psychophysics mode the page shows a fixation cross, the image for the
protocol's duration and a noise mask, measures how long the image was really on screen,
and only then shows the picker. Look-ups (searches, classes viewed, hierarchy browsing)
are collected as events with their times and handed over with the response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PyQt5.QtCore import QEvent, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QImage, QKeyEvent
from PyQt5.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from study_app.gui.answer_slots import AnswerSlots
from study_app.gui.image_loader import ImageLoader
from study_app.gui.image_view import ImageView
from study_app.gui.label_picker import LabelPicker
from study_app.protocol.labels import LabelSet
from study_app.protocol.responses import FLAG_REASONS, Event, Response, utc_now
from study_app.protocol.study import Phase
from study_app.session.label_search import LabelSearchIndex


@dataclass(frozen=True)
class TrialState:
    """What a trial left for a while (a pause, or an undo of the answer before it) had on
    screen, so that it comes back as it was: nothing chosen is dropped without a word."""

    labels: tuple[str, ...]
    events: tuple[Event, ...]
    flag: tuple[str | None, str]
    #: Response time run when the trial was left (None: its image had not been painted yet).
    elapsed_ms: float | None
    shown_at: str
    presented_ms: float | None
    #: Timed exposures of the image so far.
    exposures: int

    @property
    def seen(self) -> bool:
        return self.elapsed_ms is not None


#: The countdown's look, and in its last seconds (red: the guesses so far are all that will be kept).
COUNTDOWN_STYLE = "font-size: 20px; font-weight: bold;"
COUNTDOWN_URGENT_STYLE = COUNTDOWN_STYLE + " color: #b42318;"
COUNTDOWN_URGENT_S = 5.0

#: Narrowest the image-and-answer side and the label picker may get (logical pixels).
MIN_ANSWER_SIDE_WIDTH = 620
MIN_PICKER_WIDTH = 340
#: The splitter between image and picker: wide and shaded enough to be seen and dragged.
SPLITTER_HANDLE_WIDTH = 7
SPLITTER_STYLE = (
    "QSplitter::handle { background: #c5ccd6; margin: 2px 1px; border-radius: 2px; }"
    "QSplitter::handle:hover { background: #8d9db3; }"
)


class FlagBar(QFrame):
    """Inline flagging: pick a reason with 1/2/3, add a note, Enter to keep it.

    No reason is chosen for the annotator: Enter without one keeps the bar open and asks
    for one (a default reason turned F8 then Enter into a "broken" flag nobody meant).
    Esc cancels the edit (a flag given before stays as it was); Ctrl+Delete removes the flag.
    """

    flagged = pyqtSignal(object, str)
    cancelled = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.StyledPanel)
        self.group = QButtonGroup(self)
        layout = QHBoxLayout(self)
        layout.addWidget(QLabel("Flag image:"))
        for number, reason in enumerate(FLAG_REASONS, start=1):
            button = QRadioButton(f"&{number} {reason}")
            self.group.addButton(button, number - 1)
            layout.addWidget(button)
        self.note = QLineEdit()
        self.note.setPlaceholderText("note (optional); Enter keeps the flag, Esc cancels, Ctrl+Delete removes it")
        self.note.returnPressed.connect(self._keep)
        layout.addWidget(self.note, stretch=1)
        self.note.installEventFilter(self)
        self.hint = QLabel()
        self.hint.setTextFormat(Qt.PlainText)
        layout.addWidget(self.hint)
        self._before: tuple[int, str] = (-1, "")
        self.group.idToggled.connect(lambda _id, checked: self.hint.clear() if checked else None)
        self.hide()

    def open(self) -> None:
        self._before = (self.group.checkedId(), self.note.text())  # what Esc goes back to
        self.hint.clear()
        self.show()
        self.note.setFocus()

    def reset(self) -> None:
        if self.isHidden() and self.group.checkedId() < 0 and not self.note.text():
            return  # nothing to undo (the usual trial): spare the buttons' repaints
        self.group.setExclusive(False)
        for button in self.group.buttons():
            button.setChecked(False)
        self.group.setExclusive(True)
        self.note.clear()
        self.hide()

    def _keep(self) -> None:
        if self.group.checkedId() < 0:
            choices = ", ".join(f"{number} {reason}" for number, reason in enumerate(FLAG_REASONS, start=1))
            self.hint.setText(f"Choose a reason first: {choices} (Alt+number after a note); Esc cancels")
            return
        self.hide()
        self.flagged.emit(FLAG_REASONS[self.group.checkedId()], self.note.text().strip())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.KeyPress:
            key = event.key()
            if Qt.Key_1 <= key < Qt.Key_1 + len(FLAG_REASONS) and not self.note.text():
                self.group.button(key - Qt.Key_1).setChecked(True)
                return True
            if key == Qt.Key_Delete and event.modifiers() & Qt.ControlModifier:
                self.reset()
                self.flagged.emit(None, "")
                return True
            if key == Qt.Key_Escape:
                reason, note = self._before
                if reason < 0:
                    self.reset()
                else:
                    self.group.button(reason).setChecked(True)
                    self.note.setText(note)
                    self.hide()
                self.cancelled.emit()
                return True
        return False


class TrialPage(QWidget):
    """Emits :attr:`submitted` (Response, events) when the annotator answers."""

    submitted = pyqtSignal(object, list)
    undo_requested = pyqtSignal()
    #: Esc that no field of the page took (the search box, the flag bar): cancels a revision.
    escaped = pyqtSignal()

    def __init__(
        self,
        labels: LabelSet,
        index: LabelSearchIndex,
        thumbnails: ImageLoader,
        examples_per_class: int,
        keys: dict[str, str],
    ) -> None:
        super().__init__()
        self._labels = labels
        self._phase: Phase | None = None
        self._onset: float | None = None
        self._shown_at = ""
        self._presented_ms: float | None = None
        self._exposures = 0
        self._carried_ms: float | None = None  # response time run before the trial was left, counted on
        self._events: list[Event] = []
        self._flag: tuple[str | None, str] = (None, "")
        self._accepting = False
        self._keys = keys
        self._confirming: str | None = None  # an outcome asked for once over guesses in the slots
        # One timer for the psychophysics sequence, owned by the page, so that nothing of
        # a previous trial (or a closed window) can fire into the current one.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.PreciseTimer)  # Qt's default may fire 5% early
        self._timer.timeout.connect(self._timer_step)
        self._step = lambda: None
        # Response deadline: ends the trial with an explicit 'timeout' answer; the
        # countdown label is refreshed by a second, repeating timer.
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setTimerType(Qt.PreciseTimer)
        self._deadline.timeout.connect(lambda: self.submit_outcome("timeout"))
        self._ticker = QTimer(self)
        self._ticker.setInterval(100)
        self._ticker.timeout.connect(self._show_time_left)
        self.countdown = QLabel()
        self.countdown.setObjectName("countdown")
        self.countdown.setStyleSheet(COUNTDOWN_STYLE)
        self._urgent = False

        # The phase's name (bold; the same for a whole phase) and where in it we are, as
        # plain text: a rich-text heading was parsed into a text document on every trial.
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.PlainText)  # a phase name is study text, not markup
        self.heading.setStyleSheet("font-weight: bold")
        self.counter = QLabel()
        self.counter.setObjectName("heading")
        self.counter.setTextFormat(Qt.PlainText)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.view = ImageView()
        self.view.painted.connect(self._painted)
        self.picker = LabelPicker(labels, index, thumbnails, examples_per_class)
        self.picker.label_chosen.connect(self._add)
        self.picker.looked_up.connect(self.log_event)
        self.slots = AnswerSlots(labels)
        self.slots.changed.connect(self._slots_changed)
        self.picker.route_typing_from(self.slots)
        self.flag_bar = FlagBar()
        self.flag_bar.flagged.connect(self._flagged)
        self.flag_bar.cancelled.connect(self._flag_unchanged)
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setTextFormat(Qt.PlainText)  # it quotes class names, which are study text, not markup
        self.status.setWordWrap(True)  # a 400-character class name must not widen the window

        self.submit_button = QPushButton(f"Submit ({keys['submit']})")
        self.submit_button.clicked.connect(self.submit)
        self.not_sure_button = QPushButton(f"Not sure ({keys['not_sure']})")
        self.not_sure_button.clicked.connect(lambda: self.submit_outcome("not_sure"))
        self.none_button = QPushButton(f"None of these ({keys['none_of_these']})")
        self.none_button.clicked.connect(lambda: self.submit_outcome("none_of_these"))
        self.flag_button = QPushButton(f"Flag image ({keys['flag']})")
        self.flag_button.clicked.connect(self.open_flag)
        self.undo_button = QPushButton(f"Undo last answer ({keys['undo']})")
        self.undo_button.clicked.connect(self.undo_requested)
        self.undo_button.setEnabled(False)
        self._buttons = (self.submit_button, self.not_sure_button, self.none_button, self.flag_button, self.undo_button)
        for button in self._buttons:
            button.setFocusPolicy(Qt.NoFocus)

        self.answer_title = QLabel()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, stretch=1)
        left_layout.addWidget(self.answer_title)
        left_layout.addWidget(self.slots)
        buttons = QHBoxLayout()
        for button in self._buttons:
            buttons.addWidget(button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.flag_bar)

        # Below these widths the tabs, the hierarchy's names and the command buttons are cut off.
        left.setMinimumWidth(MIN_ANSWER_SIDE_WIDTH)
        self.picker.setMinimumWidth(MIN_PICKER_WIDTH)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(SPLITTER_HANDLE_WIDTH)  # a handle one sees and can grab
        self.splitter.setStyleSheet(SPLITTER_STYLE)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.picker)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        # Until the annotator drags the handle (the window remembers it), the picker gets 2/5 of
        # the width: its size hint alone left it at its minimum, cutting long breed names.
        self.splitter.setSizes([3 * MIN_PICKER_WIDTH, 2 * MIN_PICKER_WIDTH])
        top = QHBoxLayout()
        top.addWidget(self.heading)
        top.addWidget(self.counter, stretch=1)
        top.addWidget(self.countdown)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.splitter, stretch=1)
        layout.addWidget(self.status)

    # -- showing a trial -------------------------------------------------------------
    def start(self, phase: Phase, image: QImage, *, number: int, phase_size: int, position: int, total: int) -> None:
        """Show trial ``number`` (1-based) of ``phase``; the RT clock starts at first paint."""
        self._timer.stop()
        self._stop_deadline()
        self._phase = phase
        self._onset = None
        self._shown_at = ""
        self._presented_ms = None
        self._exposures = 0
        self._carried_ms = None
        self._events = []
        self._flag = (None, "")
        self._confirming = None
        self.flag_bar.reset()
        self.heading.setText(phase.name.capitalize())
        # The bar counts the whole session, as the break screen does; say so beside the phase's count.
        overall = f"  ·  {position + 1} of {total} in all" if total != phase_size else ""
        self.counter.setText(f"· image {number} of {phase_size}{overall}")
        # QProgressBar.setValue repaints at once, which paints and flushes the window
        # before the new image is even set; with updates off it is drawn with the image.
        self.progress.setUpdatesEnabled(False)
        self.progress.setMaximum(total)
        self.progress.setValue(position)
        self.progress.setUpdatesEnabled(True)
        self.slots.configure(phase.answers, phase.multi_label)
        self.answer_title.setText(
            f"Your answer: select up to {phase.answers} classes that apply"
            if phase.multi_label
            else (
                "Your answer"
                if phase.answers == 1
                else f"Your answer: up to {phase.answers} guesses, most likely first"
            )
        )
        self.picker.reset()
        self.undo_button.setVisible(phase.undo)
        self._status("")
        self._accepting = True
        if phase.presentation is None:
            self.picker.setEnabled(True)
            self.view.show_image(image)
        else:
            self.picker.setEnabled(False)
            self.view.show_fixation()
            self._after(phase.presentation.fixation_ms, lambda: self.view.show_image(image))

    def set_undo_available(self, available: bool) -> None:
        self.undo_button.setEnabled(available)

    def show_revision(self, previous: Response) -> None:
        """After an undo: the answer taken back, in the slots, ready to be changed."""
        for label_id in previous.labels:
            self.slots.add(label_id)
        given = ", ".join(self._labels[label].name for label in previous.labels) or previous.outcome.replace("_", " ")
        self._status(f"Revising your last answer (it was: {given}). Submit to replace it.")

    def _painted(self, mode: str, when: float) -> None:
        if mode == "image" and self._onset is None and self._accepting:
            carried = self._carried_ms
            self._onset = when - (carried or 0.0) / 1000.0
            if carried is None:
                self._shown_at = utc_now()
            self._start_deadline()
            presentation = self._phase.presentation if self._phase else None
            if presentation is not None:
                self._exposures += 1
                if self._exposures > 1:  # a study that repeats the exposure after a pause: the export counts these
                    self.log_event("exposure", {"number": self._exposures})
                self._after(presentation.image_ms, self.view.show_mask)
        elif mode == "mask" and self._onset is not None and self._presented_ms is None:
            self._presented_ms = (when - self._onset) * 1000.0
            presentation = self._phase.presentation if self._phase else None
            self._after(presentation.mask_ms if presentation else 0, self._after_mask)

    def _after(self, msecs: int, step) -> None:
        self._step = step
        self._timer.start(msecs)

    def _timer_step(self) -> None:
        self._step()

    def stop(self) -> None:
        """Leave the trial (pause, quit): no pending presentation step may fire."""
        self._timer.stop()
        self._stop_deadline()
        self._accepting = False

    def suspend(self) -> TrialState:
        """Leave the trial for a while (a pause, an undo): what it has, to :meth:`restore` later.

        An image cut short by the pause counts as shown for as long as it was on screen."""
        elapsed = self.elapsed_ms() if self._onset is not None else None
        presented = self._presented_ms
        if presented is None and elapsed is not None and self._phase and self._phase.presentation:
            presented = elapsed
        self.stop()
        return TrialState(
            self.slots.labels, tuple(self._events), self._flag, elapsed, self._shown_at, presented, self._exposures
        )

    def restore(self, state: TrialState, then: str) -> None:
        """After :meth:`start` of the same trial: put back what :meth:`suspend` kept.

        ``then`` (:meth:`~study_app.session.controller.SessionController.after_pause`) says how
        the image comes back: ``respond``, straight to the response screen without showing it
        again; ``repeat``, a fresh timed exposure (start runs it; its clock starts anew);
        ``continue``, as it was, the response time going on without the time away."""
        self._events = list(state.events)
        self._flag = state.flag
        self._exposures = state.exposures
        for label_id in state.labels:
            self.slots.add(label_id)
        if state.labels:
            self.log_event("restored", {"labels": list(state.labels)})
        kept = f" with the {len(state.labels)} class(es) you had chosen" if state.labels else ""
        if then == "repeat" and state.seen:
            self._status(f"The image is shown once more{kept} (noted with your answer).")
        if then == "repeat" or not state.seen:
            return  # start() shows the image afresh
        self._shown_at = state.shown_at
        self._presented_ms = state.presented_ms
        self._carried_ms = state.elapsed_ms
        if then == "respond":
            self._timer.stop()  # no fixation, image or mask again
            self._onset = time.monotonic() - self._carried_ms / 1000.0
            self._start_deadline()
            self._after_mask()
            self._status(f"Back at your answer{kept}; the image is not shown again.")
        else:
            self._status(f"Back at this image{kept}.")

    def _start_deadline(self) -> None:
        limit = self._phase.time_limit_s if self._phase else None
        if limit:
            self._deadline.start(max(0, round(limit * 1000 - self.elapsed_ms())))  # a trial brought back: its time left
            if self._phase.countdown:
                self._ticker.start()
                self._show_time_left()

    def _stop_deadline(self) -> None:
        self._deadline.stop()
        self._ticker.stop()
        self.countdown.clear()
        self._set_urgent(False)

    def _show_time_left(self) -> None:
        limit = self._phase.time_limit_s if self._phase else None
        if limit:
            left = max(0.0, limit - self.elapsed_ms() / 1000)
            self.countdown.setText(f"time left: {left:.1f} s")
            self._set_urgent(left <= COUNTDOWN_URGENT_S)

    def _set_urgent(self, urgent: bool) -> None:
        if urgent != self._urgent:  # a style sheet set on every tick would re-polish the label ten times a second
            self._urgent = urgent
            self.countdown.setStyleSheet(COUNTDOWN_URGENT_STYLE if urgent else COUNTDOWN_STYLE)

    def _after_mask(self) -> None:
        self.view.clear()
        self.picker.setEnabled(True)
        self.picker.focus_search()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key_Escape and event.modifiers() == Qt.NoModifier:
            self.escaped.emit()
        else:
            super().keyPressEvent(event)

    @property
    def rt_clock_started(self) -> bool:
        return self._onset is not None

    def elapsed_ms(self) -> float:
        return 0.0 if self._onset is None else (time.monotonic() - self._onset) * 1000.0

    # -- answering -------------------------------------------------------------------
    def _add(self, label_id: str) -> None:
        if self.slots.add(label_id):
            self.log_event("add_label", {"label_id": label_id})
            self.picker.search.clear()

    def log_event(self, kind: str, detail: dict) -> None:
        self._events.append(Event(kind, self.elapsed_ms(), detail))

    def _slots_changed(self, message: str) -> None:
        self._confirming = None  # a changed answer asks afresh
        self._status(message)

    def _status(self, message: str) -> None:
        flag = f"   [flagged: {self._flag[0]}]" if self._flag[0] else ""
        self.status.setText(message + flag)

    def open_flag(self) -> None:
        self.flag_bar.open()

    def _flagged(self, reason: str | None, note: str) -> None:
        self._flag = (reason, note)
        self.log_event("flag", {"reason": reason, "note": note})
        self._status("image flagged" if reason else "flag removed")
        self.picker.focus_search()

    def _flag_unchanged(self) -> None:
        self._status("flag unchanged")
        self.picker.focus_search()

    def submit(self) -> None:
        if not self.slots.labels:
            self._status("Choose at least one class first (or F5 'not sure', F6 'none of these')")
            return
        self._finish(Response(self.slots.labels, **self._timing(), outcome="answer", **self._flag_fields()))

    def submit_outcome(self, outcome: str) -> None:
        """An answer without a class: 'not sure', 'none of these', or the deadline's 'timeout'.

        Over classes already in the slots, the first F5 / F6 only asks: a stray key must not
        drop guesses for good (a training answer is scored and shown at once). Over empty
        slots it answers at once where the answer can be taken back (undo), and asks too
        where it cannot. A timeout keeps the classes in the slots: the session stores them
        with it (scored or not, as the phase says; protocol/correctness.py).
        """
        if outcome != "timeout" and self._confirming != outcome and self._onset is not None:  # no asking unseen
            count = len(self.slots.labels)
            what = f"'{outcome.replace('_', ' ')}'"
            if count:
                self._confirming = outcome
                self._status(
                    f"Your answer holds {count} class{'es' if count > 1 else ''}. Press "
                    f"{self._keys[outcome]} again to answer {what} "
                    f"instead (dropping them), or {self._keys['submit']} to submit them."
                )
                return
            if self._phase is not None and not self._phase.undo:
                self._confirming = outcome
                self._status(f"Press {self._keys[outcome]} again to answer {what} (it cannot be undone here).")
                return
        self._confirming = None
        kept = self.slots.labels if outcome == "timeout" else ()
        self._finish(Response(kept, **self._timing(), outcome=outcome, **self._flag_fields()))

    def _timing(self) -> dict:
        return {
            "rt_ms": self.elapsed_ms(),
            "shown_at": self._shown_at,  # "" until painted: the session refuses such an answer
            "answered_at": utc_now(),
            "presented_ms": self._presented_ms,
        }

    def _flag_fields(self) -> dict:
        return {"flag": self._flag[0], "flag_note": self._flag[1]}

    def _finish(self, response: Response) -> None:
        if not self._accepting or self._onset is None:
            return
        self._accepting = False
        self._stop_deadline()
        self.submitted.emit(response, list(self._events))

    def accept_again(self, message: str) -> None:
        """The store could not take the answer: keep everything on screen and let them retry."""
        self._accepting = True
        self._status(message)

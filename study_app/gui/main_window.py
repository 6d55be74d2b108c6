"""The annotation window: instructions, then each phase's trials, feedback, breaks, the end.

The window is a view on :class:`~study_app.session.controller.SessionController`. Each submitted
answer is written through the controller (and so to disk) *before* the next screen is
shown; if the store fails, the answer stays on screen, the window says why, and the
annotator can retry. Nothing is lost by quitting: the next start resumes at the first
unanswered trial.
"""

from __future__ import annotations

import time

from PyQt5.QtCore import QEvent, QObject, QSettings, Qt, QTimer
from PyQt5.QtGui import QCloseEvent, QKeyEvent, QKeySequence
from PyQt5.QtWidgets import QApplication, QMainWindow, QMessageBox, QShortcut, QStackedWidget, QWidget

from study_app.errors import StoreError
from study_app.gui.examples_pane import ExamplesPane
from study_app.gui.help_overlay import HelpOverlay
from study_app.gui.image_loader import window_loaders
from study_app.gui.image_view import view_actions
from study_app.gui.pages import FeedbackPage, InstructionsPage, MessagePage
from study_app.gui.sync_indicator import SyncIndicator
from study_app.gui.trial_page import TrialPage, TrialState
from study_app.gui.window_state import restore_geometry, save_geometry
from study_app.protocol.keys import PAN_COMMANDS, combine_keys
from study_app.protocol.responses import Event, Response
from study_app.protocol.schedule import Trial
from study_app.protocol.study import Phase, undo_blocked_by
from study_app.session.controller import SessionController
from study_app.session.label_search import LabelSearchIndex
from study_app.store.db import LOCK_PATIENCE_S

PREFETCH = 3
#: How long "Time's up" stays on screen after a deadline (Enter, after the key guard, goes on sooner).
TIMES_UP_MS = 1500
STYLE = """
QLabel#heading { font-size: 15px; }
QLabel#status { color: #444; min-height: 18px; }
"""


def duration_text(ms: float) -> str:
    """``12 min 05 s``, or ``1 h 02 min 05 s`` from an hour on."""
    seconds = int(ms // 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {seconds:02d} s" if hours else f"{minutes} min {seconds:02d} s"


def pan_key_texts(keys: dict[str, str]) -> set[str]:
    """The pan commands' keys as Qt writes them (compared with the keys pressed)."""
    return {QKeySequence(keys[command.name]).toString() for command in PAN_COMMANDS}


class AnnotationWindow(QMainWindow):
    """One annotator's session in one window."""

    def __init__(
        self,
        controller: SessionController,
        settings: QSettings | None = None,
        prefetch: int = PREFETCH,
        user_keys: dict[str, str] | None = None,
    ) -> None:
        """``user_keys``: the annotator's own bindings (:func:`~study_app.protocol.keys.read_user_keys`);
        the study's ``[keys]`` win over them, and a clash raises ProtocolError."""
        super().__init__()
        self._prefetch_count = prefetch
        self.controller = controller
        study = controller.study
        self.study = study
        self._settings = settings or QSettings()
        self._session_started = time.monotonic()
        self.keys, key_sources = combine_keys(dict(study.keys), user_keys or {})
        self._phase_intro_shown: set[str] = set()
        self._closing = False
        self._drop_confirmed = False  # quitting over unsubmitted guesses was confirmed (or needs no asking)
        # Trials left with what they had on screen (a pause; the trial an undo went back from),
        # each with how it goes on (SessionController.after_pause), until it is shown again.
        self._left: dict[Trial, tuple[TrialState, str]] = {}
        self.setWindowTitle(f"{study.title} — annotator {controller.annotator}")
        self.setStyleSheet(STYLE)

        self.images, self.thumbnails = window_loaders(
            self, 32 << 20, study.max_pixels, self._image_ready, self._image_failed
        )
        index = LabelSearchIndex.for_label_set(study.labels)

        self.pages = QStackedWidget()
        self.instructions = InstructionsPage(study.title, study.instructions)
        self.instructions.continued.connect(self._after_instructions)
        self.trial = TrialPage(study.labels, index, self.thumbnails, study.examples_per_class, self.keys)
        self.trial.submitted.connect(self._store)
        self.trial.undo_requested.connect(self._on_trial(self._undo))
        self.trial.escaped.connect(self._on_trial(self._cancel_revision))
        # Decode ahead only once the new image is on screen, so that starting worker
        # threads (and their bid for the GIL) never delays the paint an annotator waits for.
        # The view announces its paint before Qt paints the rest of the page and flushes the
        # window; the timer starts the decoding from the event loop, after that flush.
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.timeout.connect(self._prefetch)
        self.trial.view.painted.connect(lambda mode, _when: self._prefetch_timer.start(0) if mode == "image" else None)
        self.feedback = FeedbackPage(
            study.labels, ExamplesPane(study.labels, self.thumbnails, study.examples_per_class)
        )
        self.feedback.continued.connect(self._after_feedback)
        self.message = MessagePage()
        self.message.continued.connect(self._after_message)
        for page in (self.instructions, self.trial, self.feedback, self.message):
            self.pages.addWidget(page)
        for guarded in (self.instructions, self.feedback, self.message):
            guarded.key_guard_ms = study.key_guard_ms
        self.setCentralWidget(self.pages)
        self.help = HelpOverlay(self.pages, self.keys, key_sources)
        self._after_message_action = self._next
        self._waiting_for: str | None = None
        self._install_shortcuts()
        controller.store.listen_for_lock_waits(self._waiting_for_store)
        if controller.store.sync_status().journaled:  # a results server behind the offline journal (store/journal.py)
            self.statusBar().addPermanentWidget(SyncIndicator(controller.store.sync_status))
        self._restore_window_state()
        self.instructions.set_heading(study.title, controller.resumed)
        self._show(self.instructions)
        self._prefetch(start=controller.position)  # decode while the instructions are read

    # -- shortcuts --------------------------------------------------------------------
    def _install_shortcuts(self) -> None:
        trial = self.trial
        actions = {
            "help": self.help.toggle,
            "focus_search": self._on_trial(trial.picker.focus_search),
            "focus_tree": self._on_trial(trial.picker.focus_tree),
            "focus_slots": self._on_trial(self._focus_slots),
            "submit": self._on_trial(trial.submit),
            "remove_last": self._on_trial(trial.slots.remove_last),
            "clear_answer": self._on_trial(trial.slots.clear_all),
            "not_sure": self._on_trial(lambda: trial.submit_outcome("not_sure")),
            "none_of_these": self._on_trial(lambda: trial.submit_outcome("none_of_these")),
            "flag": self._on_trial(trial.open_flag),
            "examples": self._on_trial(trial.picker.examples.toggle_large),
            "pause": self._on_trial(self._pause),
            **{name: self._on_trial(action) for name, action in view_actions(trial.view).items()},
            "undo": self._undo_key,
            "quit": self.close,
        }
        self.shortcuts: dict[str, QShortcut] = {}
        for name, action in actions.items():
            shortcut = QShortcut(QKeySequence(self.keys[name]), self)
            shortcut.setContext(Qt.WindowShortcut)
            shortcut.activated.connect(action)
            self.shortcuts[name] = shortcut
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self._on_trial(trial.submit))
        self._command_keys = {QKeySequence(k).toString() for k in (*self.keys.values(), "Ctrl+Enter")}
        self._pan_keys = pan_key_texts(self.keys)
        self._panned_view = trial.view
        QApplication.instance().installEventFilter(self)

    # Shared with the review window, which sets the same three attributes for its own keys and view.
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Command keys win over text fields (a line edit would take Ctrl+Return as Return).

        The pan keys only while the image is zoomed: otherwise Ctrl+Left/Right keep moving
        the search box's cursor by a word.
        """
        if event.type() == QEvent.ShortcutOverride and isinstance(watched, QWidget) and watched.window() is self:
            key_event: QKeyEvent = event  # type: ignore[assignment]
            modifiers = int(key_event.modifiers()) & ~int(Qt.KeypadModifier)
            sequence = QKeySequence(modifiers | key_event.key()).toString()
            if sequence in self._pan_keys and self._panned_view.zoom == 1.0:
                return False
            if sequence in self._command_keys:
                return True
        return False

    def _on_trial(self, action):
        """Run ``action`` only while a trial is on screen and help is closed."""

        def guarded() -> None:
            if self.pages.currentWidget() is self.trial and not self.help.isVisible():
                action()

        return guarded

    def _focus_slots(self) -> None:
        self.trial.slots.setFocus()
        if self.trial.slots.currentRow() < 0:
            self.trial.slots.setCurrentRow(0)

    # -- flow -------------------------------------------------------------------------
    def _show(self, page: QWidget) -> None:
        self.pages.setCurrentWidget(page)
        if page is not self.trial:
            page.setFocus()

    def _log(self, event: Event) -> None:
        """Note an event outside any answer (instructions read, break, pause). A full disk or a
        vanished results file must not end the session here: the next answer's save reports it
        and keeps that answer on screen until it is written."""
        try:
            self.controller.log([event])
        except StoreError:
            pass

    def _after_instructions(self) -> None:
        self._log(Event("instructions_read", self._session_ms()))
        self._next()

    def _next(self) -> None:
        """Show whatever comes next: the end, a phase's start screen, or the next trial."""
        controller = self.controller
        if controller.complete:
            self._finish()
            return
        phase = controller.current_phase()
        if controller.starts_phase() and phase.name not in self._phase_intro_shown:
            self._phase_intro_shown.add(phase.name)
            lines = [f"{controller.phase_size(phase.name)} images."]
            lines.append(
                "After each answer you will see whether it was right."
                if phase.feedback
                else "There is no feedback in this part."
            )
            if phase.presentation:
                lines.append(
                    "Each image is shown only briefly "
                    f"({phase.presentation.image_ms} ms); look at the cross in the middle."
                )
            self._message(f"{phase.name.capitalize()}", lines, self._next)
            return
        self._show_trial()

    def _show_trial(self) -> None:
        controller = self.controller
        trial = controller.current()
        record = self.study.images[trial.image_id]
        if self.images.request(
            trial.image_id, record.path, fit=self.trial.view.paint_size(), sha256=record.sha256 or None
        ):
            self._waiting_for = None
            phase = self.study.phase(trial.phase)
            self._show(self.trial)
            self.trial.start(
                phase,
                self.images.get(trial.image_id),
                number=trial.index + 1,
                phase_size=controller.phase_size(trial.phase),
                position=controller.position,
                total=controller.total,
            )
            left = self._left.pop(trial, None)
            if left is not None:
                self.trial.restore(*left)
            elif controller.answer_under_revision is not None:
                self.trial.show_revision(controller.answer_under_revision)
            self.trial.set_undo_available(controller.can_undo())
        else:
            self._waiting_for = trial.image_id
            error = self.images.error(trial.image_id)
            if error:
                self._image_failed(trial.image_id, error)
            else:
                self._message("Loading…", ["The next image is being prepared."], self._show_trial)

    def _prefetch(self, start: int | None = None) -> None:
        """Decode the next images in the background (from ``start``, default the one after this)."""
        trials = self.controller.session.trials
        start = self.controller.position + 1 if start is None else start
        # Keep the images ahead, the current one and the last (for feedback), at view size.
        width, height = self.trial.view.paint_size()
        self.images.set_budget(max(8 << 20, 4 * width * height * (self._prefetch_count + 2)))
        for trial in trials[start : start + self._prefetch_count]:
            record = self.study.images[trial.image_id]
            self.images.request(
                trial.image_id, record.path, fit=self.trial.view.paint_size(), sha256=record.sha256 or None
            )

    def _image_ready(self, image_id: str) -> None:
        if image_id == self._waiting_for:
            self._show_trial()

    def _image_failed(self, image_id: str, error: str) -> None:
        if image_id != self._waiting_for:
            return
        self._waiting_for = None
        self._message(
            "This image cannot be shown",
            ["It is skipped and flagged as broken for the researcher.", error.split(": ", 1)[-1]],
            self._skip_broken,
        )

    def _skip_broken(self) -> None:
        skipped = Response((), 0.0, "", "", outcome="skip", flag="broken", flag_note="image could not be loaded")
        self._store(skipped, [])

    def _store(self, response: Response, events: list) -> None:
        try:
            feedback = self.controller.submit(response, events)
        except StoreError as exc:
            self.trial.accept_again(
                f"Your answer could NOT be saved ({exc}). It is kept here; press {self.keys['submit']} to try again."
            )
            return
        if feedback is not None:
            self.feedback.show_feedback(feedback, self.images.get(self._answered_image_id()))
            self._show(self.feedback)
        elif response.outcome == "timeout":
            self._times_up(response)
        else:
            self._after_feedback()

    def _times_up(self, timeout: Response) -> None:
        """Say for a moment that the deadline passed, and what became of the guesses chosen."""
        phase = self._answered_phase()
        names = ", ".join(self.study.labels[label].name for label in timeout.labels)
        if not names:
            kept = "No class had been chosen."
        elif phase.score_timeout_guesses:
            kept = f"Your choice so far was kept and counts as your answer: {names}."
        else:
            kept = f"Your choice so far was kept (it is not scored): {names}."
        self._message("Time's up", [kept], self._after_feedback, moment_ms=TIMES_UP_MS)

    def _undo_key(self) -> None:
        """The undo key: take back the last answer, or say why not where the phase has undo off
        (on its trials and on its feedback screen, where the key would otherwise do nothing)."""
        page = self.pages.currentWidget()
        if self.help.isVisible() or page not in (self.trial, self.feedback):
            return
        phase = self.controller.current_phase() if page is self.trial else self._answered_phase()
        if phase is not None and not phase.undo:
            reason = undo_blocked_by(phase.feedback, phase.presentation is not None) or "the study turns it off"
            text = f"Undo is off in this part ({reason})."
            if page is self.trial:
                self.trial.status.setText(text)
            else:
                self.feedback.show_note(text)
        elif page is self.trial:
            self._undo()

    def _waiting_for_store(self, seconds: float | None) -> None:
        """Say why the window stands still while another program holds the results file.

        Called from inside the blocked write, so the label is painted at once (``repaint``)
        rather than by the event loop, which cannot run until the answer is saved.
        """
        if seconds is None:
            self.trial.status.setText("")
        else:
            self.trial.status.setText(
                f"Saving... the results file is in use by another program (waiting {seconds:.0f} s; "
                f"up to {LOCK_PATIENCE_S:.0f} s). Your answer is kept."
            )
        self.trial.status.repaint()

    def _answered_image_id(self) -> str:
        """The image of the trial just answered (for the feedback screen)."""
        return self.controller.session.trials[self.controller.position - 1].image_id

    def _answered_phase(self) -> Phase:
        """The phase of the trial just answered (its feedback or time's-up screen is showing)."""
        return self.study.phase(self.controller.session.trials[self.controller.position - 1].phase)

    def _after_feedback(self) -> None:
        if self.controller.break_due():
            self._take_break()
        else:
            self._next()

    def _take_break(self) -> None:
        controller = self.controller
        done = controller.position
        lines = [
            f"You have finished {done} of {controller.total} images.",
            self._elapsed_text(),
        ]
        phase = self.study.phase(controller.session.trials[done - 1].phase)
        if phase.feedback:
            correct, answered = controller.block_score()
            lines.append(f"In the last block: {correct} of {answered} correct.")
        lines.append("Take a short rest. Continue when you are ready.")
        self._log(Event("break_start", self._session_ms()))
        self._message("Break", lines, self._end_break)

    def _end_break(self) -> None:
        self._log(Event("break_end", self._session_ms()))
        self._next()

    def _undo(self) -> None:
        """Take back the last answer and show its trial again with that answer in the slots;
        the trial left keeps what was chosen for it. Pressed again while revising: cancel."""
        if self.controller.revising:
            self._cancel_revision()
            return
        if not self.controller.can_undo():
            self.trial.status.setText(
                "There is no answer to take back here (only the last one, within this part, not after a break)."
            )
            return
        left = self.controller.current()
        try:
            self.controller.undo()
        except StoreError as exc:
            self.trial.status.setText(f"Could not take the answer back ({exc}).")
            return
        self._left[left] = (self.trial.suspend(), "continue")
        self._show_trial()

    def _cancel_revision(self) -> None:
        """Esc (or the undo key again) while revising: the earlier answer stays, and the image
        the undo went back from returns with its chosen classes."""
        if not self.controller.revising:
            return
        try:
            self.controller.cancel_revision()
        except StoreError as exc:
            self.trial.status.setText(f"Could not cancel the revision ({exc}); submit it or try again.")
            return
        self.trial.stop()
        self._show_trial()

    def _pause(self) -> None:
        trial = self.controller.current()
        state = self.trial.suspend()
        pause = self.controller.pause_event(state.elapsed_ms or 0.0, state.seen)
        self._log(pause)
        then = pause.detail["then"]
        self._left[trial] = (state, then)
        kept = "The classes you had chosen are kept." if state.labels else ""
        after = {
            "respond": "When you continue, you answer without seeing the image again.",
            "repeat": "When you continue, the image is shown once more (this is noted with your answer).",
            "continue": "When you continue, this image comes back.",
        }[then]
        self._message("Paused", ["The image is hidden.", after, kept], self._resume_after_pause)

    def _resume_after_pause(self) -> None:
        self._log(Event("resume", self._session_ms()))
        self._show_trial()

    def _finish(self) -> None:
        controller = self.controller
        try:
            controller.finish()
        except StoreError as exc:
            self._message(
                "Could not close the session", [str(exc), "Your answers are saved."], self.close, "Quit (Enter)"
            )
            return
        lines = [f"You answered all {controller.total} images.", self._elapsed_text()]
        for phase in self.study.phases:
            if phase.feedback:
                correct, answered = controller.phase_accuracy(phase.name)
                if answered:
                    lines.append(f"{phase.name.capitalize()}: {correct} of {answered} correct.")
        lines.append("Thank you! You can close the window now.")
        self._message("Finished", lines, self.close, "Close (Enter)")

    def _message(
        self, heading: str, lines: list[str], then, button: str = "Continue (Enter)", moment_ms: int | None = None
    ) -> None:
        self.message.show_message(heading, lines, button, moment_ms)
        self._after_message_action = then
        self._show(self.message)

    def _after_message(self) -> None:
        self._after_message_action()

    # -- time, state, closing ---------------------------------------------------------
    def _session_ms(self) -> float:
        return (time.monotonic() - self._session_started) * 1000.0

    def _elapsed_text(self) -> str:
        """This sitting's time and, once the session was resumed, the whole session's (every
        sitting's, as the store recorded them: :mod:`study_app.store.sittings`)."""
        sitting = self._session_ms()
        earlier = self.controller.session.earlier_sittings
        text = f"Time in this sitting: {duration_text(sitting)}."
        if earlier:
            total = duration_text(sitting + sum(earlier))
            text += f" In the whole session ({len(earlier) + 1} sittings): {total}."
        return text

    def _restore_window_state(self) -> None:
        restore_geometry(self, self._settings, "annotate")
        splitter = self._settings.value("annotate/splitter")
        if splitter is not None:
            self.trial.splitter.restoreState(splitter)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        attention = event.type() == QEvent.ActivationChange or (
            event.type() == QEvent.WindowStateChange and self.isMinimized()
        )
        if attention and self.controller.current() is not None and not self._closing:
            if event.type() == QEvent.WindowStateChange:
                kind = "minimized"
            else:
                kind = "focus_gained" if self.isActiveWindow() else "focus_lost"
            if self.pages.currentWidget() is self.trial:
                self.trial.log_event(kind, {})
            else:
                try:
                    self.controller.log([Event(kind, self._session_ms())])
                except StoreError:
                    pass  # an attention note is not worth an error dialog
        super().changeEvent(event)

    def take_focus(self) -> None:
        """Raise the window and give it the keyboard, back where it was (after the start dialog,
        a question box): without a window manager nobody else does, and keys went nowhere,
        or to a field that took Ctrl+Return for Return, until the window was clicked."""
        self.raise_()
        self.activateWindow()
        (self.focusWidget() or self.pages.currentWidget()).setFocus(Qt.ActiveWindowFocusReason)

    def close_without_asking(self) -> None:
        """Close even over unsubmitted guesses (a scripted participant that stopped)."""
        self._drop_confirmed = True
        self.close()

    def _unsubmitted(self) -> tuple[int, bool]:
        """(classes chosen but not submitted, whether an answer is being revised): what quitting drops."""
        chosen = sum(len(state.labels) for state, _then in self._left.values())
        if self.pages.currentWidget() is self.trial:
            chosen += len(self.trial.slots.labels)
        return chosen, self.controller.revising

    def _quit_confirmed(self) -> bool:
        """Ask once before quitting would drop chosen classes or a revision; nothing stored is lost either way."""
        chosen, revising = self._unsubmitted()
        if self._drop_confirmed or not (chosen or revising):
            return True
        lines = []
        if chosen:
            lines.append(f"The {chosen} class(es) you chose and did not submit will be dropped.")
        if revising:
            lines.append("You are revising your last answer: the earlier answer then stays as it was.")
        lines.append("Every submitted answer is saved; the next start goes on where you stopped.")
        box = QMessageBox(QMessageBox.Question, "Quit now?", "\n".join(lines), QMessageBox.NoButton, self)
        quit_button = box.addButton("Quit", QMessageBox.AcceptRole)
        box.setDefaultButton(box.addButton("Keep working", QMessageBox.RejectRole))
        box.exec_()
        self._drop_confirmed = box.clickedButton() is quit_button
        if not self._drop_confirmed:
            self.take_focus()
        return self._drop_confirmed

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._closing:
            event.accept()
            return
        if not self._quit_confirmed():
            event.ignore()
            return
        self._closing = True
        self.trial.stop()
        save_geometry(self, self._settings, "annotate")
        self._settings.setValue("annotate/splitter", self.trial.splitter.saveState())
        if not self.controller.complete:
            try:
                self.controller.log([Event("quit", self._session_ms(), {"position": self.controller.position})])
            except StoreError:
                pass  # answers are already durable; only the quit note is lost
        self.controller.store.listen_for_lock_waits(None)  # the store may outlive this window
        QApplication.instance().removeEventFilter(self)
        self._prefetch_timer.stop()
        self.images.close()
        self.thumbnails.close()
        event.accept()

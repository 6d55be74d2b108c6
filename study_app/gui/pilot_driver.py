"""``simulate --gui``: a scripted participant at the keyboard of the real annotation window.

The researcher watches a pilot session as an annotator would live it: the same window,
the same pages, and every answer entered with key presses delivered through Qt (typing
the class name into the search box, moving to the class, Enter to fill a slot,
Ctrl+Return to submit, Enter on the instruction, break and feedback screens; with
interruptions, F9 and Ctrl+Z then Esc or Ctrl+Return, checking that the chosen classes come
back). The script runs on Qt timers, so the window repaints between keys and the pauses
follow the participant's response times.

The participant is also a hurried one, and the run checks that the window holds against
it: on every screen between trials it first presses Enter too early (within the key
guard), which must not move on; on a trial whose image is not yet shown (a timed phase's
fixation) it presses the not-sure key, which must not be taken as an answer; its guesses
are spread over its response time, and when a deadline ends a trial the guesses it had
chosen must be stored with the timeout. Any of these failing stops the pilot with an error.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PyQt5.QtCore import QEventLoop, QObject, Qt, QTimer
from PyQt5.QtGui import QKeySequence
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from study_app.errors import StudyError
from study_app.gui.main_window import AnnotationWindow
from study_app.gui.pages import ContinuePage
from study_app.session.controller import SessionController
from study_app.session.pilot import ScriptedParticipant

#: Longest the script waits for the window (an image to decode, a page to appear).
STALL_LIMIT_MS = 30_000
POLL_MS = 20
#: Times the participant presses submit on one answer before the pilot gives up (the window
#: keeps an answer the store refused and asks for it again; a person would try a few times).
SUBMIT_TRIES = 3


class WindowPilot(QObject):
    """Types one participant's answers into a real :class:`AnnotationWindow`."""

    def __init__(self, window: AnnotationWindow, participant: ScriptedParticipant, key_ms: int = 40) -> None:
        super().__init__(window)
        self.window = window
        self.participant = participant
        self.key_ms = key_ms
        self._script = self._run()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self.error: str | None = None

    def start(self) -> None:
        self._timer.start(0)

    def _tick(self) -> None:
        try:
            delay = next(self._script)
        except StopIteration:
            return
        except Exception as exc:  # a broken script must not leave the window open and idle
            self.error = str(exc) if isinstance(exc, StudyError) else f"{type(exc).__name__}: {exc}"
            self.window.close_without_asking()
            return
        self._timer.start(delay)

    def _key(self, key: int, modifier=Qt.NoModifier) -> None:
        if not self.window.isActiveWindow():
            self.window.activateWindow()
        target = QApplication.focusWidget() or self.window
        QTest.keyClick(target, key, modifier)

    def _command(self, command: str) -> None:
        """Press the key of one of the window's commands (e.g. ``not_sure``: F5 unless rebound)."""
        combined = QKeySequence(self.window.keys[command])[0]
        self._key(
            combined & ~int(Qt.KeyboardModifierMask), Qt.KeyboardModifiers(combined & int(Qt.KeyboardModifierMask))
        )

    def _run(self) -> Iterator[int]:
        window = self.window
        stalled = 0
        early_for = -1  # the trial the early key was pressed on
        while window.isVisible():
            page = window.pages.currentWidget()
            if window.help.isVisible():
                self._key(Qt.Key_Escape)
                yield self.key_ms
            elif page is window.trial:
                if not window.trial.rt_clock_started and early_for != window.controller.position:
                    early_for = window.controller.position
                    self._answer_unseen()
                if not (window.trial.rt_clock_started and window.trial.picker.isEnabled()):
                    stalled += POLL_MS
                    if stalled > STALL_LIMIT_MS:
                        raise StudyError(
                            f"trial {window.controller.position + 1} did not start within {STALL_LIMIT_MS // 1000} s"
                        )
                    yield POLL_MS
                    continue
                stalled = 0
                yield from self._answer()
            else:
                yield from self._continue(page)

    def _continue(self, page: ContinuePage) -> Iterator[int]:
        """Enter too early on a screen between trials (it must stay), then Enter once it is read."""
        showing = page.showings
        yield int(self.participant.early_press_ms(page.key_guard_ms))
        if self.window.pages.currentWidget() is page and page.showings == showing:
            self._key(Qt.Key_Return)
            moved = self.window.pages.currentWidget() is not page or page.showings != showing
            # A press timed inside the guard may reach the page after it under load: what counts
            # is when the page took it, which it records.
            taken = page.continued_by_key
            if moved and (taken is None or taken[0] != showing or taken[1] < page.key_guard_ms):
                shown = taken[1] if taken is not None and taken[0] == showing else None
                raise StudyError(
                    f"Enter {'before the paint' if shown is None else f'{shown:.0f} ms after the paint'} moved a "
                    f"screen on, within its key guard of {page.key_guard_ms} ms: the next answer could land on "
                    "an image not looked at"
                )
        yield max(self.key_ms, 300)  # long enough to read on screen
        if self.window.pages.currentWidget() is page and page.showings == showing:  # not gone by itself meanwhile
            self._key(Qt.Key_Return)
            yield self.key_ms

    def _answer_unseen(self) -> None:
        """The not-sure key before the trial's image is on screen: it must not answer the trial."""
        position = self.window.controller.position
        self._command("not_sure")
        if self.window.controller.position != position:
            raise StudyError(f"trial {position + 1} took an answer before its image was shown")

    def _answer(self) -> Iterator[int]:
        window = self.window
        trial = window.controller.current()
        phase = window.study.phase(trial.phase)
        response = self.participant.respond(trial.image_id, phase.answers)
        interruptions = self.participant.interrupts()
        position = window.controller.position
        typing = self.key_ms * 4
        picker = window.trial.picker
        chosen: list[str] = []
        for label_id, at in zip(response.labels, self.participant.guess_times(response.rt_ms, len(response.labels))):
            yield max(0, int(at - typing - window.trial.elapsed_ms()))  # "thinking" until this guess
            if self._moved_on(position):
                self._check_timeout_kept(position, chosen)  # the deadline ended the trial meanwhile
                return
            picker.focus_search()
            name = window.study.labels[label_id].name
            for character in name[:24]:
                QTest.keyClicks(picker.search, character)
                yield self.key_ms // 2 or 1
            for _ in range(60):  # move to the class among the matches, as a person would
                if picker.current == label_id or self._moved_on(position):
                    break
                self._key(Qt.Key_Down)
                yield 1
            if self._moved_on(position):
                self._check_timeout_kept(position, chosen)
                return
            if picker.current != label_id:
                raise RuntimeError(f"could not find class {name!r} by typing its name")
            self._key(Qt.Key_Return)
            chosen.append(label_id)
            yield self.key_ms
            if len(chosen) == 1:
                yield from self._interrupt(position, *interruptions)
        yield max(0, int(response.rt_ms - window.trial.elapsed_ms()))
        if self._moved_on(position):
            self._check_timeout_kept(position, chosen)
            return
        for _ in range(SUBMIT_TRIES):  # an answer the store could not take stays on screen: submit it again
            if self._moved_on(position):
                return
            self._key(Qt.Key_Return, Qt.ControlModifier)
            yield self.key_ms
        if not self._moved_on(position):
            raise StudyError(
                f"trial {position + 1} was not saved after {SUBMIT_TRIES} tries: {window.trial.status.text()}"
            )

    def _interrupt(self, position: int, pause: bool, undo: str | None) -> Iterator[int]:
        """Pause and continue, and take back the previous answer then cancel or resubmit the
        revision, as :meth:`ScriptedParticipant.interrupts` chose; the classes chosen for this
        trial must be back each time (a window that drops them stops the pilot)."""
        window = self.window
        kept = window.trial.slots.labels
        if pause:
            self._command("pause")
            yield from self._back_at(position)
            self._check_kept(kept, "a pause", position)
        if undo and window.controller.can_undo() and not self._moved_on(position):
            self._command("undo")
            yield from self._back_at(position - 1, revising=True)
            if undo == "cancel":
                self._key(Qt.Key_Escape)
            else:
                self._command("submit")
            yield from self._back_at(position)
            self._check_kept(kept, "an undo", position)

    def _back_at(self, position: int, revising: bool = False) -> Iterator[int]:
        """Until trial ``position`` takes answers again (``revising``: the previous answer's, taken
        back), through the screens between (the pause) as between trials."""
        window = self.window
        waited = 0
        while not (
            window.pages.currentWidget() is window.trial
            and window.controller.position == position
            and window.controller.revising == revising
            and window.trial.rt_clock_started
            and window.trial.picker.isEnabled()
        ):
            if not revising and window.controller.position > position:
                return  # its deadline passed meanwhile
            page = window.pages.currentWidget()
            if isinstance(page, ContinuePage):
                yield from self._continue(page)
            yield POLL_MS
            waited += POLL_MS
            if waited > STALL_LIMIT_MS:
                raise StudyError(f"trial {position + 1} did not come back within {STALL_LIMIT_MS // 1000} s")

    def _check_kept(self, kept: tuple[str, ...], after: str, position: int) -> None:
        if not self._moved_on(position) and self.window.trial.slots.labels != kept:
            raise StudyError(
                f"trial {position + 1} lost the classes chosen for it across {after}: "
                f"{', '.join(kept)} before, {', '.join(self.window.trial.slots.labels) or 'none'} after"
            )

    def _check_timeout_kept(self, position: int, chosen: list[str]) -> None:
        """The deadline ended trial ``position``: the guesses chosen by then are stored with it."""
        controller = self.window.controller
        last = controller.store.session_answers(controller.session)[-1]
        if last.outcome != "timeout" or last.labels != tuple(chosen):
            raise StudyError(
                f"trial {position + 1} ran out of time with {list(chosen)} chosen, but was stored as "
                f"{last.outcome!r} with {list(last.labels)}"
            )

    def _moved_on(self, position: int) -> bool:
        """The trial being answered is no longer on screen (e.g. its deadline passed)."""
        window = self.window
        return window.controller.position != position or window.pages.currentWidget() is not window.trial


def drive_window(controller: SessionController, participant: ScriptedParticipant, key_ms: int = 40) -> None:
    """Show the window for ``controller`` and let the participant work through it."""
    window = AnnotationWindow(controller)
    window.setWindowTitle(f"{window.windowTitle()} [pilot]")
    window.show()
    window.activateWindow()
    pilot = WindowPilot(window, participant, key_ms)
    loop = QEventLoop()
    with _interrupt_as_flag() as interrupted:
        closed = QTimer(window)
        closed.timeout.connect(lambda: loop.quit() if interrupted.is_set() or not window.isVisible() else None)
        closed.start(100)
        pilot.start()
        loop.exec_()
        closed.stop()
    window.close_without_asking()  # after Ctrl+C too: nothing typed but unsubmitted is worth a question
    window.deleteLater()
    if interrupted.is_set():
        raise KeyboardInterrupt
    if pilot.error:
        raise StudyError(f"the GUI pilot stopped: {pilot.error}")
    if not controller.complete:
        raise StudyError(
            f"the pilot window was closed before {controller.annotator} finished "
            f"({controller.position} of {controller.total} trials answered)"
        )


@contextmanager
def _interrupt_as_flag() -> Iterator[threading.Event]:
    """Ctrl+C while the window runs sets a flag instead of raising: a KeyboardInterrupt raised
    inside a Qt slot makes PyQt abort the process (exit 134, the pilot's session left open),
    whereas the flag lets the loop end and the interrupt be raised where it can be handled."""
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)

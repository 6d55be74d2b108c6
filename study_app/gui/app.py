"""Starting the annotation app: Qt set-up, the protocol check, the start dialog, the window."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication, QDialog, QMessageBox

from study_app.errors import StoreError, StudyError
from study_app.gui.crash import crash_handler
from study_app.gui.main_window import AnnotationWindow
from study_app.gui.start_dialog import StartDialog
from study_app.io.program import program
from study_app.io.thread_priority import lowest_thread_priority
from study_app.protocol.keys import combine_keys, read_user_keys, user_keys_path
from study_app.session.controller import SessionController
from study_app.session.study_cache import BackgroundCheck, load_study_for_session
from study_app.store.answer_store import AnswerStore
from study_app.store.journal import open_annotation_store
from study_app.store.results_store import default_store_path, store_location

#: Seconds after the window opens before the background image checks begin (the first
#: trial is painted by then; the checks only ever run at the lowest thread priority).
CHECK_DELAY_S = 3.0


def _check_display() -> None:
    """Qt aborts the whole process without a screen; say so in words instead."""
    headless = sys.platform.startswith("linux") and not any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    )
    if headless:
        raise StudyError(
            "no screen found (DISPLAY is not set): the annotation window needs a desktop session. "
            f"Without one, try '{program()} validate' or '{program()} simulate', or set "
            "QT_QPA_PLATFORM=offscreen to run the window invisibly"
        )


#: The process's QApplication, held here: Qt aborts the process (exit 134) when a widget is
#: made after the Python object of the application was collected, so a caller that only
#: needs the application to exist (``simulate --gui``) must not be the one that keeps it.
_application: QApplication | None = None


def application() -> QApplication:
    """The QApplication (created once, high-DPI aware, kept for the life of the process)."""
    global _application
    existing = QApplication.instance()
    if existing is not None:
        return existing
    _check_display()
    # Image decoding runs in worker threads; a short GIL switch interval lets the GUI
    # thread take the interpreter back within ~1 ms instead of Python's default 5 ms.
    sys.setswitchinterval(0.001)
    QApplication.setAttribute(Qt.AA_EnableHighDpiScaling, True)
    QApplication.setAttribute(Qt.AA_UseHighDpiPixmaps, True)
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("study-app")
    app.setApplicationName("annotate")
    _application = app
    return app


def _ask_for_session(
    dialog: StartDialog, study, store: AnswerStore, annotator: str | None, force_new: bool, arrival: int | None
):
    """Run the start dialog until a session opens (or the annotator cancels: None)."""
    attempt_direct = bool(annotator)
    while True:
        if attempt_direct:
            attempt_direct = False
            if not dialog.check(annotator):
                continue
            dialog.annotator = annotator.strip()
        elif dialog.exec_() != QDialog.Accepted:
            return None
        try:
            return SessionController(study, store, dialog.annotator, force_new=force_new, arrival=arrival)
        except StoreError as exc:
            dialog.show_error(str(exc))


def run_annotation(
    study_ref: str,
    annotator: str | None = None,
    store_path: str | Path | None = None,
    force_new: bool = False,
    keys_file: str | Path | None = None,
    arrival: int | None = None,
) -> int:
    """The annotator's program: returns the exit status."""
    app = application()
    try:
        study, check = load_study_for_session(study_ref)
        keys_path = Path(keys_file) if keys_file else user_keys_path()
        if keys_file and not keys_path.is_file():
            raise StudyError(f"{keys_path}: no such keys file")
        user_keys = read_user_keys(keys_path)
        combine_keys(dict(study.keys), user_keys, str(keys_path))  # a clash is refused before any session opens
        store = open_annotation_store(store_location(store_path) if store_path else default_store_path(study))
    except StudyError as exc:
        QMessageBox.critical(None, "Cannot start the study", str(exc))
        raise
    try:
        dialog = StartDialog(study, store, annotator or "")
        controller = _ask_for_session(dialog, study, store, annotator, force_new, arrival)
        if controller is None:
            return 0
        window = AnnotationWindow(controller, user_keys=user_keys)
        window.show()
        window.take_focus()  # the start dialog had it
        with _in_background(check), crash_handler():
            return app.exec_()
    finally:
        store.close()


@contextmanager
def _in_background(check: BackgroundCheck) -> Iterator[None]:
    """Run the start-up's left-over image checks in a thread while the window is open."""
    stop = threading.Event()
    thread = threading.Thread(
        target=check.run, args=(stop, lowest_thread_priority, CHECK_DELAY_S), name="study-check", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)  # one image's decode at most; it keeps what it found

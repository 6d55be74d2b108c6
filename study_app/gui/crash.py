"""An unexpected error inside the window: said in words, written down, and a clean exit.

PyQt5 ends the whole process with an abort -- no message, a core dump -- when a Python
exception escapes a slot or an event handler. Every submitted answer is already durable
by then, so what the annotator needs is to hear exactly that and how to go on, and what
the researcher needs is the traceback. :func:`crash_handler` gives both: the traceback
goes to ``results/crashes/`` (with the program's version), a message box says that the
answers are safe and how to resume, and the event loop ends with :data:`EXIT_CRASH`, so
that the caller closes the store as on any other exit.

The error may happen in any thread: an image decoder in the loader's thread pool, the
thumbnail prebuild. Python calls the hook in that thread, where no event loop runs (a
timer started there never fires, and the window would wait for its image for ever), so
the hook hands the error to the GUI thread through a queued Qt signal.
"""

from __future__ import annotations

import platform
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import QApplication, QMessageBox

from study_app.io.results_folder import results_root
from study_app.io.store_url import scrub_secrets
from study_app.version import __version__

#: The exit status after such an error (EX_SOFTWARE: an internal software error).
EXIT_CRASH = 70
#: Tracebacks written per run at most (a timer's slot may fail every second until the exit).
MAX_LOGS = 5

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def write_crash_log(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None, folder: Path | None = None
) -> Path | None:
    """The traceback in ``folder/crash-<UTC time>.txt``; None when even that cannot be written.

    ``folder`` defaults to ``results/crashes/`` of this run.
    """
    folder = results_root() / "crashes" if folder is None else folder
    stamp = datetime.now(UTC)
    text = (
        f"study-app {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"at {stamp.isoformat(timespec='seconds')}\n\n" + _traceback(kind, value, tb)
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp.strftime('%Y%m%dT%H%M%S.%fZ')}.txt"
        path.write_text(text, encoding="utf-8")
        return path.resolve()
    except OSError:
        return None


def _traceback(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> str:
    """The traceback, without the secrets of any store URL or ``password=`` in it: a crash log
    is handed to the researcher, and an error's message may quote the store's URL."""
    return scrub_secrets("".join(traceback.format_exception(kind, value, tb)))


def _tell(what: str, log: Path | None) -> None:
    where = f"The details are in {log}; please give that file to the study's researcher." if log else ""
    box = QMessageBox(
        QMessageBox.Critical,
        "The program met an error",
        f"Something went wrong inside the program "
        f"(a fault of the program, not of yours). Every answer you submitted is saved. The program "
        f"closes now; start it again with the same id to go on where you left off.\n\n{where}",
    )
    box.setDetailedText(what)
    box.exec_()


class _Relay(QObject):
    """Carries an error from the thread it happened in to the GUI thread (where it was made)."""

    crashed = pyqtSignal(str, object)


@contextmanager
def crash_handler(folder: Path | None = None, tell: Callable[[str, Path | None], None] = _tell) -> Iterator[None]:
    """While the block runs (the event loop), an exception that escapes Qt's handlers, in the
    GUI thread or any other, is written down, told, and ends the loop with :data:`EXIT_CRASH`.

    Enter it in the GUI thread. The telling (``tell``: the message box) runs from the GUI
    thread's event loop, not from inside the hook: its own event loop may meet the same
    fault again (a timer's slot), and those are only written down, up to :data:`MAX_LOGS`."""
    errors = 0
    counting = threading.Lock()
    relay = _Relay()

    def say_and_end(what: str, log: Path | None) -> None:
        tell(what, log)
        QApplication.instance().exit(EXIT_CRASH)

    relay.crashed.connect(say_and_end, Qt.QueuedConnection)

    def handle(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        nonlocal errors
        with counting:
            errors += 1
            count = errors
        if count > MAX_LOGS:
            return
        log = write_crash_log(kind, value, tb, folder)
        sys.__stderr__.write(_traceback(kind, value, tb))
        if count == 1:
            relay.crashed.emit(scrub_secrets("".join(traceback.format_exception_only(kind, value)).strip()), log)

    def handle_thread(args: threading.ExceptHookArgs) -> None:
        handle(args.exc_type, args.exc_value, args.exc_traceback)

    previous: ExceptHook = sys.excepthook
    previous_thread_hook = threading.excepthook
    sys.excepthook, threading.excepthook = handle, handle_thread
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = previous, previous_thread_hook
        relay.deleteLater()

"""Failures off the GUI thread reach the annotator: none leaves the window waiting for ever (issue #27, case 6)."""

from __future__ import annotations

import shutil
import struct
import sys
import threading
import zlib

import pytest
from PyQt5.QtCore import QRunnable, QSettings, Qt, QThreadPool, QTimer
from PyQt5.QtWidgets import QApplication

from study_app.gui.crash import EXIT_CRASH, crash_handler
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from tests.gui.conftest import show_window
from tests.gui.keys import press


def long_thin_png(path, width: int = 80_000_000) -> None:
    """A real ``width`` x 1 greyscale PNG (77 kB): under the pixel limit, but scaling it to the
    screen made Pillow fail with MemoryError in the window's loader thread."""
    squeeze = zlib.compressobj(1)
    data = squeeze.compress(b"\0")  # the row's filter byte
    for start in range(0, width, 1 << 20):
        data += squeeze.compress(bytes(min(1 << 20, width - start)))
    data += squeeze.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_a_long_thin_image_not_yet_decoded_is_reported_in_the_window_not_loading_for_ever(qtbot, tiny_study, tmp_path):
    """A session start hashes images never decoded before and decodes them while the session
    runs (load_study(for_session=True)): such an image reaches the window's loader thread."""
    images = tiny_study / "images"
    long_thin_png(images / "long.png")
    manifest = (tiny_study / "manifest.csv").read_text(encoding="utf-8").splitlines()
    for row in manifest[1:]:  # every training image is the long one
        if row.endswith(",train"):
            shutil.copyfile(images / "long.png", images / row.split(",")[1].split("/")[-1])
    (images / "long.png").unlink()
    study = load_study(tiny_study, for_session=True)
    store = ResultsStore(tmp_path / "results.sqlite")
    window = show_window(
        qtbot, SessionController(study, store, "LT1"), QSettings(str(tmp_path / "window.ini"), QSettings.IniFormat)
    )
    press(qtbot, Qt.Key_Return)  # instructions
    press(qtbot, Qt.Key_Return)  # training phase start
    qtbot.waitUntil(lambda: "cannot be shown" in window.message.message.text(), timeout=20_000)
    assert "80000000x1" in window.message.message.text() and "at most 20,000 pixels" in window.message.message.text()
    window.close()
    store.close()


class _Failing(QRunnable):
    def run(self) -> None:
        raise MemoryError("decoding needed more memory than there is")


def _fail_in_a_thread() -> None:
    raise MemoryError("decoding needed more memory than there is")


@pytest.mark.parametrize("where", ["thread pool", "python thread"])
def test_an_error_in_a_background_thread_is_told_in_the_gui_thread_and_ends_the_loop(qtbot, tmp_path, where):
    """The hook runs in the failing thread, which has no event loop: the telling must happen
    in the GUI thread (before, its timer never fired and the window waited for ever)."""
    app = QApplication.instance()
    told: list = []
    pool = QThreadPool()
    thread = threading.Thread(target=_fail_in_a_thread, name="failing")

    def tell(what, log) -> None:
        told.append((what, log, threading.current_thread() is threading.main_thread()))

    hooks_before = (sys.excepthook, threading.excepthook)
    safety = QTimer()  # never hang the suite if the handler is not reached
    safety.setSingleShot(True)
    safety.timeout.connect(lambda: app.exit(1))
    safety.start(20_000)
    with crash_handler(tmp_path / "crashes", tell=tell):
        if where == "thread pool":
            QTimer.singleShot(0, lambda: pool.start(_Failing()))
        else:
            QTimer.singleShot(0, thread.start)
        status = app.exec_()
    safety.stop()
    pool.waitForDone(5000)
    if thread.ident is not None:  # started
        thread.join(5)
    assert status == EXIT_CRASH and (sys.excepthook, threading.excepthook) == hooks_before
    assert told == [("MemoryError: decoding needed more memory than there is", told[0][1], True)]
    logs = sorted((tmp_path / "crashes").iterdir())
    assert told[0][1] == logs[0] and "MemoryError" in logs[0].read_text(encoding="utf-8")

"""A small status line for desktops that annotate into a results server (store/journal.py).

It shows whether the server has every answer, or that answers are being kept on this
computer while the server is unreachable: the annotator learns it at a glance and goes on
working, instead of meeting an error dialog at every trial. It only reads the journal's
last known state (no network traffic on the GUI thread); the store reconnects by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QLabel, QWidget

from study_app.store.answer_store import SyncStatus

REFRESH_MS = 1000
_COLOURS = {"ok": "#2e7d32", "sending": "#555555", "offline": "#b26a00"}


class SyncIndicator(QLabel):
    """Refreshes itself every second from ``status()`` (a :class:`~study_app.store.answer_store.SyncStatus`)."""

    def __init__(self, status: Callable[[], SyncStatus], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sync")
        self._status = status
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        self.refresh()

    def refresh(self) -> None:
        status = self._status()
        state = "offline" if not status.online else ("sending" if status.waiting else "ok")
        self.setText(status.text())
        self.setToolTip(status.problem)  # the server's own words, for whoever comes to help
        self.setStyleSheet(f"color: {_COLOURS[state]};")
        self.setProperty("state", state)

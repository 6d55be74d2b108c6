"""A plain-text progress bar with rate and ETA on stderr (no extra dependency).

On a terminal the bar redraws in place a few times a second; in a log file (not a
terminal) it writes a full line every ``log_every_s`` seconds instead, so CI logs and
``nohup`` files stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30


class Progress:
    """Counts finished images out of ``total`` and shows how fast and how long to go."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True, log_every_s: float = 10.0
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else log_every_s
        self.done = 0
        self.start = time.monotonic()
        self.last_shown = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self.last_shown >= self.interval or self.done >= self.total):
            self.last_shown = now
            self._show(now)

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        filled = BAR_WIDTH * self.done // self.total
        return (
            f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} "
            f"{100 * self.done / self.total:5.1f}%  {rate:.1f} img/s  ETA {_clock(eta)}"
        )

    def _show(self, now: float) -> None:
        end = "" if self.tty and self.done < self.total else "\n"
        self.stream.write(("\r" if self.tty else "") + self.line(now) + end)
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line (e.g. after Ctrl-C) so the next message starts clean."""
        if self.enabled and self.tty and 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"

"""Background work that must never slow the annotator down."""

from __future__ import annotations

import os
import threading


def lowest_thread_priority() -> None:
    """Make the calling thread yield the CPU to every other (Linux: per-thread nice 19)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass

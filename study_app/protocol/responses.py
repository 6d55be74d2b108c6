"""What an annotator gave for one trial, as the GUI hands it to the results store.

Kept apart from both the GUI and the store so that either can be used (and tested)
without the other: scripted sessions build the same records the window does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: An answer with labels, and the explicit non-answers (never stored as empty guesses).
OUTCOMES = ("answer", "not_sure", "none_of_these", "timeout", "skip")
#: Outcomes that may carry labels: an answer, and a timeout with the guesses chosen before
#: the deadline (kept, and scored only where the phase says so: protocol/correctness.py).
LABELLED_OUTCOMES = ("answer", "timeout")
FLAG_REASONS = ("broken", "offensive", "ambiguous")


def utc_now() -> str:
    """Wall-clock time in UTC, ISO-8601 with milliseconds (for provenance, not for RTs)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Response:
    """One submitted trial: ordered guesses (rank 1 first) or an explicit non-answer.

    ``rt_ms`` comes from a monotonic clock started when the image was painted;
    ``shown_at``/``answered_at`` are wall-clock UTC times for the record.
    ``presented_ms`` is the measured on-screen time in psychophysics mode.
    """

    labels: tuple[str, ...]
    rt_ms: float
    shown_at: str
    answered_at: str
    outcome: str = "answer"
    flag: str | None = None
    flag_note: str = ""
    presented_ms: float | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.outcome == "answer" and not self.labels:
            raise ValueError("an answer needs at least one label")
        if self.outcome not in LABELLED_OUTCOMES and self.labels:
            raise ValueError(f"a {self.outcome!r} response carries no labels")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("the same label twice in one answer")
        if self.flag is not None and self.flag not in FLAG_REASONS:
            raise ValueError(f"flag must be one of {FLAG_REASONS}, not {self.flag!r}")
        if self.rt_ms < 0:
            raise ValueError("rt_ms cannot be negative")


@dataclass(frozen=True)
class Event:
    """Something the annotator did or that happened to the window during a session.

    ``kind`` is e.g. ``search`` (detail: the query), ``view_class`` (the class looked at),
    ``browse``, ``focus_lost``/``focus_gained``, ``pause``/``resume``; ``t_ms`` is the
    monotonic time since the trial's image was painted (or since session start).
    """

    kind: str
    t_ms: float
    detail: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=utc_now)

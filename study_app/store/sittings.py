"""How long an annotator spent in a session's earlier sittings, read back from what they stored.

A sitting is one opening of the annotation window on a session: a long study is done in
several, each resuming where the last stopped, and the break and end screens show the
whole session's time beside the sitting's. No sitting row is stored; the events say
enough. Two of them are stamped with the milliseconds since the window opened
(:data:`SITTING_CLOCK_EVENTS`): their wall time less those milliseconds is when that
sitting began. A sitting ends at the last thing stored before the next one began: its
quit, or, after a crash or kill -9, its last answer or event, so a sitting cut short
counts up to what it saved and never the hours until the next start.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from study_app.store.db import Connection

#: Events whose ``t_ms`` counts from the opening of the window (the sitting's start):
#: written once per sitting when the instructions are read, and when the window quits.
SITTING_CLOCK_EVENTS = ("instructions_read", "quit")
#: Sitting starts closer than this are one sitting's (its instructions and its quit): the
#: wall clock and the monotonic clock drift apart by a few seconds over a long sitting.
SAME_SITTING = timedelta(seconds=60)


def sitting_durations(starts: Iterable[datetime], stored: Iterable[datetime]) -> tuple[float, ...]:
    """Each sitting's milliseconds, oldest first: from each start (``starts``, as derived from the
    clocked events) to the last of ``stored`` (every event's and answer's time) before the next.

    Times before the first known start (an imported session without events) belong to no
    sitting: no start, no duration to claim.
    """
    begun: list[datetime] = []
    for start in sorted(starts):
        if not begun or start - begun[-1] > SAME_SITTING:
            begun.append(start)
    times = sorted(stored)
    durations = []
    for index, start in enumerate(begun):
        # the last time stored before the next sitting began (a session's times are sorted once)
        end = bisect_left(times, begun[index + 1]) if index + 1 < len(begun) else len(times)
        last = times[end - 1] if end and times[end - 1] >= start else None
        durations.append((last - start).total_seconds() * 1000.0 if last is not None else 0.0)
    return tuple(durations)


def session_sittings(conn: Connection, session_uuid: str) -> tuple[float, ...]:
    """The milliseconds of each sitting of ``session_uuid`` stored so far (see the module docstring)."""
    events = conn.execute("SELECT kind, t_ms, at FROM events WHERE session_uuid = ?", (session_uuid,)).fetchall()
    answered = conn.execute(
        "SELECT shown_at, answered_at FROM trials WHERE session_uuid = ?", (session_uuid,)
    ).fetchall()
    starts = [
        when - timedelta(milliseconds=float(t_ms))
        for kind, t_ms, at in events
        if kind in SITTING_CLOCK_EVENTS and (when := _time(at)) is not None
    ]
    stored = [when for _, _, at in events if (when := _time(at)) is not None]
    stored += [when for row in answered for at in row if (when := _time(at)) is not None]
    return sitting_durations(starts, stored)


def _time(text: object) -> datetime | None:
    """A stored UTC time; None for an empty or unreadable one (imports check times; a time shown
    on a break screen is no reason to refuse resuming a session whose answers are all there)."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)

"""The store's own metadata, read strictly: trial orders, assignments, protocol snapshots and
the numbers in ``meta``.

This program writes them itself (JSON in ``sessions.trial_order``, ``sessions.assignment``
and ``studies.snapshot``; whole numbers in ``meta``), so SQLite's checks cannot tell a
damaged one from a sound one: a store edited by hand, or a value mangled on its way
through another tool, holds text that merely fits the column. Every reader goes through
this module, so such a value is a :class:`~study_app.errors.StoreCorruptError` that names
the table, the row and the column -- never a traceback deep inside export, progress or the
statistics -- and ``check-store`` lists each damaged column (:func:`damaged_metadata`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..counterbalance import Assignment
from ..errors import StoreCorruptError
from ..schedule import Trial

T = TypeVar("T")
#: What a decoder raises for a value that is not what this program writes.
_DAMAGE = (ValueError, TypeError, KeyError, AttributeError)


def _trials(text: Any) -> tuple[Trial, ...]:
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError(f"a list of [phase, index, image] entries was expected, not {_shown(entries)}")
    for entry in entries:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and type(entry[1]) is int
            and entry[1] >= 0
            and isinstance(entry[2], str)
        ):
            raise ValueError(f"entry {_shown(entry)} is not [phase, index, image]")
    return tuple(Trial(phase, index, image_id) for phase, index, image_id in entries)


def _assignment(text: Any) -> Assignment:
    if not isinstance(json.loads(text), dict):
        raise ValueError(f"an object with group, arrival, phase_order and blocks was expected, not {_shown(text)}")
    return Assignment.from_json(text)


def _snapshot(text: Any) -> dict:
    snapshot = json.loads(text)
    phases = snapshot["phases"] if isinstance(snapshot, dict) else None
    if not isinstance(phases, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("image_ids"), list) for p in phases
    ):
        raise ValueError("not a protocol snapshot (its phases, each with a name and image ids, are missing)")
    return snapshot


def _whole_number(text: Any) -> int:
    if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and text.strip().isdigit())):
        raise ValueError(f"{_shown(text)} is not a whole number")
    return int(text)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read(decode: Callable[[Any], T], text: Any, table: str, row: str, column: str, where: str | Path) -> T:
    try:
        return decode(text)
    except _DAMAGE as exc:
        place = f"{where}: " if where else ""
        raise StoreCorruptError(
            f"{place}damaged results store: {table} row {row}, column {column}: {_reason(exc)}. The store was changed "
            "outside this program or damaged; restore it from a backup copy "
            f"(python main.py check-store {where or 'FILE'} lists every damaged value)"
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at character {exc.pos})"
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    return str(exc) or type(exc).__name__


def trial_order(text: Any, session: str, where: str | Path = "") -> tuple[Trial, ...]:
    """A session's stored trial order (``where``: the store, for the message)."""
    return _read(_trials, text, "sessions", session, "trial_order", where)


def assignment(text: Any, session: str, where: str | Path = "") -> Assignment | None:
    """A session's counterbalancing assignment (None when the study has no design)."""
    return None if text is None else _read(_assignment, text, "sessions", session, "assignment", where)


def snapshot(text: Any, study: str, where: str | Path = "") -> dict:
    """A study's protocol snapshot (what the store keeps of its protocol)."""
    return _read(_snapshot, text, "studies", study, "snapshot", where)


def meta_number(text: Any, key: str, where: str | Path = "") -> int:
    """A whole number kept in ``meta`` (the schema version, a journal's marks)."""
    return _read(_whole_number, text, "meta", repr(key), "value", where)


#: The columns check-store reads as their readers do: (table, column, query of (row id, value), decoder).
_CHECKED = (
    ("sessions", "trial_order", "SELECT uuid, trial_order FROM sessions", _trials),
    ("sessions", "assignment", "SELECT uuid, assignment FROM sessions WHERE assignment IS NOT NULL", _assignment),
    ("studies", "snapshot", "SELECT uuid, snapshot FROM studies", _snapshot),
)


def damaged_metadata(conn) -> list[str]:
    """One problem per column holding damaged values: how many rows, and the first row and why."""
    problems = []
    for table, column, query, decode in _CHECKED:
        damaged = []
        for row, text in conn.execute(query):
            try:
                decode(text)
            except _DAMAGE as exc:
                damaged.append((row, exc))
        if damaged:
            row, exc = damaged[0]
            problems.append(
                f"{len(damaged)} {table} row(s) with a damaged {column} (e.g. row {row}: {_reason(exc)}); "
                "restore the store from a backup copy"
            )
    return problems

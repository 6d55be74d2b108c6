"""The store's own metadata, read strictly: trial orders, assignments, protocol snapshots and
the numbers in ``meta``.

This program writes them itself (JSON in ``sessions.trial_order``, ``sessions.assignment``
and ``studies.snapshot``; whole numbers in ``meta``), so SQLite's checks cannot tell a
damaged one from a sound one: a store edited by hand, or a value mangled on its way
through another tool, holds text that merely fits the column. Every reader goes through
this module, so such a value is a :class:`~study_app.errors.StoreCorruptError` that names
the table, the row and the column -- never a traceback deep inside export, progress or the
statistics -- and ``check-store`` lists each damaged column (:func:`damaged_metadata`).

An answers export carries the same values in its run manifest; the import checks them with
the same functions (:func:`decode_json`, :func:`order_of`, :func:`assignment_of`,
:func:`snapshot_of`), so "a valid trial order" means one thing wherever it is read.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from study_app.errors import StoreCorruptError
from study_app.io.program import program
from study_app.protocol.counterbalance import Assignment
from study_app.protocol.schedule import Trial

T = TypeVar("T")

#: How deeply each value nests, at most: a trial order is a list of [phase, index, image]
#: lists, an assignment an object of numbers, lists and one object. A protocol snapshot is 4
#: levels deep today (its images' label lists); it is allowed 16, so that a later protocol may
#: keep more without an older reader calling it damaged. A run manifest holds snapshots 2
#: levels down. Refusing deeper text before decoding keeps Python's decoder, and everything
#: that walks the value afterwards, far from its recursion limit.
ORDER_DEPTH = 2
ASSIGNMENT_DEPTH = 2
SNAPSHOT_DEPTH = 16
MANIFEST_DEPTH = SNAPSHOT_DEPTH + 2

#: Above any trial number, arrival or group a study has, and inside every integer column
#: (SQLite's, pandas' Int64) the numbers go through.
_MOST = 2**31 - 1


class DamagedValue(ValueError):
    """Metadata that is not what this program writes; the message says why (the caller says where)."""


#: What reading a damaged value may raise: the checks below raise DamagedValue, the rest is a
#: safety net for anything they did not foresee (a decoder's limits: OverflowError, RecursionError).
_DAMAGE = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError)

#: Every byte but brackets and quotes, which are all that nesting depends on.
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def _nesting(text: str) -> int:
    """How deeply ``text`` nests its lists and objects, found without decoding (or recursing).

    Escaped backslashes and then escaped quotes are dropped, so every quote left opens or
    closes a string; brackets between an odd and an even quote are text, not nesting.
    """
    raw = text.encode("utf-8", "surrogatepass").replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(raw.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    quote = codes == ord('"')
    outside = (np.cumsum(quote) % 2 == 0) & ~quote
    steps = np.where(
        (codes == ord("[")) | (codes == ord("{")), 1, np.where((codes == ord("]")) | (codes == ord("}")), -1, 0)
    )
    return int(np.cumsum(steps * outside).max(initial=0))


def _refuse_constant(name: str) -> Any:
    raise DamagedValue(f"{name} is not a number this program writes (only finite numbers are)")


def _finite(literal: str) -> float:
    number = float(literal)
    if not np.isfinite(number):  # 1e999 reads as infinity
        raise DamagedValue(f"{literal} is out of range (only finite numbers are allowed)")
    return number


def decode_json(text: Any, depth: int) -> Any:
    """JSON as this program writes it: text, nested at most ``depth`` levels, only finite numbers.

    Python's decoder accepts ``NaN``, ``Infinity`` and ``1e999`` (as infinity), which later
    fail far away (``int(inf)``), and recurses once per level; both are refused here.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # a BLOB put where text belongs; UnicodeDecodeError is a ValueError
    if not isinstance(text, str):
        raise DamagedValue(f"{_shown(text)} is not JSON text")
    if _nesting(text) > depth:
        raise DamagedValue(f"lists and objects nested more than {depth} level(s) deep, deeper than this program writes")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except DamagedValue:
        raise
    except json.JSONDecodeError as exc:
        raise DamagedValue(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, RecursionError) as exc:  # e.g. a whole number of more than 4,300 digits
        raise DamagedValue(f"not JSON as this program writes it ({exc})") from None


def _count(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= _MOST:
        raise DamagedValue(f"{what} {_shown(value)} is not a whole number from 0 to {_MOST}")
    return value


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def order_of(entries: Any) -> tuple[Trial, ...]:
    """A decoded trial order checked: a list of [phase, trial index, image id]."""
    if not isinstance(entries, list):
        raise DamagedValue(f"a list of [phase, index, image] entries was expected, not {_shown(entries)}")
    trials = []
    for entry in entries:  # written out, not with helpers: a full-size session has 50,500 entries
        if type(entry) is list and len(entry) == 3:
            phase, index, image_id = entry
            if (
                type(phase) is str
                and phase
                and type(index) is int
                and 0 <= index <= _MOST
                and type(image_id) is str
                and image_id
            ):
                trials.append(Trial(phase, index, image_id))
                continue
        raise DamagedValue(f"entry {_shown(entry)} is not [phase, index from 0 to {_MOST}, image]")
    return tuple(trials)


def assignment_of(data: Any) -> Assignment:
    """A decoded counterbalancing assignment checked: group, arrival, phase_order and blocks."""
    if not isinstance(data, dict):
        raise DamagedValue(f"an object with group, arrival, phase_order and blocks was expected, not {_shown(data)}")
    missing = [key for key in ("group", "arrival", "phase_order", "blocks") if key not in data]
    if missing:
        raise DamagedValue(f"{', '.join(missing)} missing")
    for key in ("group", "arrival"):
        _count(data[key], key)
    order, blocks = data["phase_order"], data["blocks"]
    if not (isinstance(order, list) and all(_is_name(phase) for phase in order)):
        raise DamagedValue(f"phase_order {_shown(order)} is not a list of phase names")
    if not (isinstance(blocks, dict) and all(isinstance(block, str) for block in blocks.values())):
        raise DamagedValue(f"blocks {_shown(blocks)} is not an object of phase: block")
    return Assignment.from_json(json.dumps(data))  # the format's own reader, on a value now known sound


def snapshot_of(data: Any) -> dict:
    """A decoded protocol snapshot checked: its phases, each with a name and image ids."""
    phases = data.get("phases") if isinstance(data, dict) else None
    if not isinstance(phases, list) or not all(
        isinstance(p, dict) and _is_name(p.get("name")) and isinstance(p.get("image_ids"), list) for p in phases
    ):
        raise DamagedValue("not a protocol snapshot (its phases, each with a name and image ids, are missing)")
    return data


def _trials(text: Any) -> tuple[Trial, ...]:
    return order_of(decode_json(text, ORDER_DEPTH))


def _assignment(text: Any) -> Assignment:
    return assignment_of(decode_json(text, ASSIGNMENT_DEPTH))


def _snapshot(text: Any) -> dict:
    return snapshot_of(decode_json(text, SNAPSHOT_DEPTH))


def _whole_number(text: Any) -> int:
    if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and text.strip().isdigit())):
        raise DamagedValue(f"{_shown(text)} is not a whole number")
    return int(text)


def _shown(value: Any) -> str:
    """A value for a message: short, and without walking all of a long or deep one."""
    text = reprlib.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read(decode: Callable[[Any], T], text: Any, table: str, row: str, column: str, where: str | Path) -> T:
    try:
        return decode(text)
    except _DAMAGE as exc:
        place = f"{where}: " if where else ""
        raise StoreCorruptError(
            f"{place}damaged results store: {table} row {row}, column {column}: {_reason(exc)}. The store was changed "
            "outside this program or damaged; restore it from a backup copy "
            f"({program()} check-store {where or 'FILE'} lists every damaged value)"
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    return str(exc) or type(exc).__name__


def trial_order(text: Any, session: str, where: str | Path = "") -> tuple[Trial, ...]:
    """A session's stored trial order (``where``: the store, for the message)."""
    return _read(_trials, text, "sessions", session, "trial_order", where)


@overload
def assignment(text: None, session: str, where: str | Path = "") -> None: ...
@overload
def assignment(text: str, session: str, where: str | Path = "") -> Assignment: ...
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
            row, why = damaged[0]
            problems.append(
                f"{len(damaged)} {table} row(s) with a damaged {column} (e.g. row {row}: {_reason(why)}); "
                "restore the store from a backup copy"
            )
    return problems

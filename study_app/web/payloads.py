"""What a browser page may send, checked whole before anything is done with it.

Every request body is JSON of a bounded size; each field is checked for its type and
range, and a bad one is refused with a message that names it (``labels[2]``, ``rt_ms``), so
that a page's bug or a forged request never reaches the session core half-understood.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from study_app.protocol.responses import FLAG_REASONS, OUTCOMES, Event, Response

#: Largest request body (bytes): an answer with its events is a few KiB.
MAX_BODY = 64 * 1024
#: Events one request may carry, and the longest text field (a flag note, a query).
MAX_EVENTS = 200
MAX_TEXT = 2000
#: An event kind: a short snake_case word (the page's, e.g. ``visibility_hidden``).
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Longest response time accepted (a day, in ms): anything longer is a broken clock.
MAX_MS = 86_400_000.0
#: The values an event's detail (or the client's description) may hold: no nesting.
_PLAIN = (str, int, float, bool, type(None))


class BadRequest(ValueError):
    """A request the server refuses (HTTP 400), saying which field is wrong and why."""


def _field(body: dict[str, Any], name: str, kinds: type | tuple[type, ...], required: bool = True) -> Any:
    if name not in body:
        if required:
            raise BadRequest(f"{name}: missing")
        return None
    value = body[name]
    if value is None and not required:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise BadRequest(f"{name}: {value!r} is not {_kind_name(kinds)}")
    if not isinstance(value, kinds):
        raise BadRequest(f"{name}: {value!r} is not {_kind_name(kinds)}"[:300])
    return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list"}
    names[dict] = "an object"
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def number(body: dict[str, Any], name: str, required: bool = True, upper: float = MAX_MS) -> float | None:
    """A finite number in [0, ``upper``]."""
    value = _field(body, name, (int, float), required)
    if value is None:
        return None
    try:
        value = float(value)
    except OverflowError:  # a whole number of hundreds of digits
        raise BadRequest(f"{name}: not between 0 and {upper:g}") from None
    if not math.isfinite(value) or not 0.0 <= value <= upper:
        raise BadRequest(f"{name}: {value!r} is not between 0 and {upper:g}")
    return value


def text(body: dict[str, Any], name: str, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    value = _field(body, name, str, required)
    if value is not None and len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters")
    if value is not None:
        _storable(value, name)
    return value


def _storable(value: Any, name: str) -> None:
    """Refuse what cannot be stored as UTF-8 text or standard JSON: half of a UTF-16 pair (a
    page's string cut through an emoji) and NaN or infinite numbers."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"{name}: not valid Unicode text (half of a character pair)") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{name}: {value!r} is not a finite number")


def _timestamp(body: dict[str, Any], name: str) -> str:
    value = text(body, name, limit=40)
    assert value is not None  # required
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not an ISO-8601 time") from None
    if stamp.tzinfo is None:
        raise BadRequest(f"{name}: {value!r} has no time zone (send UTC, e.g. 2026-12-07T10:00:00.000Z)")
    if not 2000 <= stamp.year <= 2200:
        raise BadRequest(f"{name}: {value!r} is not a time of this century (a broken clock?)")
    return stamp.astimezone(UTC).isoformat(timespec="milliseconds")  # stored in UTC, as the desktop's


def events(items: Any, where: str = "events") -> list[Event]:
    """A list of ``{"kind", "t_ms", "detail"}`` objects as events (detail: a flat JSON object)."""
    if not isinstance(items, list):
        raise BadRequest(f"{where}: not a list")
    if len(items) > MAX_EVENTS:
        raise BadRequest(f"{where}: more than {MAX_EVENTS} events in one request")
    parsed = []
    for number_, item in enumerate(items):
        name = f"{where}[{number_}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{name}: not an object")
        kind = text(item, "kind", limit=40)
        if not _KIND.match(kind or ""):
            raise BadRequest(f"{name}.kind: {kind!r} is not a lower-case word (letters, digits, '_')")
        t_ms = number(item, "t_ms", upper=MAX_MS * 30)
        detail = item.get("detail", {})
        if not isinstance(detail, dict) or not all(isinstance(v, _PLAIN) for v in detail.values()):
            raise BadRequest(f"{name}.detail: not an object of plain values (text, numbers, true/false, null)")
        for key, value in detail.items():
            _storable(key, f"{name}.detail")
            _storable(value, f"{name}.detail.{key[:40]}")
        parsed.append(Event(kind or "", t_ms or 0.0, dict(detail)))
    return parsed


@dataclass(frozen=True)
class Answer:
    """One answer as a page sends it, checked: its response, events and the page's UUID for it."""

    client_uuid: str
    position: int
    response: Response
    events: tuple[Event, ...]


def answer(body: Any, class_ids: frozenset[str], most_labels: int) -> Answer:
    """The answer in ``body`` (``POST /api/answer``), or :class:`BadRequest`.

    ``class_ids``: the study's answerable classes; ``most_labels``: the current phase's number
    of answers (the page may send fewer, never more)."""
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    client = text(body, "uuid", limit=36) or ""
    try:
        client_uuid = str(uuid.UUID(client))
    except ValueError:
        raise BadRequest(f"uuid: {client!r} is not a UUID") from None
    position = _field(body, "position", int)
    if position < 0:
        raise BadRequest(f"position: {position} is negative")
    outcome = text(body, "outcome", limit=20)
    if outcome not in OUTCOMES:
        raise BadRequest(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    labels = _field(body, "labels", list)
    if len(labels) > most_labels:
        raise BadRequest(f"labels: {len(labels)} given, this phase takes at most {most_labels}")
    for rank, label in enumerate(labels):
        if not isinstance(label, str) or label not in class_ids:
            raise BadRequest(f"labels[{rank}]: {str(label)[:80]!r} is not a class of this study")
    flag = text(body, "flag", required=False, limit=20)
    if flag is not None and flag not in FLAG_REASONS:
        raise BadRequest(f"flag: {flag!r} is not one of {', '.join(FLAG_REASONS)}")
    presented = number(body, "presented_ms", required=False)
    try:
        response = Response(
            tuple(labels),
            number(body, "rt_ms") or 0.0,
            _timestamp(body, "shown_at"),
            _timestamp(body, "answered_at"),
            outcome=outcome,
            flag=flag,
            flag_note=text(body, "flag_note", required=False) or "",
            presented_ms=presented,
        )
    except ValueError as exc:  # the response's own rules (an answer needs a label, no label twice, ...)
        raise BadRequest(str(exc)) from None
    answer_events = events(body.get("events", []))
    timing = body.get("timing")
    if timing is not None:
        answer_events += _timing_events(timing)
    return Answer(client_uuid, position, response, tuple(answer_events))


def _timing_events(timing: Any) -> list[Event]:
    """A timed trial's measured presentation as a ``presentation`` event, plus a ``frame_dropped``
    event when a frame was dropped (the trial is marked: its on-screen times are not the planned ones)."""
    if not isinstance(timing, dict):
        raise BadRequest("timing: not an object")
    refresh = number(timing, "refresh_hz", upper=1000.0)
    dropped = _field(timing, "dropped_frames", int)
    if dropped < 0:
        raise BadRequest("timing.dropped_frames: negative")
    detail: dict[str, Any] = {"refresh_hz": refresh, "dropped_frames": dropped}
    for part in ("frames", "measured_ms"):
        values = _field(timing, part, dict)
        for stage in ("fixation", "image", "mask"):
            value = values.get(stage)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_MS
            ):
                raise BadRequest(f"timing.{part}.{stage}: {value!r} is not a number of {part.split('_')[0]}")
            detail[f"{part}_{stage}"] = value
    found = [Event("presentation", 0.0, detail)]
    if dropped:
        found.append(Event("frame_dropped", 0.0, {"dropped_frames": dropped}))
    return found


def start(body: Any) -> tuple[dict[str, str], str, dict[str, Any]]:
    """``POST /api/start``: (the URL's parameters, the typed pseudonym, the client's screen and browser)."""
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    if body.get("consent") is not True:
        raise BadRequest("consent: the participant has not consented (tick the box on the start page)")
    params = _field(body, "params", dict, required=False) or {}
    plain = all(isinstance(k, str) and isinstance(v, str) and len(k) <= 40 and len(v) <= 200 for k, v in params.items())
    if len(params) > 30 or not plain:
        raise BadRequest("params: not the page's URL parameters (at most 30 short text values)")
    for key, value in params.items():
        _storable(key, "params")
        _storable(value, f"params.{key}")
    client = _field(body, "client", dict, required=False) or {}
    kept: dict[str, Any] = {}
    for key, value in list(client.items())[:20]:
        if isinstance(key, str) and len(key) <= 40 and isinstance(value, _PLAIN):
            _storable(key, "client")
            _storable(value, f"client.{key}")
            kept[key] = value[:400] if isinstance(value, str) else value
    return params, text(body, "annotator", required=False, limit=64) or "", kept

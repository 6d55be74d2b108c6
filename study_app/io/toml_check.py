"""Checking the tables of a TOML file against a schema, every problem with its line.

Study protocols and model specs are both TOML files that travel between labs; both
are checked the same way: unknown keys (with the key probably meant), wrong types,
numbers outside their documented range (``nan``, ``inf`` and huge values included) and
missing required keys are reported together, located by file, line and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from study_app.errors import Problem
from study_app.io.ranges import Range
from study_app.io.toml_lines import line_of

_TYPE_NAMES = {
    bool: "true/false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


@dataclass(frozen=True)
class Field:
    """Expected type(s) of one key, whether it must be there, and the range of a number."""

    kind: type | tuple[type, ...]
    required: bool = False
    range: Range | None = None

    @property
    def kinds(self) -> tuple[type, ...]:
        return self.kind if isinstance(self.kind, tuple) else (self.kind,)


def _type_name(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def _suggestion(key: str, known: list[str]) -> str:
    """The key probably meant: a prefix match first (``crop_size`` -> ``crop``), else a close spelling."""
    close = [k for k in known if key.startswith(k) or k.startswith(key)] or difflib.get_close_matches(
        key, known, n=1, cutoff=0.6
    )
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"


class TomlChecker:
    """Appends the problems of one TOML file, located through its key lines."""

    def __init__(self, file: str, lines: dict, problems: list[Problem]) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems

    def add(self, message: str, *where: str | int) -> None:
        field_name = ".".join(str(w) for w in where) or None
        self.problems.append(Problem(self.file, message, line=line_of(self.lines, *where), field=field_name))

    def table(self, data: Mapping[str, Any], schema: Mapping[str, Field], where: tuple = ()) -> dict[str, Any]:
        """The known, well-typed keys of ``data``; unknown, mistyped and missing keys are problems."""
        good: dict[str, Any] = {}
        for key, value in data.items():
            if key not in schema:
                self.add(f"unknown key {key!r}; {_suggestion(key, list(schema))}", *where, key)
                continue
            kinds, allowed = schema[key].kinds, schema[key].range
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                expected = " or ".join(_type_name(k) for k in kinds)
                self.add(f"{key} must be {expected}, not {_type_name(type(value))} {value!r}", *where, key)
            elif allowed is not None and value not in allowed:
                self.add(f"{key} must be {allowed.describe()}, not {value!r}", *where, key)
            else:
                good[key] = value
        for key, rule in schema.items():
            if rule.required and key not in data:
                self.add(f"missing required key {key!r}", *where)
        return good

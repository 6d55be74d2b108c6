"""Line numbers of keys in a TOML file, so protocol problems can say where they are.

``tomllib`` returns plain dictionaries without positions. This scanner recovers the line
of each ``key = value`` and each table header, which is all an error message needs.
It understands ``[table]``, ``[[array.of.tables]]``, dotted headers and multi-line
strings; it does not need to understand values.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")

Where = tuple[str | int, ...]


def key_lines(text: str) -> dict[Where, int]:
    """Map table paths and key paths to 1-based lines.

    ``[[phases]]`` tables are numbered from 0, so the key ``n`` of the second phase is
    ``("phases", 1, "n")`` and the header of its ``presentation`` table is
    ``("phases", 1, "presentation")``.
    """
    lines: dict[Where, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    current: Where = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            parts = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
            if header.group(1) == "[[":
                index = counts.get(parts, -1) + 1
                counts[parts] = index
                current = (*_with_indices(parts[:-1], counts), parts[-1], index)
            else:
                current = (*_with_indices(parts, counts),)
            lines.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            name = key.group(1).strip("\"'")
            lines.setdefault((*current, *name.split(".")), number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return lines


def _with_indices(parts: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> list[str | int]:
    """Insert the current index after every prefix that names an array of tables."""
    out: list[str | int] = []
    for i, part in enumerate(parts):
        out.append(part)
        prefix = parts[: i + 1]
        if prefix in counts:
            out.append(counts[prefix])
    return out


def line_of(lines: dict[Where, int], *where: str | int) -> int | None:
    """Line of ``where`` or of the nearest enclosing table that has one."""
    path = tuple(where)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None

"""Spreadsheet-safe text cells: no formula injection, and a lossless way back.

A label or note starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would
be run as a formula when a CSV export is opened in a spreadsheet. Such cells get a
leading apostrophe (which spreadsheets hide); a cell already starting with an apostrophe
gets one more, so :func:`unescape_cell` restores every original exactly.
"""

from __future__ import annotations

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value: str) -> str:
    return "'" + value if value.startswith(_TRIGGERS) else value


def unescape_cell(value: str) -> str:
    return value[1:] if value.startswith("'") else value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text column escaped (numbers are left as numbers); vectorised."""
    out = frame.copy()
    for column in _text_columns(out):
        values = out[column]
        risky = values.str.startswith(_TRIGGERS, na=False)
        if risky.any():
            out.loc[risky, column] = "'" + values[risky]
    return out


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in _text_columns(out):
        values = out[column]
        quoted = values.str.startswith("'", na=False)
        if quoted.any():
            out.loc[quoted, column] = values[quoted].str.slice(1)
    return out

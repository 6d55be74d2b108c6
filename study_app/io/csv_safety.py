"""Spreadsheet-safe text cells: no formula injection, and a lossless way back.

A label or note starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would
be run as a formula when a CSV export is opened in a spreadsheet. Such cells get a
leading apostrophe (which spreadsheets hide); a cell already starting with an apostrophe
gets one more, so :func:`unescape_frame` restores every original exactly.
"""

from __future__ import annotations

import csv

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


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


def safe_csv_text(frame: pd.DataFrame) -> str:
    """The frame as spreadsheet-safe CSV text (``\n`` line ends).

    Python's CSV writer quotes a cell holding the line terminator but not a lone carriage
    return, which a reader takes as a line break: the row splits and the rest of the cell
    starts a new line (``\r=1`` would become a formula). A file with such a cell has every
    cell quoted; every other file keeps minimal quoting.
    """
    escaped = escape_frame(frame)
    text_columns = _text_columns(escaped)
    has_cr = any(escaped[c].str.contains("\r", regex=False, na=False).any() for c in text_columns)
    return escaped.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_ALL if has_cr else csv.QUOTE_MINIMAL)


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in _text_columns(out):
        values = out[column]
        quoted = values.str.startswith("'", na=False)
        if quoted.any():
            out.loc[quoted, column] = values[quoted].str.slice(1)
    return out

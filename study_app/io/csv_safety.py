"""Spreadsheet-safe text cells: no formula injection, and a lossless way back.

A label or note starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would
be run as a formula when a CSV export is opened in a spreadsheet. Such cells get a
leading apostrophe (which spreadsheets hide); a cell already starting with an apostrophe
gets one more, so :func:`unescape_frame` restores every original exactly.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")
#: A cell that starts with one of :data:`_TRIGGERS` (for Arrow's vectorised match).
_TRIGGER_PATTERN = "^[" + re.escape("".join(_TRIGGERS)) + "]"


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


def write_safe_csv(table: pa.Table, path: Path) -> None:
    """Write an Arrow table as spreadsheet-safe CSV (``\n`` line ends), read back by
    :func:`unescape_frame` exactly as :func:`safe_csv_text` of the same rows.

    Text cells are escaped as :func:`escape_frame` does, and Arrow's writer quotes every text
    cell, so a lone carriage return is always inside quotes; the header is quoted only where
    needed, as the csv module writes it. True/False are written as pandas
    writes them (Arrow would write true/false); numbers as Arrow writes them (a float without a
    fraction without ``.0``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, _TRIGGER_PATTERN)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        elif pa.types.is_boolean(column.type):
            column = pa.array(["False", "True"]).take(column.cast(pa.int8()))
        columns.append(column)
    with open(path, "w", encoding="utf-8", newline="") as handle:  # the header as the csv module writes it
        csv.writer(handle, lineterminator="\n").writerow(table.column_names)
    with open(path, "ab") as handle:
        pa_csv.write_csv(
            pa.table(columns, names=table.column_names),
            handle,
            pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
        )

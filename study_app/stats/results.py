"""Result objects in the statsmodels manner: frozen dataclasses with a ``summary()``.

Every test result unpacks as ``statistic, pvalue = result`` (like statsmodels' newer
results) and prints its fields in one aligned block, so a researcher in a notebook sees
what was computed, on how many images, and with which method, without reading code.
A result's repr is a few lines naming what it holds (tables by their size, never their
rows: a console that echoes a result must not scroll through a thousand lines), and a
notebook shows it as HTML tables (``_repr_html_``).
"""

from __future__ import annotations

import json
import math
import reprlib
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import fields
from html import escape
from typing import Any, Self

import numpy as np
import pandas as pd

#: Below this a p-value is printed as ``< 1e-16``: double precision cannot tell such
#: p-values from 0 (1 - p rounds to 1), and an exact 0 would claim impossibility.
SMALLEST_P = 1e-16


def format_value(value: Any) -> str:
    """Numbers to 4 significant digits, intervals as ``[low, high]``, the rest as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{format_value(value[0])}, {format_value(value[1])}]"
    return str(value)


def is_pvalue(name: str) -> bool:
    """Whether a field or column holds p-values.

    Such as ``pvalue``, ``pvalue_holm``, ``mcnemar_p``, ``gee_p``, ``mcnemar_midp``...
    """
    return (
        name == "pvalue"
        or (name.startswith("pvalue_") and not name.endswith("_method"))
        or name.endswith(("_p", "_midp"))
    )


def format_pvalue(value: Any) -> str:
    """A p-value as :func:`format_value` writes it, but ``< 1e-16`` below :data:`SMALLEST_P` (0 included)."""
    if isinstance(value, (float, np.floating)) and not math.isnan(value) and value < SMALLEST_P:
        return f"< {SMALLEST_P:g}"
    return format_value(float(value) if isinstance(value, np.floating) else value)


def json_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records: NaN and infinities as null, floats with every digit.

    pandas' ``to_json`` rounds to 10 decimals, which turns an exact McNemar p of 2e-11
    into 0.0; here floats stay Python floats, which ``json`` writes to their shortest
    round-trip form (significant digits, not decimals). Other types go through
    ``to_json`` (timestamps, categories) as before.
    """
    records: list[dict[str, Any]] = json.loads(table.to_json(orient="records"))
    for column in table.select_dtypes(include="floating").columns:
        for record, value in zip(records, table[column].tolist()):
            record[column] = value if math.isfinite(value) else None
    return records


class Summary(str):
    """What ``summary()`` returns: the text, which a notebook shows as HTML.

    A ``str``, because the text is what the command line prints and what callers search
    (``"pvalue" in result.summary()``); a console echoes it as the text itself, not as a
    quoted string full of ``\\n``, and Jupyter shows ``html`` (tables where the result
    has them, else the text preformatted).
    """

    _html: Callable[[], str] | None

    def __new__(cls, text: str, html: Callable[[], str] | None = None) -> Summary:
        """``html`` makes the HTML when a notebook asks (the command line never does)."""
        summary = super().__new__(cls, text)
        summary._html = html
        return summary

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return self._html() if self._html is not None else f"<pre>{escape(self)}</pre>"


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxtuple, _SHORT.maxlist = 40, 40, 4, 4


def brief(name: str, value: Any) -> str:
    """A field's value in a repr: numbers as :func:`format_value` writes them, tables and
    arrays by their shape, long text and sequences cut short."""
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
        return f"<{type(value).__name__} {'x'.join(map(str, value.shape))}>"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)) or (
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, float) for v in value)
    ):
        return format_pvalue(value) if is_pvalue(name) else format_value(value)
    return _SHORT.repr(value)


def short_repr(head: str, parts: list[str], *, width: int = 100) -> str:
    """``head(part, part, ...)`` wrapped at ``width`` characters, continuation lines indented."""
    return (
        textwrap.fill(
            ", ".join(parts),
            width=width,
            initial_indent=f"{head}(",
            subsequent_indent="    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        + ")"
    )


def html_table(table: pd.DataFrame) -> str:
    """A data frame as an HTML table, numbers as the text summaries write them (p-values never 0)."""
    formatters = {
        column: (format_pvalue if is_pvalue(str(column)) else format_value)
        for column in table.select_dtypes(include="floating").columns
    }
    html: str = table.to_html(index=False, border=0, formatters=formatters)
    return html


class Result:
    """Mixin for frozen result dataclasses: a short repr and an HTML view for notebooks.

    Declare the dataclass with ``repr=False``: otherwise the generated repr, which prints
    every table row by row, replaces this one (``tests/stats/test_results.py`` checks).
    """

    title = ""

    def __repr__(self) -> str:
        items = fields(self)  # type: ignore[arg-type]  # every subclass is a dataclass
        return short_repr(
            type(self).__name__, [f"{item.name}={brief(item.name, getattr(self, item.name))}" for item in items]
        )

    def _repr_html_(self) -> str:
        """The title, the other fields in a two-column table, then each data frame under its name."""
        scalars, tables = self._fields()
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(name)}</th><td style='text-align:left'>{escape(text)}</td></tr>"
            for name, text in scalars
        )
        parts = [f"<h4>{escape(self.title or type(self).__name__)}</h4>", f"<table border='0'>{rows}</table>"]
        parts += [f"<p><b>{escape(name)}</b> ({len(table)} rows)</p>{html_table(table)}" for name, table in tables]
        return "".join(parts)

    def _fields(self) -> tuple[list[tuple[str, str]], list[tuple[str, pd.DataFrame]]]:
        """(name with spaces, value as text) of the fields that are not data frames; (name, frame) of the rest."""
        scalars: list[tuple[str, str]] = []
        tables: list[tuple[str, pd.DataFrame]] = []
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, pd.DataFrame):
                tables.append((item.name, value))
            elif isinstance(value, np.ndarray):
                scalars.append((item.name.replace("_", " "), brief(item.name, value)))
            else:
                shown = format_pvalue(value) if is_pvalue(item.name) else format_value(value)
                scalars.append((item.name.replace("_", " "), shown))
        return scalars, tables


class Summarised(Result):
    """Mixin for frozen dataclasses: ``summary()`` lists the fields, tables last."""

    title = "result"

    def summary(self) -> Summary:
        scalars, tables = self._fields()
        width = max((len(name) for name, _ in scalars), default=0)
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{name:<{width}}  {text}" for name, text in scalars]
        for name, table in tables:
            lines += ["", f"{name}:", table.to_string(index=False, float_format=lambda v: format_value(float(v)))]
        return Summary("\n".join(lines), self._repr_html_)

    def __str__(self) -> str:
        return self.summary()


class HypothesisTestResult(Summarised):
    """A hypothesis test: unpacks as ``statistic, pvalue``."""

    statistic: float
    pvalue: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.statistic, self.pvalue))

    @classmethod
    def untested(cls, **known: Any) -> Self:
        """The result where there is nothing to test: the ``known`` fields (a ``note`` saying why
        among them) as given, every other number NaN, so that no test spells out its NaNs."""
        numbers = [item.name for item in fields(cls) if item.type in ("float", float)]  # type: ignore[arg-type]
        return cls(**{name: math.nan for name in numbers if name not in known}, **known)

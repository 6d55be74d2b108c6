"""Result objects in the statsmodels manner: frozen dataclasses with a ``summary()``.

Every test result unpacks as ``statistic, pvalue = result`` (like statsmodels' newer
results) and prints its fields in one aligned block, so a researcher in a notebook sees
what was computed, on how many images, and with which method, without reading code.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import Any
from collections.abc import Iterator

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
    """Whether a field or column holds p-values: ``pvalue``, ``pvalue_holm``, ``mcnemar_p``, ``gee_p``, ``mcnemar_midp``..."""
    return name == "pvalue" or (name.startswith("pvalue_") and not name.endswith("_method")) or name.endswith(("_p", "_midp"))


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
    records = json.loads(table.to_json(orient="records"))
    for column in table.select_dtypes(include="floating").columns:
        for record, value in zip(records, table[column].tolist()):
            record[column] = value if math.isfinite(value) else None
    return records


class Summarised:
    """Mixin for frozen dataclasses: ``summary()`` lists the fields, tables last."""

    title = "result"

    def summary(self) -> str:
        scalars: list[tuple[str, str]] = []
        tables: list[tuple[str, pd.DataFrame]] = []
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, pd.DataFrame):
                tables.append((item.name, value))
            else:
                shown = format_pvalue(value) if is_pvalue(item.name) else format_value(value)
                scalars.append((item.name.replace("_", " "), shown))
        width = max((len(name) for name, _ in scalars), default=0)
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{name:<{width}}  {text}" for name, text in scalars]
        for name, table in tables:
            lines += ["", f"{name}:", table.to_string(index=False, float_format=lambda v: format_value(float(v)))]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


class HypothesisTestResult(Summarised):
    """A hypothesis test: unpacks as ``statistic, pvalue``."""

    statistic: float
    pvalue: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.statistic, self.pvalue))

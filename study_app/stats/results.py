"""Result objects in the statsmodels manner: frozen dataclasses with a ``summary()``.

Every test result unpacks as ``statistic, pvalue = result`` (like statsmodels' newer
results) and prints its fields in one aligned block, so a researcher in a notebook sees
what was computed, on how many images, and with which method, without reading code.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Iterator

import pandas as pd


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
                scalars.append((item.name.replace("_", " "), format_value(value)))
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

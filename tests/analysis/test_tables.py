"""compare's CSV tables: the bytes pandas writes (spreadsheet-safe), whichever way they are put together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study_app.analysis.tables import table_csv
from study_app.io.csv_safety import safe_csv_text


def pandas_bytes(table: pd.DataFrame) -> bytes:
    """What the tables were before: categoricals as text, every cell through pandas' writer."""
    text = table.astype({c: str for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)})
    return safe_csv_text(text).encode("utf-8")


RATERS = pd.DataFrame(
    {
        "rater": pd.Categorical(["m1", "m2", "m1", None, "=cmd"]),
        "error": [0.1, -0.0, 0.0, np.nan, 1e-5],
        "big": [1e16, 3.0, 12345.678, 2.5e-300, -7.0],
        "n": np.arange(5, dtype=np.int64),
        "trial": pd.array([1, None, 3, 4, None], dtype="Int64"),
        "right": [True, False, True, True, False],
        "note": pd.array(["x", "", "-a", "@b", None], dtype="str"),
        "flag": pd.array([True, None, False, True, True], dtype="boolean"),
    }
)


@pytest.mark.parametrize(
    "table",
    [
        RATERS,
        RATERS.assign(note=pd.array(["a,b", "", "q", "r", "s"], dtype="str")),  # a cell that needs quotes
        RATERS.assign(note=pd.array(["a\rb", "", "q", "r", "s"], dtype="str")),  # all cells quoted
        RATERS.assign(mixed=pd.Series([1, "a", 2.5, None, "b"], dtype=object)),  # a type left to pandas
        RATERS[["note"]],  # one column: a lone empty cell is written ""
        RATERS.iloc[:0],
    ],
    ids=["typed", "comma", "carriage-return", "object", "one-column", "empty"],
)
def test_tables_are_the_bytes_pandas_writes(table):
    assert table_csv(table) == pandas_bytes(table)


def test_a_large_rater_table_is_the_bytes_pandas_writes():
    rng = np.random.default_rng(3)
    n = 200_000
    table = pd.DataFrame(
        {
            "rater": pd.Categorical.from_codes(rng.integers(0, 67, n), [f"model-{m:03d}" for m in range(67)]),
            "image_id": pd.Categorical.from_codes(rng.integers(0, 5000, n), [f"img-{i:05d}" for i in range(5000)]),
            "trial": pd.array(np.where(rng.random(n) < 0.5, rng.integers(0, 100, n), -1), dtype="Int64"),
            "rt_ms": np.where(rng.random(n) < 0.5, rng.gamma(4, 400, n), np.nan),
            "n_guesses": rng.integers(0, 6, n),
            "correct_topk": rng.random(n) < 0.8,
        }
    )
    table.loc[table["trial"] == -1, "trial"] = pd.NA
    assert table_csv(table) == pandas_bytes(table)


def test_the_typed_table_takes_the_distinct_cells_path():
    """The cases above test the fast path only if it is taken: every column of the typed table is handled."""
    from study_app.analysis.tables import _distinct_cells

    assert all(_distinct_cells(RATERS[column]) is not None for column in RATERS.columns)

"""Writing an analysis' tables as CSV files, the way ``compare`` and ``compare --taxonomy`` do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads on first use
    import numpy as np
    import pandas as pd

#: Ends each distinct value's line when a column's values are formatted together: control
#: characters that no CSV quoting rule touches, so the text splits back into one cell per value.
_END = "\x1f\x1e"


def write_tables(tables: Mapping[str, pd.DataFrame], out: Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """One CSV per table (``<name>.csv`` in ``out``), text cells made spreadsheet-safe, all replaced together.

    Each file is checked against the command's ``inputs`` first: ``--out`` may well be the
    folder that holds them, and a truth file named ``classes.csv`` must not become a table.
    """
    from study_app.io.output_guard import check_output, write_files

    inputs = list(inputs)
    files = {}
    for name, table in tables.items():
        path = check_output(out / f"{name}.csv", inputs, "compare table")
        files[path] = table_csv(table)
    write_files(files)


def table_csv(table: pd.DataFrame) -> bytes:
    """The table as :func:`~study_app.io.csv_safety.safe_csv_text` writes it (categoricals as their
    text), UTF-8.

    A model zoo's rater table has millions of rows of a few thousand distinct values, which
    pandas' writer turns into Python objects one cell at a time (about 7 s a million rows). So
    each column's distinct values are written by pandas once, in that column's type, and
    pyarrow's writer puts the rows together from those cells: the same bytes. pandas writes
    the table itself where a cell needs quotes (a comma, a quote, a line break: the quoting
    then is pandas'), where a column has a type this does not handle (mixed objects, dates),
    and where the table has a single column (a lone empty cell is written ``""``).
    """
    import pandas as pd

    from study_app.io.csv_safety import safe_csv_text

    def as_text(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})

    cells = [_distinct_cells(table[c]) for c in table.columns] if len(table) and len(table.columns) > 1 else []
    if not cells or any(cell is None or any(_QUOTED.intersection(v) for v in cell[1]) for cell in cells):
        return safe_csv_text(as_text(table)).encode("utf-8")
    return _rows(safe_csv_text(as_text(table.iloc[:0])).encode("utf-8"), cells)  # type: ignore[arg-type]


#: Characters that make a cell quoted (with the line end, ``\n``, and a carriage return, which makes all quoted).
_QUOTED = frozenset(',"\n\r')


def _distinct_cells(column: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """Each row's code into the column's distinct values, and each distinct value's cell as
    :func:`~study_app.io.csv_safety.safe_csv_text` writes it in this column (a categorical as its
    text); ``None`` for a type this does not handle."""
    import numpy as np
    import pandas as pd

    from study_app.io.csv_safety import escape_frame

    kind = column.dtype
    if isinstance(kind, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int32)
        missing = codes < 0
        present = np.arange(len(kind.categories) + int(missing.any()), dtype=np.int64)
        present[len(kind.categories) :] = -1
        distinct = pd.Series(pd.Categorical.from_codes(present, dtype=kind)).astype(str)
        codes[missing] = len(kind.categories)
    elif kind == np.float64:  # by bit pattern: -0.0 and 0.0 are written differently
        codes, bits = pd.factorize(column.to_numpy().view(np.int64))
        distinct = pd.Series(np.asarray(bits).view(np.float64))
    elif kind in (np.dtype(bool), np.dtype(np.int64)) or isinstance(
        kind, pd.StringDtype | pd.Int64Dtype | pd.BooleanDtype
    ):
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        distinct = pd.Series(uniques, dtype=kind)
    else:
        return None
    values = escape_frame(pd.DataFrame({"v": distinct}))
    values["end"] = _END
    written = values.to_csv(index=False, header=False, lineterminator="\n").split(f",{_END}\n")
    return codes.astype(np.int32), written[:-1]


def _rows(header: bytes, cells: list[tuple[np.ndarray, list[str]]]) -> bytes:
    """``header`` and the rows from each column's codes and cells (none needing quotes), by pyarrow's CSV writer."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    columns = [pa.DictionaryArray.from_arrays(codes, pa.array(formatted, pa.string())) for codes, formatted in cells]
    table = pa.table(columns, names=[f"c{i}" for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    sink.write(header)
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes()

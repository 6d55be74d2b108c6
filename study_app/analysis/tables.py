"""Writing an analysis' tables as CSV files, the way ``compare`` and ``compare --taxonomy`` do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads on first use
    import pandas as pd


def write_tables(tables: Mapping[str, pd.DataFrame], out: Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """One CSV per table (``<name>.csv`` in ``out``), text cells made spreadsheet-safe, all replaced together.

    Each file is checked against the command's ``inputs`` first: ``--out`` may well be the
    folder that holds them, and a truth file named ``classes.csv`` must not become a table.
    """
    import pandas as pd

    from study_app.io.csv_safety import safe_csv_text
    from study_app.io.output_guard import check_output, write_files

    inputs = list(inputs)
    files = {}
    for name, table in tables.items():
        path = check_output(out / f"{name}.csv", inputs, "compare table")
        text = table.astype({c: str for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)})
        files[path] = safe_csv_text(text).encode("utf-8")
    write_files(files)

"""Reading the study's CSV files with row numbers, so every problem can be located.

All CSV inputs (label sets, hierarchies, manifests, example lists, predictions) go
through :func:`read_csv`, which reads only a regular file of a bounded size
(:mod:`study_app.io.input_files`), decodes UTF-8 (a byte-order mark is accepted), checks
the header, and reports problems into a shared list instead of raising, so that a
protocol check can list *all* problems at once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from study_app.errors import Problem
from study_app.io.input_files import UnusableInputError, read_input_bytes, unreadable
from study_app.io.output_guard import write_text


@dataclass(frozen=True)
class CsvRow:
    """One data row and the 1-based line of the file it starts on."""

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


def read_csv(
    path: Path,
    required: tuple[str, ...],
    problems: list[Problem],
    display: str | None = None,
) -> list[CsvRow] | None:
    """Read ``path`` as a UTF-8 CSV whose header holds at least ``required``.

    Returns the rows, or ``None`` when the file cannot be used at all (the reason is
    appended to ``problems``). Cells are returned as written; callers strip and parse.
    """
    name = display or str(path)
    try:
        raw = read_input_bytes(path, "CSV file")
    except (OSError, UnusableInputError) as exc:
        problems.append(Problem(name, unreadable(exc)))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(name, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", line=line)
        )
        return None
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="", strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        problems.append(Problem(name, f"malformed CSV header: {exc}", line=1))
        return None
    if not header:
        problems.append(Problem(name, f"empty file; expected a header with columns {', '.join(required)}", line=1))
        return None
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(
            Problem(name, f"missing column(s) {', '.join(missing)}; the header is {', '.join(header)}", line=1)
        )
        return None
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        problems.append(Problem(name, f"column(s) named twice in the header: {', '.join(duplicated)}", line=1))
        return None
    rows: list[CsvRow] = []
    start = 2
    try:
        for record in reader:
            if None in record:
                problems.append(Problem(name, "more cells than header columns", line=start))
                record.pop(None)
            if any((v or "").strip() for v in record.values()):
                rows.append(CsvRow(start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(Problem(name, f"malformed CSV: {exc}", line=reader.line_num))
        return None
    return rows


def split_list(cell: str) -> list[str]:
    """Split a ``;``-separated cell (synonyms, multi-label ground truth) into items."""
    return [part.strip() for part in cell.split(";") if part.strip()]


def write_csv(path: Path, header: list[str], rows) -> None:
    """Write UTF-8 CSV with ``\\n`` line endings and minimal quoting (creating the folder).

    Every CSV this project writes (bundled studies, generated protocols, fixtures) goes
    through here, so they all read back identically everywhere; the file is replaced
    atomically (:mod:`.output_guard`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())

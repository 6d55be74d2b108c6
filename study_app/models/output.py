"""The predictions file as it grows: whole images appended, resumable after any stop.

A run over 50,000 images takes hours on a laptop, so the tidy CSV is appended one batch
at a time and flushed, and a rerun skips the images already in it. Each batch goes out
in one write with Ctrl-C held back until it is flushed, so an interrupted file holds
only whole images. A file cut short by a hard kill or power loss (a partial last line,
an image with missing ranks) is repaired on resume by dropping just that image.

A Parquet file (``--out`` ending in ``.parquet``: a quarter of the CSV's size, read much
faster) cannot be appended to, so its rows grow in that CSV form in a journal beside it,
``<name>.parquet.partial.csv``, and every stop writes the Parquet file whole (replacing
it atomically) and removes the journal. A rerun starts a journal from the Parquet file's
rows, or continues the journal a hard kill left behind.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from study_app.errors import ModelRunError
from study_app.io.output_guard import write_bytes, write_text
from study_app.io.tidy_predictions import PREDICTION_COLUMNS

HEADER = ",".join(PREDICTION_COLUMNS) + "\n"

Guesses = list[tuple[str, str]]


class PredictionsWriter:
    """Appends ``model``'s guesses per image to ``path``; rows of other models are kept."""

    def __init__(self, path: Path, model: str, k: int) -> None:
        self.parquet = path if path.suffix.lower() == ".parquet" else None
        self.path = path.with_name(path.name + ".partial.csv") if self.parquet else path
        self.model = model
        self.k = k
        self.done: set[str] = set()
        if self.parquet and not self.path.exists() and self.parquet.exists():
            write_text(self.path, HEADER + _csv_rows(self.parquet))
        if self.path.exists():
            self._resume()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(HEADER, encoding="utf-8", newline="\n")
        self.handle = self.path.open("a", encoding="utf-8", newline="")

    def _resume(self) -> None:
        """Collect the complete images of this model; rewrite the file without any partial one."""
        text = self.path.read_text(encoding="utf-8-sig")
        if not text.startswith(HEADER):
            raise ModelRunError(
                f"--out {self.path} exists but is not a predictions file (its "
                f"first line is not {HEADER.strip()}); choose another --out"
            )
        keep = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
        rows = list(csv.reader(io.StringIO(keep[len(HEADER) :])))
        ranks: dict[str, list[str]] = {}
        for row in rows:
            if len(row) == len(PREDICTION_COLUMNS) and row[0] == self.model:
                ranks.setdefault(row[1], []).append(row[2])
        expected = [str(r) for r in range(1, self.k + 1)]
        self.done = {image for image, seen in ranks.items() if seen == expected}
        broken = set(ranks) - self.done
        if keep != text or broken:
            lines = keep.splitlines(keepends=True)
            body = [line for line, row in zip(lines[1:], rows) if not (row[:1] == [self.model] and row[1] in broken)]
            write_text(self.path, HEADER + "".join(body))

    def write(self, images: list[tuple[str, Guesses]]) -> None:
        """Append whole images; Ctrl-C during the write takes effect once it is flushed."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for image_id, guesses in images:
            writer.writerows(
                [self.model, image_id, rank, label, score] for rank, (label, score) in enumerate(guesses, start=1)
            )
        with _interrupts_deferred():
            self.handle.write(buffer.getvalue())
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.done.update(image_id for image_id, _ in images)

    def close(self) -> None:
        """Close the file; a Parquet output is written whole from the journal, which then goes."""
        self.handle.close()
        if self.parquet:
            write_bytes(self.parquet, _parquet_bytes(self.path))
            self.path.unlink()


def _parquet_bytes(journal: Path) -> bytes:
    """The journal's rows as a Parquet file: text columns dictionary-encoded, ranks and scores as numbers."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    text = pa.dictionary(pa.int32(), pa.string())
    with open(journal, "rb") as handle:  # opened here: pyarrow refuses a path that is not UTF-8
        table = pa_csv.read_csv(
            handle,
            convert_options=pa_csv.ConvertOptions(
                column_types={
                    "model": text,
                    "image_id": text,
                    "rank": pa.int32(),
                    "label_id": text,
                    "score": pa.float64(),
                },
                strings_can_be_null=False,
            ),
        )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _csv_rows(parquet: Path) -> str:
    """An earlier run's Parquet output as the journal's CSV rows (without the header)."""
    import pandas as pd

    try:
        with open(parquet, "rb") as handle:
            frame = pd.read_parquet(handle, columns=list(PREDICTION_COLUMNS))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelRunError(
            f"--out {parquet} exists but is not a predictions file ({exc}); choose another --out"
        ) from None
    return frame.to_csv(index=False, header=False, lineterminator="\n")


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT until the block ends, then raise :class:`KeyboardInterrupt` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt

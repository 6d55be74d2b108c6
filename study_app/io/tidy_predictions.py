"""Reading model predictions in the tidy format ``model,image_id,rank,label_id[,score]``.

One row per guess, rank 1 = top guess, several models per file allowed. ``score`` is
optional (published prediction dumps often hold ranked class ids only); blank or absent
scores are NaN. The file is a CSV, or a Parquet file (``.parquet``) with the same columns.

A model zoo's dumps are large (67 models x 50,000 ILSVRC images x top-5 is 16.75 million
rows), so the rows never become Python objects: the file is read in batches with pyarrow,
each text column kept as small integer codes into its distinct values (the 50,000 image
ids, the 1,000 classes), and every check runs on those codes. A CSV that pyarrow reads
differently from the way this reader has always read CSV (a field with a quote in it,
blanks around a quoted field, a short line, bytes that are not UTF-8) is read again in
batches by pandas with the original options, so both readers give one answer. Problems
are reported with the file's line numbers (header = line 1; a Parquet file's rows are
counted from 1) and capped per kind, so a broken file does not produce a million messages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study_app.errors import Problem
from study_app.io.input_files import UnusableInputError, check_input_file, unreadable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PREDICTION_COLUMNS = ("model", "image_id", "rank", "label_id", "score")
#: The columns a tidy file must have; ``score`` may be left out.
REQUIRED_PREDICTION_COLUMNS = PREDICTION_COLUMNS[:4]
#: The text columns, held as codes into their sorted distinct values.
TEXT_COLUMNS = ("model", "image_id", "label_id")
MAX_PROBLEMS_PER_KIND = 10
#: Far above any label set; keeps ranks such as ``1e400`` or ``2**70`` out of the rank column.
MAX_RANK = 1_000_000
#: Rows per batch: a batch's text is held as Python strings only in the pandas re-read.
BATCH_ROWS = 1 << 20


def is_parquet(path: Path) -> bool:
    """Parquet files are told by their suffix, as ``export`` names them."""
    return path.suffix.lower() == ".parquet"


def report_rows(
    problems: list[Problem],
    display: str,
    rows: np.ndarray,
    field: str,
    message: str,
    values: Callable[[np.ndarray], Any] | None = None,
    *,
    first_line: int | None = 2,
) -> None:
    """Append one problem per offending row (0-based, ascending; naming its value from
    ``values(rows)``, if given), up to the cap, then a count of the rest.

    ``first_line``: the file line of row 0 (2 below a CSV header); ``None`` for a file
    without lines (Parquet), whose rows are named by number in the message instead.
    """
    shown = rows[:MAX_PROBLEMS_PER_KIND]
    named = values(shown) if values is not None else None
    for i, row in enumerate(shown):
        text = message if named is None else f"{message}: {named[i]!r}"
        if first_line is None:
            problems.append(Problem(display, f"row {int(row) + 1}: {text}", field=field))
        else:
            problems.append(Problem(display, text, line=int(row) + first_line, field=field))
    if len(rows) > len(shown):
        problems.append(Problem(display, f"... and {len(rows) - len(shown)} more rows: {message}", field=field))


@dataclass
class TextColumn:
    """A text column as codes (``-1``: no value, a field missing from a short line) into ``values``."""

    codes: np.ndarray  # the smallest integer type that holds them
    values: np.ndarray  # object array of distinct strings, sorted

    def per_row(self, per_value: np.ndarray, missing: Any) -> np.ndarray:
        """``per_value`` (one item per distinct value) spread to the rows; ``missing`` where there is no value
        (code -1 picks the item appended last)."""
        import numpy as np

        return np.append(per_value, np.asarray([missing], dtype=per_value.dtype))[self.codes]

    def strings(self, rows: np.ndarray) -> np.ndarray:
        """The values of ``rows`` (``nan`` where there is none), for messages."""
        import numpy as np

        return np.append(self.values, np.nan)[self.codes[rows]]

    def mask(self, chosen: np.ndarray) -> np.ndarray:
        """Rows whose value is one of the values ``chosen`` (a boolean mask over ``values``)."""
        return self.per_row(chosen, False)

    def categorical(self, order: np.ndarray | None) -> pd.Categorical:
        """The column as a categorical, its rows in ``order`` (``None``: as they are)."""
        import pandas as pd

        codes = self.codes if order is None else self.codes[order]
        return pd.Categorical.from_codes(codes, categories=pd.Index(self.values, dtype=object))


@dataclass
class _Builder:
    """Codes of one text column, batch by batch, each batch with its own distinct values."""

    parts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, codes: np.ndarray, values: np.ndarray) -> None:
        """A batch's codes (``-1``: no value) into its own distinct ``values``; kept in their smallest type."""
        self.parts.append((codes.astype(small_int_type(len(values)), copy=False), values))

    def column(self) -> TextColumn:
        """All batches' codes into one set of distinct values, stripped of surrounding blanks and sorted."""
        import numpy as np
        import pandas as pd

        local = np.concatenate([values for _, values in self.parts]) if self.parts else np.zeros(0, dtype=object)
        first, distinct = pd.factorize(local.astype(object))  # the batches repeat most values: strip each once
        values, inverse = np.unique(
            np.array([str(value).strip() for value in distinct], dtype=object), return_inverse=True
        )
        kind = small_int_type(len(values))
        inverse = inverse.reshape(-1).astype(kind)[first]
        codes, start = [], 0
        parts, self.parts = self.parts, []
        parts.reverse()
        while parts:  # each batch let go once mapped: 16 million rows are never held twice
            part, batch_values = parts.pop()
            mapping = np.append(inverse[start : start + len(batch_values)], kind(-1))  # -1 stays "no value"
            codes.append(mapping[part])
            start += len(batch_values)
        return TextColumn(np.concatenate(codes) if codes else np.zeros(0, dtype=np.int8), values)


@dataclass
class Columns:
    """A predictions file as read, before any check."""

    text: dict[str, TextColumn]  # model, image_id, label_id, and rank as written
    score: np.ndarray  # float, NaN where blank or not a number
    score_given: np.ndarray  # bool: the score cell was not blank
    first_line: int | None  # line of row 0 (None: Parquet)


class _NotPlain(Exception):
    """The fast CSV reader met something it does not read as pandas does; pandas reads the file."""


def read_predictions(
    path: Path,
    problems: list[Problem],
    display: str | None = None,
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
) -> pd.DataFrame | None:
    """Read and check a predictions file (CSV or Parquet); ``None`` (with problems appended) if unusable.

    ``image_ids`` / ``label_ids``, when given, are the study's images and classes; rows
    naming others are problems. The returned frame has columns ``model, image_id`` and
    ``label_id`` (categoricals of their sorted values), ``rank`` (the smallest integer type
    that holds it) and ``score`` (float, NaN if blank), sorted by model, image and rank.
    """
    name = display or str(path)
    before = len(problems)
    columns = read_columns(path, problems, name)
    if columns is None:
        return None
    return checked_frame(columns, problems, name, image_ids, label_ids, before)


def read_columns(path: Path, problems: list[Problem], name: str) -> Columns | None:
    """The file's prediction columns, or ``None`` with the problem (unreadable, not a table, columns missing)."""
    import pyarrow as pa

    try:
        return _read_columns(path, problems, name)
    finally:  # the reader's batches are gone: give their memory back before the analysis needs it
        pa.default_memory_pool().release_unused()


def _read_columns(path: Path, problems: list[Problem], name: str) -> Columns | None:
    import pandas as pd

    parquet = is_parquet(path)
    try:
        check_input_file(path, "predictions file")  # a pipe would block, a 40 GB file exhaust memory
    except (OSError, UnusableInputError) as exc:
        problems.append(Problem(name, unreadable(exc, "predictions file")))
        return None
    if parquet:
        return _parquet_columns(path, problems, name)
    try:
        header = list(
            pd.read_csv(path, nrows=0, dtype=str, encoding="utf-8-sig", skipinitialspace=True, keep_default_na=False)
        )
        positions = _positions([str(c).strip() for c in header], problems, name)
        if positions is None:
            return None
        try:
            return _arrow_csv_columns(path, len(header), positions)
        except _NotPlain:
            return _pandas_csv_columns(path, header, positions)
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"not UTF-8 text ({exc.reason}); save the file as UTF-8"))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        problems.append(Problem(name, f"cannot parse as CSV: {exc}"))
    return None


def _positions(header: list[str], problems: list[Problem], name: str) -> dict[str, int] | None:
    """Where each prediction column is in ``header`` (the first of a name given twice, as pandas reads it)."""
    twice = sorted({c for c in PREDICTION_COLUMNS if header.count(c) > 1})
    if twice:
        problems.append(Problem(name, f"column(s) named twice in the header: {', '.join(twice)}", line=1))
        return None
    missing = [c for c in REQUIRED_PREDICTION_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                name,
                f"missing column(s) {', '.join(missing)}; expected {','.join(REQUIRED_PREDICTION_COLUMNS)}[,score]",
                line=1,
            )
        )
        return None
    return {c: header.index(c) for c in PREDICTION_COLUMNS if c in header}


def _collect(batches: Iterator[tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]]) -> Columns:
    """Batches of (text codes and values per column, score, score given) into :class:`Columns`."""
    import numpy as np

    builders = {c: _Builder() for c in (*TEXT_COLUMNS, "rank")}
    scores, given = [], []
    for text, score, score_given in batches:
        for column, (codes, values) in text.items():
            builders[column].add(codes, values)
        scores.append(score)
        given.append(score_given)
    score = np.concatenate(scores) if scores else np.zeros(0)
    return Columns(
        {c: b.column() for c, b in builders.items()},
        score,
        np.concatenate(given) if given else np.zeros(0, dtype=bool),
        2,
    )


def _arrow_csv_columns(path: Path, width: int, positions: dict[str, int]) -> Columns:
    """The CSV read by pyarrow in batches, text as dictionary codes; :class:`_NotPlain` where pandas would differ."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"c{i}" for i in range(width)]
    text = pa.dictionary(pa.int32(), pa.string())
    types = {names[positions[c]]: text for c in (*TEXT_COLUMNS, "rank")}
    if "score" in positions:
        types[names[positions["score"]]] = pa.float64()
    # opened here, not by pyarrow: a path that is not UTF-8 (a surrogate escape) opens all the same
    with open(path, "rb") as handle:
        try:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    include_columns=list(types),
                    null_values=[""],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            raise _NotPlain from None

        def batches() -> Iterator[tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]]:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid:  # a short or long line, a number pyarrow does not read, bad UTF-8
                    raise _NotPlain from None
                codes = {}
                for column in (*TEXT_COLUMNS, "rank"):
                    array = batch.column(names[positions[column]])
                    values = np.asarray(array.dictionary.to_pylist(), dtype=object)
                    if any('"' in value for value in values):  # pandas reads quotes after blanks otherwise
                        raise _NotPlain
                    codes[column] = (array.indices.to_numpy(zero_copy_only=False), values)
                if "score" in positions:
                    score = batch.column(names[positions["score"]])
                    given = score.is_valid().to_numpy(zero_copy_only=False)
                    values = score.to_numpy(zero_copy_only=False)
                else:
                    given, values = np.zeros(batch.num_rows, dtype=bool), np.full(batch.num_rows, np.nan)
                yield codes, values, given

        return _collect(batches())


def _pandas_csv_columns(path: Path, header: list[str], positions: dict[str, int]) -> Columns:
    """The CSV read by pandas with the options this reader always used (blanks after commas
    skipped, every value stripped), in batches of :data:`BATCH_ROWS` rows."""
    import numpy as np
    import pandas as pd

    def batches() -> Iterator[tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]]:
        chunks = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            skipinitialspace=True,
            chunksize=BATCH_ROWS,
        )
        with chunks:
            for chunk in chunks:
                codes = {}
                for column in (*TEXT_COLUMNS, "rank"):
                    found, values = pd.factorize(chunk.iloc[:, positions[column]].to_numpy(dtype=object))
                    codes[column] = (found.astype(np.int32), np.asarray(values, dtype=object))
                if "score" in positions:
                    score, given = text_scores(chunk.iloc[:, positions["score"]].to_numpy(dtype=object))
                else:
                    given, score = np.zeros(len(chunk), dtype=bool), np.full(len(chunk), np.nan)
                yield codes, score, given

    return _collect(batches())


def text_scores(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores written as text: (the number, NaN if none; whether the cell was not blank). A
    cell missing from a short line (NaN) counts as given, and so as a score that is not a number."""
    import numpy as np
    import pandas as pd

    stripped = pd.Series(cells, dtype=object).str.strip()
    given = (stripped != "").to_numpy(dtype=bool)
    score = pd.to_numeric(stripped.replace("", np.nan), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return score, given


def _parquet_columns(path: Path, problems: list[Problem], name: str) -> Columns | None:
    """A Parquet file's prediction columns, in row groups; text of any type read as its strings."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:  # opened here: pyarrow refuses a path that is not UTF-8
        try:
            opened = pq.ParquetFile(handle)
            header = [str(c).strip() for c in opened.schema_arrow.names]
        except (pa.ArrowException, OSError) as exc:
            problems.append(Problem(name, f"cannot read as a Parquet file: {exc}"))
            return None
        positions = _positions(header, problems, name)
        if positions is None:
            return None
        wanted = [opened.schema_arrow.names[positions[c]] for c in PREDICTION_COLUMNS if c in positions]

        present = [c for c in PREDICTION_COLUMNS if c in positions]

        def text_codes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
            """Codes into the column's distinct values; a null is an empty value, as a blank CSV cell is.
            Numbers (ranks) are encoded as numbers and only their distinct values made text."""
            if pa.types.is_integer(array.type) and not array.null_count:
                array = pc.dictionary_encode(array)
            elif array.null_count or not pa.types.is_dictionary(array.type):
                array = pc.dictionary_encode(pc.fill_null(pc.cast(array, pa.string()), ""))
            values = np.asarray(pc.cast(array.dictionary, pa.string()).to_pylist(), dtype=object)
            return array.indices.to_numpy(zero_copy_only=False).astype(np.int32), values

        def batches() -> Iterator[tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]]:
            for batch in opened.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
                columns = dict(zip(present, batch.columns))
                codes = {c: text_codes(columns[c]) for c in (*TEXT_COLUMNS, "rank")}
                score = columns.get("score")
                if score is None:
                    values, given = np.full(batch.num_rows, np.nan), np.zeros(batch.num_rows, dtype=bool)
                elif pa.types.is_floating(score.type) or pa.types.is_integer(score.type):
                    given = score.is_valid().to_numpy(zero_copy_only=False)
                    values = pc.cast(score, pa.float64()).to_numpy(zero_copy_only=False)
                else:
                    values, given = text_scores(
                        pc.cast(score, pa.string()).fill_null("").to_numpy(zero_copy_only=False)
                    )
                yield codes, values, given

        try:
            columns = _collect(batches())
        except (pa.ArrowException, OSError) as exc:
            problems.append(Problem(name, f"cannot read as a Parquet file of predictions: {exc}"))
            return None
    columns.first_line = None
    return columns


def checked_frame(
    columns: Columns,
    problems: list[Problem],
    name: str,
    image_ids: Collection[str] | None,
    label_ids: Collection[str] | None,
    before: int,
) -> pd.DataFrame | None:
    """Check the columns as the tidy format requires; the sorted frame, or ``None`` with the problems."""
    import numpy as np
    import pandas as pd

    def report(mask: np.ndarray, column: str, message: str, values: Callable[[np.ndarray], Any] | None = None) -> None:
        if mask.any():
            report_rows(problems, name, np.flatnonzero(mask), column, message, values, first_line=columns.first_line)

    text = columns.text
    for column in ("model", "image_id", "label_id"):
        report(text[column].mask(text[column].values == ""), column, f"empty {column}")
    parsed = pd.to_numeric(pd.Series(text["rank"].values, dtype=object), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(parsed) | (parsed < 1) | (parsed > MAX_RANK) | (parsed != np.round(parsed))
    bad_rank = text["rank"].per_row(bad, True)
    rank_span = int(parsed[~bad].max(initial=0)) + 1  # the bad ones (inf, 1e400) are problems already
    rank = text["rank"].per_row(np.where(bad, 0, parsed).astype(small_int_type(rank_span)), 0)
    with np.errstate(invalid="ignore"):
        score = columns.score
        bad_score = columns.score_given & (np.isnan(score) | ~np.isfinite(score) | (score < 0))
    report(bad_rank, "rank", f"rank must be a whole number from 1 to {MAX_RANK:,}")
    report(bad_score, "score", "score must be a finite number >= 0 (or blank)")
    for column, known, message in (
        ("image_id", image_ids, "image_id not in the study's manifest"),
        ("label_id", label_ids, "label_id not in the study's label set"),
    ):
        if known is not None:
            values = text[column].values
            unknown = ~pd.Index(values, dtype=object).isin(set(known)) & (values != "")
            # a field missing from a short line is no value at all: unknown too
            rows = text[column].mask(unknown) | (text[column].codes < 0)
            report(rows, column, message, text[column].strings)
    if len(problems) > before:
        return None
    return _sorted_frame(columns, rank, rank_span, problems, name, before, report)


def _sorted_frame(
    columns: Columns,
    rank: np.ndarray,
    rank_span: int,
    problems: list[Problem],
    name: str,
    before: int,
    report: Callable[..., None],
) -> pd.DataFrame | None:
    """Repeated ranks and labels and gaps in the ranks of one model and image; the frame sorted
    by model, image and rank (the codes number the sorted values, so sorting codes sorts names).

    Arrays of 16 million rows are costly to make (each page is touched anew), so keys are as
    narrow as their values allow and a file already in order (as ``predict`` writes it) is
    not reordered.
    """
    import numpy as np

    text = columns.text
    model, image, label = text["model"], text["image_id"], text["label_id"]
    group = pair_key(model.codes, image.codes, len(image.values))
    key = pair_key(group, rank, rank_span)
    in_order = bool(np.all(key[1:] > key[:-1]))  # and so no rank twice
    order = None if in_order else np.argsort(key, kind="stable")  # stable: a key's first row in the file first
    if order is not None:
        ordered = key[order]
        repeated = np.zeros(len(key), dtype=bool)
        repeated[order[1:][ordered[1:] == ordered[:-1]]] = True
        report(repeated, "rank", "the same rank twice for one model and image")
        group, rank, labels = group[order], rank[order], label.codes[order]
        repeated = repeated[order]
    else:
        labels, repeated = label.codes, np.zeros(len(key), dtype=bool)
    del key
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, len(group)])
    twice = _repeated_labels(group, labels, order, int(sizes.max(initial=0)), len(label.values))
    report(twice, "label_id", "the same label twice for one model and image")
    # A rank given twice makes its own problem; the gaps of the other images are still said.
    last_rank = rank[starts + sizes - 1]  # the largest: sorted by rank within a group
    with_repeat = np.add.reduceat(repeated, starts) > 0 if len(starts) else np.zeros(0, dtype=bool)
    gap = np.repeat((last_rank != sizes) & ~with_repeat, sizes)
    report(
        gap if order is None else _in_file_order(gap, order),
        "rank",
        "ranks of one model and image must be 1..k without gaps",
    )
    if len(problems) > before:
        return None
    return pd_frame(columns, rank, order)


def _in_file_order(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Values of the sorted rows (``order``: the file's row of each) in the file's order."""
    import numpy as np

    out = np.empty_like(values)
    out[order] = values
    return out


def _repeated_labels(
    group: np.ndarray, label: np.ndarray, order: np.ndarray | None, largest: int, labels: int
) -> np.ndarray:
    """The file's rows whose label an earlier row of the file gives for the same group, from
    ``group`` and ``label`` sorted by group (``order``: the file's row of each; ``None``: the
    file's own order). Groups of a few rows (top-5, top-10) compare each row with the rows up to
    ``largest`` before it; longer ones sort on (group, label)."""
    import numpy as np

    twice = np.zeros(len(group), dtype=bool)
    if largest <= 16:
        for back in range(1, largest):
            same = (group[back:] == group[:-back]) & (label[back:] == label[:-back])
            if order is None:
                twice[back:] |= same
            else:  # of the two, the one later in the file is the repeat
                later = order[back:] > order[:-back]
                twice[back:] |= same & later
                twice[:-back] |= same & ~later
        return twice if order is None else _in_file_order(twice, order)
    key = pair_key(group, label, labels)
    if order is not None:
        key = _in_file_order(key, order)
    by_label = np.argsort(key, kind="stable")  # stable: of one (group, label), the file's first comes first
    ordered = key[by_label]
    twice[by_label[1:][ordered[1:] == ordered[:-1]]] = True
    return twice


def pd_frame(columns: Columns, rank: np.ndarray, order: np.ndarray | None) -> pd.DataFrame:
    """The frame of the checked columns, rows in ``order`` (``rank`` already in it; ``None``: as read)."""
    import pandas as pd

    text = columns.text
    return pd.DataFrame(
        {
            "model": text["model"].categorical(order),
            "image_id": text["image_id"].categorical(order),
            "rank": rank,
            "label_id": text["label_id"].categorical(order),
            "score": columns.score if order is None else columns.score[order],
        }
    )


def pair_key(first: np.ndarray, second: np.ndarray, second_span: int) -> np.ndarray:
    """One integer per (first, second) pair (``0 <= second < second_span``) that sorts as the pairs do:
    32 bits where they suffice; ``first`` is renumbered densely where the product would not fit 63 bits."""
    import numpy as np

    span = max(second_span, 1)
    largest = (int(first.max()) + 1) * span if len(first) else 0
    if largest >= 1 << 62:
        _, first = np.unique(first, return_inverse=True)
        largest = (int(first.max()) + 1) * span
    kind = np.int32 if largest < 1 << 31 else np.int64
    key = first.astype(kind)
    np.multiply(key, span, out=key)  # in place: 16 million keys are made once
    np.add(key, second, out=key)
    return key


def small_int_type(limit: int) -> type:
    """The smallest signed integer type that holds ``0 .. limit``."""
    import numpy as np

    for kind in (np.int8, np.int16, np.int32):
        if limit <= np.iinfo(kind).max:
            return kind
    return np.int64


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """A predictions frame in the columns :func:`read_predictions` returns: text as categoricals of
    their sorted values (only those used), ranks in the smallest integer type, scores as floats."""
    import numpy as np
    import pandas as pd

    def categories(column: pd.Series) -> pd.Categorical:
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.cat.remove_unused_categories()
            if column.cat.categories.is_monotonic_increasing:
                return column.array
        codes, values = pd.factorize(column.to_numpy(dtype=object), sort=True)
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object))

    rank = frame["rank"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "model": categories(frame["model"]),
            "image_id": categories(frame["image_id"]),
            "rank": rank.astype(small_int_type(int(rank.max(initial=0)))),
            "label_id": categories(frame["label_id"]),
            "score": frame["score"].to_numpy(dtype=float),
        }
    )


def concat_predictions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Compact prediction frames one below the other, each text column's categories merged (sorted)."""
    import numpy as np
    import pandas as pd

    if not frames:
        return compact(pd.DataFrame({c: pd.Series([], dtype=object) for c in PREDICTION_COLUMNS}))
    if len(frames) == 1:
        return frames[0]
    merged = {
        c: pd.CategoricalDtype(
            pd.Index(
                np.unique(np.concatenate([f[c].cat.categories.to_numpy(dtype=object) for f in frames])), dtype=object
            )
        )
        for c in TEXT_COLUMNS
    }
    joined = pd.concat([f.astype(merged) for f in frames], ignore_index=True)
    rank = joined["rank"].to_numpy()
    return joined.assign(rank=rank.astype(small_int_type(int(rank.max(initial=0)))))

"""Reading model predictions in the tidy format ``model,image_id,rank,label_id[,score]``.

One row per guess, rank 1 = top guess, several models per file allowed. ``score`` is
optional (published prediction dumps often hold ranked class ids only); blank or absent
scores are NaN. Files can hold
millions of rows, so checks are vectorised with pandas; problems are reported with the
file's line numbers (header = line 1) and capped per kind so a broken file does not
produce a million messages.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from study_app.errors import Problem
from study_app.io.input_files import UnusableInputError, check_input_file, unreadable

if TYPE_CHECKING:
    import pandas as pd

PREDICTION_COLUMNS = ("model", "image_id", "rank", "label_id", "score")
#: The columns a tidy file must have; ``score`` may be left out.
REQUIRED_PREDICTION_COLUMNS = PREDICTION_COLUMNS[:4]
MAX_PROBLEMS_PER_KIND = 10
#: Far above any label set; keeps ranks such as ``1e400`` or ``2**70`` out of the 64-bit rank column.
MAX_RANK = 1_000_000


def report_rows(
    problems: list[Problem], display: str, lines: pd.Series, field: str, message: str, values: pd.Series | None = None
) -> None:
    """Append one problem per offending line (naming its ``values`` cell, if given), up to
    the cap, then a count of the rest."""
    shown = lines.iloc[:MAX_PROBLEMS_PER_KIND]
    for index, line in shown.items():
        text = message if values is None else f"{message}: {values[index]!r}"
        problems.append(Problem(display, text, line=int(line), field=field))
    if len(lines) > len(shown):
        problems.append(Problem(display, f"... and {len(lines) - len(shown)} more rows: {message}", field=field))


def read_predictions(
    path: Path,
    problems: list[Problem],
    display: str | None = None,
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
) -> pd.DataFrame | None:
    """Read and check a predictions CSV; ``None`` (with problems appended) if unusable.

    ``image_ids`` / ``label_ids``, when given, are the study's images and classes; rows
    naming others are problems. The returned frame has columns
    ``model, image_id, rank (int), label_id, score (float, NaN if blank)``, sorted by
    model, image and rank.
    """
    import numpy as np  # imported here: pandas costs 0.4 s of every app start otherwise
    import pandas as pd

    name = display or str(path)
    before = len(problems)
    try:
        check_input_file(path, "CSV file")  # before pandas opens it: a pipe would block, 8 GB exhaust memory
    except (OSError, UnusableInputError) as exc:
        problems.append(Problem(name, unreadable(exc, "predictions file")))
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"not UTF-8 text ({exc.reason}); save the file as UTF-8"))
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        problems.append(Problem(name, f"cannot parse as CSV: {exc}"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    twice = sorted({c for c in PREDICTION_COLUMNS if list(frame.columns).count(c) > 1})
    if twice:
        problems.append(Problem(name, f"column(s) named twice in the header: {', '.join(twice)}", line=1))
        return None
    missing = [c for c in REQUIRED_PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        problems.append(
            Problem(
                name,
                f"missing column(s) {', '.join(missing)}; expected {','.join(REQUIRED_PREDICTION_COLUMNS)}[,score]",
                line=1,
            )
        )
        return None
    if "score" not in frame.columns:
        frame["score"] = ""
    frame = frame[list(PREDICTION_COLUMNS)].apply(lambda col: col.str.strip())
    lines = pd.Series(np.arange(len(frame)) + 2, index=frame.index)

    for column in ("model", "image_id", "label_id"):
        empty = frame[column] == ""
        if empty.any():
            report_rows(problems, name, lines[empty], column, f"empty {column}")
    rank = pd.to_numeric(frame["rank"], errors="coerce")
    bad_rank = rank.isna() | (rank < 1) | (rank > MAX_RANK) | (rank != rank.round())
    if bad_rank.any():
        report_rows(problems, name, lines[bad_rank], "rank", f"rank must be a whole number from 1 to {MAX_RANK:,}")
    score = pd.to_numeric(frame["score"].replace("", np.nan), errors="coerce")
    bad_score = (frame["score"] != "") & (score.isna() | ~np.isfinite(score) | (score < 0))
    if bad_score.any():
        report_rows(problems, name, lines[bad_score], "score", "score must be a finite number >= 0 (or blank)")
    if image_ids is not None:
        unknown = ~frame["image_id"].isin(set(image_ids)) & (frame["image_id"] != "")
        if unknown.any():
            report_rows(
                problems, name, lines[unknown], "image_id", "image_id not in the study's manifest", frame["image_id"]
            )
    if label_ids is not None:
        unknown = ~frame["label_id"].isin(set(label_ids)) & (frame["label_id"] != "")
        if unknown.any():
            report_rows(
                problems, name, lines[unknown], "label_id", "label_id not in the study's label set", frame["label_id"]
            )
    if len(problems) > before:
        return None

    frame["rank"] = rank.astype(np.int64)
    frame["score"] = score.astype(np.float64)
    key = ["model", "image_id"]
    dup_rank = frame.duplicated([*key, "rank"], keep="first")
    if dup_rank.any():
        report_rows(problems, name, lines[dup_rank], "rank", "the same rank twice for one model and image")
    dup_label = frame.duplicated([*key, "label_id"], keep="first")
    if dup_label.any():
        report_rows(problems, name, lines[dup_label], "label_id", "the same label twice for one model and image")
    groups = frame.assign(_repeated=frame.duplicated([*key, "rank"], keep=False)).groupby(key, sort=False)
    # A rank given twice makes its own problem; the gaps of the other images are still said.
    gap = (groups["rank"].transform("max") != groups["rank"].transform("size")) & ~groups["_repeated"].transform("any")
    if gap.any():
        report_rows(problems, name, lines[gap], "rank", "ranks of one model and image must be 1..k without gaps")
    if len(problems) > before:
        return None
    return frame.sort_values([*key, "rank"], kind="stable").reset_index(drop=True)

"""Model predictions in either of two CSV layouts, read into the tidy frame.

- tidy: ``model,image_id,rank,label_id,score``, one row per guess (the project's format,
  checked by :func:`study_app.predictions.read_predictions`);
- wide: ``image_id,top1,top2,...,topK``, one row per image, what many evaluation scripts
  write. A wide file holds one model, named by the ``model`` argument or else by the
  file name without extension.

Every problem is reported with file, line and column, all at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError, Problem
from ..predictions import PREDICTION_COLUMNS, read_predictions, report_rows

_TOP = re.compile(r"^top(\d+)$", re.IGNORECASE)


def read_prediction_file(
    path: str | Path,
    model: str | None = None,
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read a tidy or wide predictions CSV into ``model,image_id,rank,label_id,score``.

    Parameters
    ----------
    path : path
        The CSV file.
    model : str, optional
        Wide files: the model's name (default: the file name's stem). Tidy files: keep
        only this model.
    image_ids, label_ids : collections of str, optional
        The study's images and classes; predictions naming others are errors.

    Raises
    ------
    InputFileError
        Listing every problem with its line.
    """
    path = Path(path)
    problems: list[Problem] = []
    header = _header(path, problems)
    if header is None:
        raise InputFileError(problems)
    if set(PREDICTION_COLUMNS) <= set(header):
        frame = read_predictions(path, problems, str(path), image_ids, label_ids)
        if frame is None:
            raise InputFileError(problems)
        if model is not None:
            if model not in set(frame["model"]):
                raise InputFileError([Problem(str(path), f"no model {model!r} in this file; it has {', '.join(sorted(set(frame['model'])))}", field="model")])
            frame = frame[frame["model"] == model].reset_index(drop=True)
        return frame
    tops = sorted((int(m.group(1)), column) for column in header if (m := _TOP.match(column)))
    if "image_id" not in header or not tops:
        raise InputFileError(
            [Problem(str(path), f"header {','.join(header)} is neither tidy ({','.join(PREDICTION_COLUMNS)}) nor wide (image_id,top1,...,topK)", line=1)]
        )
    if [rank for rank, _ in tops] != list(range(1, len(tops) + 1)):
        raise InputFileError([Problem(str(path), f"wide columns must be top1..top{len(tops)} without gaps, found {', '.join(c for _, c in tops)}", line=1)])
    return _read_wide(path, model or path.stem, [column for _, column in tops], image_ids, label_ids)


def read_prediction_files(
    paths: Sequence[str | Path],
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read several prediction files (any layout) into one tidy frame; model names must not repeat."""
    frames = [read_prediction_file(p, None, image_ids, label_ids) for p in paths]
    seen: dict[str, str] = {}
    for path, frame in zip(paths, frames):
        for name in sorted(set(frame["model"])):
            if name in seen:
                raise InputFileError([Problem(str(path), f"model {name!r} is also in {seen[name]}; rename one", field="model")])
            seen[name] = str(path)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(PREDICTION_COLUMNS))


def _header(path: Path, problems: list[Problem]) -> list[str] | None:
    try:
        columns = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    except FileNotFoundError:
        problems.append(Problem(str(path), "predictions file not found"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), f"not UTF-8 text ({exc.reason}); save the file as UTF-8"))
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        problems.append(Problem(str(path), f"cannot parse as CSV: {exc}"))
        return None
    header = [str(c).strip() for c in columns]
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        problems.append(Problem(str(path), f"column(s) named twice in the header: {', '.join(twice)}", line=1))
        return None
    return header


def _read_wide(
    path: Path, model: str, tops: list[str], image_ids: Collection[str] | None, label_ids: Collection[str] | None
) -> pd.DataFrame:
    name = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise InputFileError([Problem(name, f"cannot parse as CSV: {exc}")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda column: column.str.strip())
    lines = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    guesses = frame[tops].to_numpy(dtype=object)
    given = guesses != ""
    problems: list[Problem] = []
    def per_row(values: np.ndarray | list[bool]) -> pd.Series:
        return pd.Series(values, index=frame.index)

    repeated = [len(set(row[row != ""])) < int((row != "").sum()) for row in guesses]
    image_id = frame["image_id"]
    checks = [
        (image_id == "", "image_id", "empty image_id", None),
        (image_id.duplicated(), "image_id", "the same image twice", image_id),
        (per_row(~given.any(axis=1)), tops[0], "no guess for this image", None),
        (per_row((~given[:, :-1] & given[:, 1:]).any(axis=1)), "top", "an empty topN before a filled one; guesses must be top1..topK without gaps", None),
        (per_row(repeated), "top", "the same label twice for one image", None),
    ]
    if image_ids is not None:
        checks.append((~image_id.isin(set(image_ids)) & (image_id != ""), "image_id", "image_id not in the study's manifest", image_id))
    if label_ids is not None:
        unknown = given & ~np.isin(guesses, list(label_ids))
        checks.append((per_row(unknown.any(axis=1)), "top", "label not in the study's label set", None))
    for mask, column, message, values in checks:
        if mask.any():
            report_rows(problems, name, lines[mask], column, message, values)
    if problems:
        raise InputFileError(problems)
    image, rank = np.nonzero(given)
    return pd.DataFrame(
        {"model": model, "image_id": frame["image_id"].to_numpy()[image], "rank": rank + 1,
         "label_id": guesses[image, rank], "score": np.nan}
    ).sort_values(["image_id", "rank"], kind="stable").reset_index(drop=True)

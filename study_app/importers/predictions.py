"""Model predictions in any of three layouts, read into the tidy frame.

- tidy CSV or Parquet: ``model,image_id,rank,label_id[,score]``, one row per guess (the
  project's format, checked by :func:`study_app.io.tidy_predictions.read_predictions`);
- wide CSV or Parquet: ``image_id,top1,top2,...,topK``, one row per image, what many
  evaluation scripts write. A wide file holds one model, named by the ``model`` argument or
  else by the file name without extension;
- ``.npy``: an N x k array of class indices with a list of image ids and a list of class
  ids (:mod:`study_app.importers.index_arrays`).

Whatever the layout, the frame is compact (:func:`study_app.io.tidy_predictions.compact`):
text columns are categoricals, ranks small integers, so 16.75 million rows take about
350 MB. Every problem is reported with file, line and column, all at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.importers.index_arrays import read_index_predictions
from study_app.io.input_files import UnusableInputError, check_input_file, unreadable
from study_app.io.tidy_predictions import (
    REQUIRED_PREDICTION_COLUMNS,
    compact,
    concat_predictions,
    is_parquet,
    read_predictions,
    report_rows,
)

_TOP = re.compile(r"^top(\d+)$", re.IGNORECASE)


def read_prediction_file(
    path: str | Path,
    model: str | None = None,
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
    *,
    image_list: str | Path | None = None,
    class_list: str | Path | None = None,
) -> pd.DataFrame:
    """Read tidy or wide predictions (CSV or Parquet), or a class-index ``.npy``, into
    ``model,image_id,rank,label_id,score`` (a compact frame: see the module's docstring).

    Parameters
    ----------
    path : path
        The CSV or ``.parquet`` file, or an ``.npy`` array of class indices.
    model : str, optional
        Wide files and arrays: the model's name (default: the file name's stem). Tidy
        files: keep only this model.
    image_ids, label_ids : collections of str, optional
        The study's images and classes; predictions naming others are errors.
    image_list, class_list : path, optional
        ``.npy`` arrays only, and needed there: the image ids of the rows and the class ids
        of the indices, one per line.

    Raises
    ------
    InputFileError
        Listing every problem with its line.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if image_list is None or class_list is None:
            raise InputFileError(
                [
                    Problem(
                        str(path),
                        "a class-index array needs the list of its image ids "
                        "and of its class ids (--image-list, --class-list)",
                    )
                ]
            )
        frame = compact(read_index_predictions(path, image_list, class_list, model))
        _check_known(frame, path, image_ids, label_ids)
        return frame
    problems: list[Problem] = []
    header = _header(path, problems)
    if header is None:
        raise InputFileError(problems)
    if set(REQUIRED_PREDICTION_COLUMNS) <= set(header):
        frame = read_predictions(path, problems, str(path), image_ids, label_ids)
        if frame is None:
            raise InputFileError(problems)
        if model is not None:
            models = [str(name) for name in frame["model"].cat.categories]
            if model not in models:
                raise InputFileError(
                    [Problem(str(path), f"no model {model!r} in this file; it has {', '.join(models)}", field="model")]
                )
            frame = compact(frame[frame["model"] == model].reset_index(drop=True))
        return frame
    tops = sorted((int(m.group(1)), column) for column in header if (m := _TOP.match(column)))
    if "image_id" not in header or not tops:
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"header {','.join(header)} is neither tidy "
                    f"({','.join(REQUIRED_PREDICTION_COLUMNS)}[,score]) nor wide (image_id,top1,...,topK)",
                    line=1,
                )
            ]
        )
    if [rank for rank, _ in tops] != list(range(1, len(tops) + 1)):
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"wide columns must be top1..top{len(tops)} without gaps, found {', '.join(c for _, c in tops)}",
                    line=1,
                )
            ]
        )
    return _read_wide(path, model or path.stem, [column for _, column in tops], image_ids, label_ids)


def read_prediction_files(
    paths: Sequence[str | Path],
    image_ids: Collection[str] | None = None,
    label_ids: Collection[str] | None = None,
    *,
    image_list: str | Path | None = None,
    class_list: str | Path | None = None,
) -> pd.DataFrame:
    """Read several prediction files (any layout) into one tidy frame; model names must not repeat."""
    frames = [
        read_prediction_file(p, None, image_ids, label_ids, image_list=image_list, class_list=class_list) for p in paths
    ]
    seen: dict[str, str] = {}
    for path, frame in zip(paths, frames):
        for name in frame["model"].cat.categories:
            if name in seen:
                raise InputFileError(
                    [Problem(str(path), f"model {name!r} is also in {seen[name]}; rename one", field="model")]
                )
            seen[name] = str(path)
    return concat_predictions(frames)


def _header(path: Path, problems: list[Problem]) -> list[str] | None:
    if is_parquet(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            check_input_file(path, "predictions file")
            with open(path, "rb") as handle:  # opened here: pyarrow refuses a path that is not UTF-8
                columns = pq.read_schema(handle).names
        except (OSError, UnusableInputError) as exc:
            problems.append(Problem(str(path), unreadable(exc, "predictions file")))
            return None
        except pa.ArrowException as exc:
            problems.append(Problem(str(path), f"cannot read as a Parquet file: {exc}"))
            return None
        return _unique_header(path, [str(c).strip() for c in columns], problems)
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
    return _unique_header(path, [str(c).strip() for c in columns], problems)


def _unique_header(path: Path, header: list[str], problems: list[Problem]) -> list[str] | None:
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        problems.append(Problem(str(path), f"column(s) named twice in the header: {', '.join(twice)}", line=1))
        return None
    return header


def _read_wide(
    path: Path, model: str, tops: list[str], image_ids: Collection[str] | None, label_ids: Collection[str] | None
) -> pd.DataFrame:
    name = str(path)
    parquet = is_parquet(path)
    try:
        if parquet:
            check_input_file(path, "predictions file")
            with open(path, "rb") as handle:
                table = pd.read_parquet(handle)
            frame = table.astype(str).where(table.notna(), "")  # nulls read as blanks, as in a CSV
        else:
            check_input_file(path, "predictions file")
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (UnusableInputError, OSError) as exc:
        raise InputFileError([Problem(name, unreadable(exc, "predictions file"))]) from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise InputFileError([Problem(name, f"cannot parse as {'Parquet' if parquet else 'CSV'}: {exc}")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda column: column.str.strip())
    guesses = frame[tops].to_numpy(dtype=object)
    given = guesses != ""
    problems: list[Problem] = []
    repeated = [len(set(row[row != ""])) < int((row != "").sum()) for row in guesses]
    image_id = frame["image_id"].to_numpy(dtype=object)
    checks = [
        (image_id == "", "image_id", "empty image_id", None),
        (pd.Series(image_id).duplicated().to_numpy(), "image_id", "the same image twice", image_id),
        (~given.any(axis=1), tops[0], "no guess for this image", None),
        (
            (~given[:, :-1] & given[:, 1:]).any(axis=1),
            "top",
            "an empty topN before a filled one; guesses must be top1..topK without gaps",
            None,
        ),
        (np.asarray(repeated, dtype=bool), "top", "the same label twice for one image", None),
    ]
    if image_ids is not None:
        checks.append(
            (
                ~pd.Index(image_id).isin(set(image_ids)) & (image_id != ""),
                "image_id",
                "image_id not in the study's manifest",
                image_id,
            )
        )
    if label_ids is not None:
        unknown = given & ~np.isin(guesses, list(label_ids))
        checks.append((unknown.any(axis=1), "top", "label not in the study's label set", None))
    for mask, column, message, values in checks:
        if mask.any():
            shown = None if values is None else values.__getitem__
            report_rows(problems, name, np.flatnonzero(mask), column, message, shown, first_line=None if parquet else 2)
    if problems:
        raise InputFileError(problems)
    image, rank = np.nonzero(given)
    return compact(
        pd.DataFrame(
            {
                "model": model,
                "image_id": image_id[image],
                "rank": rank + 1,
                "label_id": guesses[image, rank],
                "score": np.nan,
            }
        )
        .sort_values(["image_id", "rank"], kind="stable")
        .reset_index(drop=True)
    )


def drop_unknown_images(predictions: pd.DataFrame, image_ids: Collection[str]) -> tuple[pd.DataFrame, str]:
    """The predictions of images in ``image_ids`` only, and a note counting the rest ("" if none).

    For ``--unknown-images skip``: a model run on all 50,000 validation images compared with a
    truth that labels fewer of them (re-assessed multi-label truth leaves out 3,163).
    """
    known = predictions["image_id"].isin(set(image_ids))
    if known.all():
        return predictions, ""
    left_out = predictions.loc[~known, ["model", "image_id"]].drop_duplicates()
    per_model = left_out.groupby("model", observed=True).size()
    counts = ", ".join(f"{model} {count:,}" for model, count in per_model.items())
    note = (
        f"--unknown-images skip: {left_out['image_id'].nunique():,} predicted image(s) have no ground truth and were "
        f"left out (images dropped per model: {counts})"
    )
    return compact(predictions[known].reset_index(drop=True)), note


def _check_known(
    frame: pd.DataFrame, path: Path, image_ids: Collection[str] | None, label_ids: Collection[str] | None
) -> None:
    """Images and classes of an array that the study does not have, as for CSV files."""
    problems: list[Problem] = []
    for column, known, what in (
        ("image_id", image_ids, "image_id not in the study's manifest"),
        ("label_id", label_ids, "label_id not in the study's label set"),
    ):
        if known is not None:
            unknown = sorted(set(frame[column]) - set(known))
            if unknown:
                problems.append(Problem(str(path), f"{len(unknown):,} {what}, e.g. {unknown[0]!r}", field=column))
    if problems:
        raise InputFileError(problems)

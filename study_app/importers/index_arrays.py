"""Model predictions as an N x k array of class indices (``.npy``), with the lists that name them.

Published prediction dumps (ImageNetV2's, model zoos' evaluation outputs) are often a
NumPy array with one row per image and the indices of the top-k classes, best first,
and no scores. Two text files give the array its meaning, one id per line: the image ids
in row order and the class ids in index order (for ILSVRC-2012, the 1000 WordNet ids in
the order the model's output layer uses). The array is read with ``allow_pickle=False``:
an ``.npy`` from elsewhere never runs code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.io.input_files import UnusableInputError, check_input_file, read_input_bytes


def read_index_predictions(
    path: str | Path, image_list: str | Path, class_list: str | Path, model: str | None = None
) -> pd.DataFrame:
    """Read ``path`` (N x k integer class indices, or N indices) into ``model,image_id,rank,label_id,score``.

    Parameters
    ----------
    path : path
        The ``.npy`` array; row i holds the class indices of image i, best first.
    image_list, class_list : path
        Text files, one id per line: the N image ids in row order, the class ids in index order.
    model : str, optional
        The model's name (default: the array file's name without ``.npy``).

    Raises
    ------
    InputFileError
        Naming the file and what is wrong (shape, dtype, an index out of range, a class
        given twice for one image, an id list with blanks or repeats).
    """
    path = Path(path)
    images = _id_list(Path(image_list), "image ids")
    classes = _id_list(Path(class_list), "class ids")
    array = _array(path)
    if array.ndim == 1:
        array = array[:, None]
    if len(array) != len(images):
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"{len(array):,} rows, but {image_list} lists "
                    f"{len(images):,} image ids; they must match row for row",
                )
            ]
        )
    out_of_range = (array < 0) | (array >= len(classes))
    if out_of_range.any():
        row, column = (int(v) for v in np.argwhere(out_of_range)[0])
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"{int(out_of_range.sum()):,} class index(es) outside 0..{len(classes) - 1} "
                    f"(the {len(classes)} lines of {class_list}), first at row {row} (image "
                    f"{images[row]!r}), column {column}: {int(array[row, column])}",
                )
            ]
        )
    ordered = np.sort(array, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"{int(repeated.sum()):,} row(s) give one class twice, first row {row} (image {images[row]!r})",
                )
            ]
        )
    n, k = array.shape
    return (
        pd.DataFrame(
            {
                "model": model or path.name.removesuffix(".npy"),
                "image_id": np.repeat(np.asarray(images, dtype=object), k),
                "rank": np.tile(np.arange(1, k + 1), n),
                "label_id": np.asarray(classes, dtype=object)[array.ravel()],
                "score": np.nan,
            }
        )
        .sort_values(["image_id", "rank"], kind="stable")
        .reset_index(drop=True)
    )


def _array(path: Path) -> np.ndarray:
    try:
        check_input_file(path, "class-index array")
        array = np.load(path, allow_pickle=False, mmap_mode=None)
    except FileNotFoundError:
        raise InputFileError([Problem(str(path), "predictions file not found")]) from None
    except UnusableInputError as exc:
        raise InputFileError([Problem(str(path), str(exc))]) from None
    except (ValueError, OSError) as exc:  # not an .npy, or an object array (needs pickle)
        raise InputFileError(
            [Problem(str(path), f"cannot read as a NumPy .npy array of class indices: {exc}")]
        ) from None
    if not np.issubdtype(array.dtype, np.integer) or array.ndim not in (1, 2) or array.size == 0:
        raise InputFileError(
            [
                Problem(
                    str(path),
                    "expected a non-empty N x k array of integer class "
                    f"indices, found shape {array.shape} of {array.dtype}",
                )
            ]
        )
    return array.astype(np.int64, copy=False)


def _id_list(path: Path, what: str) -> list[str]:
    try:
        text = read_input_bytes(path, "id list").decode("utf-8-sig")
    except FileNotFoundError:
        raise InputFileError([Problem(str(path), f"list of {what} not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputFileError([Problem(str(path), f"not UTF-8 text ({exc.reason})")]) from None
    except (UnusableInputError, OSError) as exc:
        raise InputFileError([Problem(str(path), str(exc))]) from None
    ids = [line.strip() for line in text.splitlines()]
    while ids and not ids[-1]:
        ids.pop()
    problems = [
        Problem(str(path), f"empty line: one of the {what} is blank", line=i + 1) for i, v in enumerate(ids) if not v
    ][:10]
    seen: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value and value in seen and len(problems) < 10:
            problems.append(Problem(str(path), f"{value!r} already on line {seen[value]}", line=i + 1))
        seen.setdefault(value, i + 1)
    if not ids:
        problems.append(Problem(str(path), f"no {what}"))
    if problems:
        raise InputFileError(problems)
    return ids

"""Ground truth as one tidy table, whatever it came from.

The table has columns ``image_id, label_id``, one row per valid label: single-label
studies have one row per image, multi-label ground truth (a manifest cell ``a;b``, or
ImageNet "ReaL" relabelling, Beyer et al. 2020) has several. The first row of an image
is its *primary* label, used where one class per image is needed (per-class
breakdowns). Sources: a loaded :class:`~study_app.protocol.study.Study`, a mapping
``image_id -> labels``, a data frame (``image_id,labels`` with ``;``-separated cells, or
``image_id,label_id`` one row per label), or a manifest CSV ``image_id,path,labels,split``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.io.csvfiles import read_csv, split_list
from study_app.protocol.study import Study

TruthSource: TypeAlias = Study | Mapping[str, Iterable[str]] | pd.DataFrame | str | Path


def truth_table(source: TruthSource) -> pd.DataFrame:
    """Normalise ground truth to ``image_id, label_id`` rows (primary label first).

    Parameters
    ----------
    source : Study, mapping, DataFrame, or path of a manifest CSV
        Where the ground truth comes from (see the module docstring).

    Returns
    -------
    DataFrame
        Columns ``image_id, label_id``; every image has at least one row.

    Raises
    ------
    InputFileError
        A manifest that cannot be read, lacks ``image_id``/``labels``, lists an image
        twice, or gives an image no label.
    """
    if isinstance(source, Study):
        pairs = [(i, record.labels) for i, record in source.images.items()]
        return _from_pairs(pairs, source.name)
    if isinstance(source, (str, Path)):
        return _read_manifest(Path(source))
    if isinstance(source, pd.DataFrame):
        return _from_frame(source)
    return _from_pairs([(str(i), tuple(labels)) for i, labels in source.items()], "ground truth")


def _from_pairs(pairs: list[tuple[str, tuple[str, ...]]], display: str) -> pd.DataFrame:
    unlabelled = [i for i, labels in pairs if not labels]
    if unlabelled:
        raise InputFileError(
            [
                Problem(
                    display,
                    f"{len(unlabelled)} image(s) have no ground-truth label, e.g. {unlabelled[0]!r}",
                    field="labels",
                )
            ]
        )
    rows = [(image_id, label) for image_id, labels in pairs for label in labels]
    return pd.DataFrame(rows, columns=["image_id", "label_id"])


def _from_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if {"image_id", "label_id"} <= set(frame.columns):
        table = frame[["image_id", "label_id"]].astype(str)
        return table[table["label_id"] != ""].drop_duplicates().reset_index(drop=True)
    if {"image_id", "labels"} <= set(frame.columns):
        if frame["image_id"].duplicated().any():
            first = frame.loc[frame["image_id"].duplicated(), "image_id"].iloc[0]
            raise InputFileError([Problem("ground truth", f"image {first!r} is listed twice", field="image_id")])
        pairs = [(str(i), tuple(split_list(str(cell)))) for i, cell in zip(frame["image_id"], frame["labels"])]
        return _from_pairs(pairs, "ground truth")
    raise InputFileError([Problem("ground truth", "a truth table needs columns image_id and labels (or label_id)")])


def _read_manifest(path: Path) -> pd.DataFrame:
    problems: list[Problem] = []
    rows = read_csv(path, ("image_id", "labels"), problems, str(path))
    pairs: list[tuple[str, tuple[str, ...]]] = []
    seen: dict[str, int] = {}
    for row in rows or []:
        image_id, labels = row.get("image_id"), tuple(split_list(row.get("labels")))
        if not image_id:
            problems.append(Problem(str(path), "empty image_id", line=row.line, field="image_id"))
        elif image_id in seen:
            problems.append(
                Problem(
                    str(path),
                    f"image {image_id!r} already listed on line {seen[image_id]}",
                    line=row.line,
                    field="image_id",
                )
            )
        elif not labels:
            problems.append(
                Problem(str(path), f"image {image_id!r} has no ground-truth label", line=row.line, field="labels")
            )
        else:
            seen[image_id] = row.line
            pairs.append((image_id, labels))
    if problems:
        raise InputFileError(problems)
    return _from_pairs(pairs, str(path))

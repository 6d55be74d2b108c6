"""Human answers from a CSV or Parquet file, for comparisons without a results store.

A full export of ``python main.py export`` is read by
:func:`study_app.store.read_export`. Tables made by other tools may carry only the public
columns (``annotator, image_id, rank, label_id`` and optionally ``study, session, phase,
trial, rt_ms, outcome``, ...); what is missing is filled in: a trial is one annotator's
rows for one image in one phase (and session), a row without a label is a non-answer
(outcome ``skip`` unless given), ``rt_ms`` is NaN, nothing is superseded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.store.export import COLUMNS, LATER_COLUMNS, read_export

REQUIRED = ("annotator", "image_id", "label_id")


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read a tidy answers table into the columns and dtypes of :func:`study_app.store.answers_frame`."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return read_export(path)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError([Problem(str(path), "answers file not found")]) from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise InputFileError([Problem(str(path), f"cannot read as a UTF-8 CSV: {exc}")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if set(COLUMNS) - set(LATER_COLUMNS) <= set(frame.columns):  # an export, of this or an older version
        return read_export(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputFileError(
            [
                Problem(
                    str(path),
                    f"missing column(s) {', '.join(missing)}; an answers table needs at least {', '.join(REQUIRED)}",
                    line=1,
                )
            ]
        )
    return _completed(frame, str(path))


def _completed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    labelled = frame["label_id"].str.strip() != ""
    defaults = {
        "study": "",
        "session": "",
        "phase": "",
        "shown_at": "",
        "answered_at": "",
        "flags": "",
        "flag_note": "",
        "image_sha256": "",
        "supersedes": "",
        "condition": "",
        "front_end": "",  # another tool's answers: not known which
    }
    table = frame.assign(**{c: v for c, v in defaults.items() if c not in frame.columns})
    rank = (
        pd.to_numeric(table["rank"].replace("", None), errors="coerce")
        if "rank" in table.columns
        else pd.Series(np.where(labelled, 1.0, np.nan))
    )
    bad = (labelled & rank.isna()) | (rank.notna() & ((rank < 1) | (rank != rank.round())))
    if bad.any():
        raise InputFileError(
            [
                Problem(
                    name,
                    "rank must be a whole number >= 1 on rows with a label",
                    line=int(np.flatnonzero(bad)[0]) + 2,
                    field="rank",
                )
            ]
        )
    trial_key = table["annotator"] + "\x1f" + table["session"] + "\x1f" + table["phase"] + "\x1f" + table["image_id"]
    trial_code = pd.Series(pd.factorize(trial_key)[0], index=table.index)
    position = trial_code.groupby(table["annotator"]).rank(method="dense") - 1  # order of first appearance
    given_trial = pd.to_numeric(table["trial"], errors="coerce") if "trial" in table.columns else None
    outcome = (
        table["outcome"]
        if "outcome" in table.columns
        else pd.Series(np.where(labelled, "answer", "skip"), index=table.index)
    )
    return table.assign(
        rank=rank.astype("Int64"),
        trial=(position if given_trial is None else given_trial.fillna(position)).astype("int64"),
        rt_ms=pd.to_numeric(table["rt_ms"], errors="coerce") if "rt_ms" in table.columns else np.nan,
        presented_ms=np.nan,
        outcome=outcome,
        trial_uuid=[f"trial-{code}" for code in trial_code],
        superseded=False,
        pilot=False,
        interrupted=False,
        paused=False,
        exposures=pd.Series(pd.NA, index=table.index, dtype="Int64"),  # not recorded by another tool
        group=pd.to_numeric(table["group"], errors="coerce").astype("Int64") if "group" in table.columns else pd.NA,
    )[COLUMNS]

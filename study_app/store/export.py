"""The tidy answers table: as a DataFrame for the statistics, as CSV/Parquet files, and back.

One row per (trial, rank); a trial without labels (not sure, timeout, skip) is one row
with an empty rank. Columns, in order: ``study, annotator, session, phase, trial,
image_id, rank, label_id, rt_ms, shown_at, answered_at, flags`` (the public format of
DESIGN.md), then ``outcome, flag_note, image_sha256, presented_ms, trial_uuid,
supersedes, superseded``. A run manifest (JSON beside the table) carries the app version,
the protocol hashes with each image's SHA-256, and the sessions, which is also what lets
:func:`import_answers` rebuild a store from an export.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..csv_safety import safe_csv_text, unescape_frame
from ..errors import StoreError
from ..output_guard import replacing
from ..responses import utc_now
from .db import write
from .metadata import assignment as stored_assignment
from .metadata import snapshot, trial_order
from .results_store import ResultsStore, child_uuid, key_uuid

COLUMNS = [
    "study",
    "annotator",
    "session",
    "phase",
    "trial",
    "image_id",
    "rank",
    "label_id",
    "rt_ms",
    "shown_at",
    "answered_at",
    "flags",
    "outcome",
    "flag_note",
    "image_sha256",
    "presented_ms",
    "trial_uuid",
    "supersedes",
    "superseded",
    "pilot",
    "interrupted",
    "group",
]
#: Columns that exports of older versions lack (read as False / empty).
LATER_COLUMNS = ("pilot", "interrupted", "group")
FORMATS = ("csv", "parquet")

#: Events that mean the annotator's attention left the window during a trial.
ATTENTION_EVENTS = ("focus_lost", "minimized")

_QUERY = """
WITH flag_text AS (
    SELECT trial_uuid, group_concat(reason, ';') AS flags, group_concat(note, ';') AS flag_note
    FROM flags GROUP BY trial_uuid
), revised AS (
    SELECT DISTINCT supersedes AS uuid FROM trials WHERE supersedes IS NOT NULL
), interruptions AS (
    SELECT DISTINCT session_uuid, phase, trial_index FROM events WHERE kind IN ({attention})
)
SELECT st.name AS study, s.annotator_id AS annotator, s.uuid AS session, t.phase, t.trial_index AS trial,
       t.image_id, a.rank, COALESCE(a.label_id, '') AS label_id, t.rt_ms, t.shown_at, t.answered_at,
       COALESCE(f.flags, '') AS flags, t.outcome, COALESCE(f.flag_note, '') AS flag_note,
       t.image_sha256, t.presented_ms, t.uuid AS trial_uuid, COALESCE(t.supersedes, '') AS supersedes,
       r.uuid IS NOT NULL AS superseded, s.pilot, i.session_uuid IS NOT NULL AS interrupted, s.assignment
FROM trials t
JOIN sessions s ON s.uuid = t.session_uuid
JOIN studies st ON st.uuid = s.study_uuid
LEFT JOIN answers a ON a.trial_uuid = t.uuid
LEFT JOIN flag_text f ON f.trial_uuid = t.uuid
LEFT JOIN revised r ON r.uuid = t.uuid
LEFT JOIN interruptions i ON i.session_uuid = t.session_uuid AND i.phase = t.phase AND i.trial_index = t.trial_index
{where}
ORDER BY s.annotator_id, s.started_at, s.uuid, t.answered_at, t.rowid, a.rank
"""


def answers_frame(store: ResultsStore, include_superseded: bool = False, session: str | None = None) -> pd.DataFrame:
    """Every stored answer (or one session's) as the tidy table; revised trials only if asked."""
    conditions = ([] if include_superseded else ["r.uuid IS NULL"]) + ([] if session is None else ["s.uuid = ?"])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    attention = ", ".join(f"'{kind}'" for kind in ATTENTION_EVENTS)
    params = () if session is None else (session,)
    query = _QUERY.format(where=where, attention=attention)
    if isinstance(store.conn, sqlite3.Connection):
        frame = pd.read_sql_query(query, store.conn, params=params)
    else:  # a server connection (postgres.py): pandas reads only SQLite connections without SQLAlchemy
        cursor = store.conn.execute(query, params)
        frame = pd.DataFrame.from_records(cursor.fetchall(), columns=[d[0] for d in cursor.description], coerce_float=True)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["trial"] = frame["trial"].astype("int64")
    frame["superseded"] = frame["superseded"].astype(bool)
    for column in ("pilot", "interrupted"):
        frame[column] = frame[column].astype(bool)
    frame["group"] = _groups(frame.pop("assignment"), frame["session"], store.path)
    return frame[COLUMNS]


def _groups(assignments: pd.Series, sessions: pd.Series, where: Path | str) -> pd.Series:
    """The counterbalancing group of each row's session (empty where the study has no design)."""
    stored = pd.DataFrame({"session": sessions, "assignment": assignments}).dropna().drop_duplicates("session")
    groups = {session: stored_assignment(text, session, where).group for session, text in stored.itertuples(index=False)}
    return sessions.map(groups).astype("Int64")


def run_manifest(store: ResultsStore, include_machine: bool = False) -> dict:
    """Provenance of an export: program, protocols (with image hashes) and sessions (their
    computers' names only with ``include_machine``)."""
    studies = [
        {"uuid": u, "name": n, "version": v, "protocol_hash": h, "created_at": c, "snapshot": snapshot(snap, u, store.path)}
        for u, n, v, h, snap, c in store.conn.execute(
            "SELECT uuid, name, version, protocol_hash, snapshot, created_at FROM studies ORDER BY created_at, uuid"
        )
    ]
    columns = [
        "uuid", "study_uuid", "annotator_id", "protocol_hash", "app_version", "machine", "started_at", "ended_at", "trial_order", "pilot",
        "assignment",
    ]
    sessions = [
        dict(zip(columns, row))
        for row in store.conn.execute(f"SELECT {', '.join(columns)} FROM sessions ORDER BY started_at, uuid")
    ]
    for session in sessions:
        session["trial_order"] = [list(trial) for trial in trial_order(session["trial_order"], session["uuid"], store.path)]
        assignment = stored_assignment(session["assignment"], session["uuid"], store.path)
        session["assignment"] = json.loads(assignment.to_json()) if assignment else None
        if not include_machine:
            session["machine"] = ""
    return {
        "format": "study-app answers export 1",
        "app_version": __version__,
        "exported_at": utc_now(),
        "store": store.path.name,
        "studies": studies,
        "sessions": sessions,
    }


def manifest_path(table_path: Path) -> Path:
    return table_path.with_name(table_path.stem + ".manifest.json")


def export_answers(store: ResultsStore, out: Path, fmt: str = "csv", include_machine: bool = False) -> Path:
    """Write the answers table (all rows, revisions marked) and its run manifest.

    Both files are written completely before either replaces its predecessor, so a full
    disk or a crash leaves the previous export pair whole (:mod:`study_app.output_guard`).
    The manifest names the computer of each session only with ``include_machine``: host
    names often carry a person's name, and exports travel further than the store.
    """
    if fmt not in FORMATS:
        raise StoreError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    frame = answers_frame(store, include_superseded=True)
    manifest = json.dumps(run_manifest(store, include_machine), indent=1, sort_keys=True)
    with replacing(out, manifest_path(out)) as (table, manifest_file):
        if fmt == "csv":
            table.write_text(safe_csv_text(frame), encoding="utf-8", newline="")
        else:
            try:
                frame.to_parquet(table, index=False)
            except ImportError:
                raise StoreError("Parquet export needs pyarrow: pip install -e '.[parquet]'") from None
        manifest_file.write_text(manifest, encoding="utf-8")
    return out


def read_export(path: Path) -> pd.DataFrame:
    """Read an exported table (CSV or Parquet) back into the dtypes of :func:`answers_frame`.

    A bad cell is a :class:`StoreError` naming the file, line and column.
    """
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = unescape_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
    except FileNotFoundError:
        raise StoreError(f"{path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise StoreError(f"{path}: cannot read this table ({exc})") from None
    if "group" not in frame.columns:  # an export of an older version
        frame["group"] = pd.Series(pd.NA, index=frame.index, dtype="Int64") if path.suffix == ".parquet" else ""
    for column in ("pilot", "interrupted"):  # absent from exports of older versions
        if column not in frame.columns:
            frame[column] = False if path.suffix == ".parquet" else "False"
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: not an answers export (missing columns {', '.join(missing)})")
    if path.suffix != ".parquet":
        frame["trial"] = _numbers(frame, "trial", path, whole=True, required=True).astype("int64")
        frame["rank"] = _numbers(frame, "rank", path, whole=True).astype("Int64")
        for column in ("rt_ms", "presented_ms"):
            frame[column] = _numbers(frame, column, path).astype(float)
        frame["group"] = _numbers(frame, "group", path, whole=True).astype("Int64")
        for column in ("superseded", "pilot", "interrupted"):
            flags = frame[column].map({"True": True, "False": False})
            _refuse_first_bad(frame, column, flags.isna(), path, "True or False")
            frame[column] = flags.astype(bool)
    return frame[COLUMNS]


def _numbers(frame: pd.DataFrame, column: str, path: Path, whole: bool = False, required: bool = False) -> pd.Series:
    """A text column as numbers (empty cells missing unless ``required``); the first bad cell is an error."""
    text = frame[column].astype(str)
    numbers = pd.to_numeric(text.replace("", None), errors="coerce")
    bad = (numbers.isna() & ((text != "") | required)) | (numbers.notna() & ~np.isfinite(numbers.astype(float)))
    bad |= whole & numbers.notna() & (numbers % 1 != 0)
    _refuse_first_bad(frame, column, bad, path, "a whole number" if whole else "a number")
    return numbers


def _refuse_first_bad(frame: pd.DataFrame, column: str, bad: pd.Series, path: Path, expected: str) -> None:
    if bad.any():
        row = int(bad.to_numpy().argmax())
        value = frame[column].iloc[row]
        raise StoreError(f"{path}:{row + 2} [{column}]: {value!r} is not {expected}")  # line 1 is the header


def load_export(table_path: Path) -> tuple[pd.DataFrame, dict]:
    """An export and its run manifest, both checked, before anything is written anywhere."""
    frame = read_export(table_path)
    try:
        manifest = json.loads(manifest_path(table_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{manifest_path(table_path)}: cannot read the run manifest of this export ({exc})") from None
    if not isinstance(manifest, dict) or not {"studies", "sessions"} <= set(manifest):
        raise StoreError(f"{manifest_path(table_path)}: not the run manifest of an answers export (no studies or sessions)")
    return frame, manifest


def import_answers(store: ResultsStore, table_path: Path) -> int:
    """Rebuild studies, sessions, trials, answers and flags from an export; returns trials added.

    Rows keep their UUIDs, so importing twice (or merging with the original store)
    adds nothing.
    """
    return import_loaded(store, *load_export(table_path))


def import_loaded(store: ResultsStore, frame: pd.DataFrame, manifest: dict) -> int:
    """:func:`import_answers` of an export already read by :func:`load_export`."""
    before = store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    with write(store.conn) as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        for s in manifest["studies"]:
            conn.execute(
                "INSERT OR IGNORE INTO studies(uuid, name, version, protocol_hash, snapshot, created_at) VALUES (?,?,?,?,?,?)",
                (s["uuid"], s["name"], s["version"], s["protocol_hash"], json.dumps(s["snapshot"]), s["created_at"]),
            )
        for s in manifest["sessions"]:
            conn.execute(
                "INSERT OR IGNORE INTO annotators(uuid, annotator_id, created_at) VALUES (?,?,?)",
                (key_uuid("annotator", s["annotator_id"]), s["annotator_id"], s["started_at"]),
            )
            conn.execute(
                "INSERT OR IGNORE INTO sessions(uuid, study_uuid, annotator_id, protocol_hash, app_version, machine, "
                "started_at, ended_at, trial_order, pilot, assignment) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    s["uuid"], s["study_uuid"], s["annotator_id"], s["protocol_hash"], s["app_version"],
                    s["machine"], s["started_at"], s["ended_at"], json.dumps(s["trial_order"]), s.get("pilot", 0),
                    json.dumps(s["assignment"], sort_keys=True) if s.get("assignment") else None,
                ),
            )
        for trial_uuid, rows in frame.groupby("trial_uuid", sort=False):
            first = rows.iloc[0]
            conn.execute(
                "INSERT OR IGNORE INTO trials(uuid, session_uuid, phase, trial_index, image_id, image_sha256, outcome, "
                "shown_at, answered_at, rt_ms, presented_ms, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    trial_uuid, first["session"], first["phase"], int(first["trial"]), first["image_id"],
                    first["image_sha256"], first["outcome"], first["shown_at"], first["answered_at"],
                    float(first["rt_ms"]), None if pd.isna(first["presented_ms"]) else float(first["presented_ms"]),
                    first["supersedes"] or None,
                ),
            )
            for _, row in rows.dropna(subset=["rank"]).iterrows():
                conn.execute(
                    "INSERT OR IGNORE INTO answers(uuid, trial_uuid, rank, label_id) VALUES (?,?,?,?)",
                    (child_uuid(trial_uuid, f"rank{int(row['rank'])}"), trial_uuid, int(row["rank"]), row["label_id"]),
                )
            if first["flags"]:
                conn.execute(
                    "INSERT OR IGNORE INTO flags(uuid, trial_uuid, reason, note) VALUES (?,?,?,?)",
                    (child_uuid(trial_uuid, "flag"), trial_uuid, first["flags"], first["flag_note"]),
                )
    return store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] - before

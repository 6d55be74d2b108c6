"""The tidy answers table: as a DataFrame for the statistics, as CSV/Parquet files, and back.

One row per (trial, rank); a trial without labels (not sure, none of these, skip, a
timeout before any guess) is one row with an empty rank. A timeout's rows hold the guesses
chosen before the deadline; whether they are scored is the study's ``score_timeout_guesses``
(protocol/correctness.py), applied by the rater table. Columns, in order: ``study, annotator, session, phase, trial,
image_id, rank, label_id, rt_ms, shown_at, answered_at, flags`` (the public format of
DESIGN.md), then ``outcome, flag_note, image_sha256, presented_ms, trial_uuid,
supersedes, superseded, pilot, interrupted, paused, exposures, group, condition, front_end``
(``desktop`` or ``web``: what the session was annotated in), then the manifest's attribute
columns (e.g. ``source_image_id``) of the studies that have them. A run manifest (JSON
beside the table) carries the app version, the protocol hashes with each image's SHA-256,
and the sessions, which is also what lets :func:`import_answers`
rebuild a store from an export.

An export builds the table in Arrow (:func:`answers_table`: the trials and the answers read
in chunks and joined by Arrow and NumPy) and writes CSV or Parquet from it with pyarrow; the
statistics read the same rows as a pandas frame (:func:`answers_frame`).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from study_app.errors import Problem, StoreError
from study_app.io.csv_safety import unescape_frame, write_safe_csv
from study_app.io.output_guard import replacing
from study_app.protocol.responses import utc_now
from study_app.store.db import write
from study_app.store.export_check import SESSION_FIELDS, manifest_problems, row_problem, session_kinds, table_problems
from study_app.store.merge import merge_into
from study_app.store.metadata import MANIFEST_DEPTH, assignment as stored_assignment, decode_json, snapshot, trial_order
from study_app.store.results_store import ResultsStore, child_uuid, key_uuid
from study_app.version import __version__

if TYPE_CHECKING:
    import pyarrow as pa

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
    "paused",
    "exposures",
    "group",
    "condition",
    "front_end",
]
#: True/False columns that exports of older versions lack (read as False).
LATER_FLAGS = ("pilot", "interrupted", "paused")
#: Columns that exports of older versions lack (read as False / empty).
LATER_COLUMNS = (*LATER_FLAGS, "exposures", "group", "condition", "front_end")
#: Prefix of a manifest attribute column whose name is already an export column (e.g. ``group``).
ATTRIBUTE_PREFIX = "manifest_"
FORMATS = ("csv", "parquet")
#: A session entry of the run manifest, as written and as staged back into a store: columns of ``sessions``.
_MANIFEST_SESSION_COLUMNS = (*SESSION_FIELDS, "pilot", "assignment", "front_end")
#: Problems listed in one refusal of a table (the count says how many more there are).
MAX_LISTED = 100

#: Events that mean the annotator's attention left the window during a trial.
ATTENTION_EVENTS = ("focus_lost", "minimized", "visibility_hidden")  # the last: a browser tab hidden

_TRIAL_PARTS = """
WITH flag_text AS (
    SELECT trial_uuid, group_concat(reason, ';') AS flags, group_concat(note, ';') AS flag_note
    FROM flags GROUP BY trial_uuid
), revised AS (
    SELECT DISTINCT supersedes AS uuid FROM trials WHERE supersedes IS NOT NULL
), interruptions AS (
    SELECT DISTINCT session_uuid, phase, trial_index FROM events WHERE kind IN ({attention})
), pauses AS (
    SELECT session_uuid, phase, trial_index, SUM(CASE WHEN kind = 'pause' THEN 1 ELSE 0 END) AS pauses,
           SUM(CASE WHEN kind = 'exposure' THEN 1 ELSE 0 END) AS repeated
    FROM events WHERE kind IN ('pause', 'exposure') GROUP BY session_uuid, phase, trial_index
)
SELECT st.name AS study, s.annotator_id AS annotator, s.uuid AS session, t.phase, t.trial_index AS trial,
       t.image_id, {answer_columns}t.rt_ms, t.shown_at, t.answered_at,
       COALESCE(f.flags, '') AS flags, t.outcome, COALESCE(f.flag_note, '') AS flag_note,
       t.image_sha256, t.presented_ms, t.uuid AS trial_uuid, COALESCE(t.supersedes, '') AS supersedes,
       CASE WHEN r.uuid IS NULL THEN 0 ELSE 1 END AS superseded, s.pilot,
       CASE WHEN i.session_uuid IS NULL THEN 0 ELSE 1 END AS interrupted,
       CASE WHEN COALESCE(p.pauses, 0) > 0 THEN 1 ELSE 0 END AS paused,
       CASE WHEN t.outcome = 'skip' THEN 0 ELSE 1 + COALESCE(p.repeated, 0) END AS exposures, s.assignment,
       s.study_uuid, s.front_end
FROM trials t
JOIN sessions s ON s.uuid = t.session_uuid
JOIN studies st ON st.uuid = s.study_uuid
{answer_join}LEFT JOIN flag_text f ON f.trial_uuid = t.uuid
LEFT JOIN revised r ON r.uuid = t.uuid
LEFT JOIN interruptions i ON i.session_uuid = t.session_uuid AND i.phase = t.phase AND i.trial_index = t.trial_index
LEFT JOIN pauses p ON p.session_uuid = t.session_uuid AND p.phase = t.phase AND p.trial_index = t.trial_index
{where}
ORDER BY s.annotator_id, s.started_at, s.uuid, t.answered_at, t.rowid{rank_order}
"""
_ATTENTION = ", ".join(f"'{kind}'" for kind in ATTENTION_EVENTS)
#: One row per (trial, rank): what :func:`answers_frame` reads.
_QUERY = _TRIAL_PARTS.replace("{attention}", _ATTENTION).format(
    answer_columns="a.rank, COALESCE(a.label_id, '') AS label_id, ",
    answer_join="LEFT JOIN answers a ON a.trial_uuid = t.uuid\n",
    rank_order=", a.rank",
    where="{where}",
)
#: One row per trial, in the table's order: :func:`answers_table` adds the answers to it in Arrow.
_TRIALS_QUERY = _TRIAL_PARTS.replace("{attention}", _ATTENTION).format(
    answer_columns="", answer_join="", rank_order="", where=""
)


def answers_frame(store: ResultsStore, include_superseded: bool = False, session: str | None = None) -> pd.DataFrame:
    """Every stored answer (or one session's) as the tidy table; revised trials only if asked."""
    conditions = ([] if include_superseded else ["r.uuid IS NULL"]) + ([] if session is None else ["s.uuid = ?"])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    params = () if session is None else (session,)
    query = _QUERY.format(where=where)
    if isinstance(store.conn, sqlite3.Connection):
        frame = pd.read_sql_query(query, store.conn, params=params)
    else:  # a server connection (postgres.py): pandas reads only SQLite connections without SQLAlchemy
        cursor = store.conn.execute(query, params)
        frame = pd.DataFrame.from_records(
            cursor.fetchall(), columns=[d[0] for d in cursor.description], coerce_float=True
        )
    frame["rank"] = frame["rank"].astype("Int64")
    frame["trial"] = frame["trial"].astype("int64")
    for column in ("superseded", *LATER_FLAGS):
        frame[column] = frame[column].astype(bool)
    frame["exposures"] = frame["exposures"].astype("int64")
    frame["group"] = _groups(frame.pop("assignment"), frame["session"], store.path)
    attributes = _stimulus_columns(store, frame.pop("study_uuid"), frame["image_id"])
    frame["condition"] = attributes.pop("condition")
    return pd.concat([frame[COLUMNS], attributes], axis=1)


#: Arrow types of the columns of ``_TRIALS_QUERY`` and of the answers that :func:`answers_table`
#: reads ("bool": read as the 0/1 the query gives on SQLite and on a server alike, then cast).
_TRIAL_TYPES = {
    **dict.fromkeys(
        ("study", "annotator", "session", "phase", "image_id", "shown_at", "answered_at", "flags", "outcome"),
        "string",
    ),
    **dict.fromkeys(
        ("flag_note", "image_sha256", "trial_uuid", "supersedes", "assignment", "study_uuid", "front_end"), "string"
    ),
    **dict.fromkeys(("trial", "exposures"), "int64"),
    **dict.fromkeys(("rt_ms", "presented_ms"), "double"),
    **dict.fromkeys(("superseded", "pilot", "interrupted", "paused"), "bool"),
}
_ANSWER_TYPES = {"trial_uuid": "string", "rank": "int64", "label_id": "string"}
#: Rows fetched from the store at a time: Python holds one chunk's values, Arrow the whole table.
CHUNK_ROWS = 50_000


def _read_arrow(conn, query: str, types: dict[str, str]) -> pa.Table:
    """A query's rows as an Arrow table, read in chunks of :data:`CHUNK_ROWS` (any DB-API connection).

    Each chunk of row tuples becomes one Arrow struct array, converted in C: taking the tuples
    apart column by column in Python costs ten times as much.
    """
    import pyarrow as pa

    cursor = conn.execute(query)
    names = [d[0] for d in cursor.description]
    read_as = pa.struct([(n, pa.int64() if types[n] == "bool" else pa.type_for_alias(types[n])) for n in names])
    chunks = []
    while rows := cursor.fetchmany(CHUNK_ROWS):
        chunks.append(pa.array(rows, type=read_as))
    columns = pa.chunked_array(chunks, type=read_as).combine_chunks().flatten()
    return pa.table(
        [column.cast(pa.bool_()) if types[n] == "bool" else column for n, column in zip(names, columns)], names=names
    )


def answers_table(store: ResultsStore) -> pa.Table:
    """Every stored answer, revised ones included (what an export writes), as an Arrow table with
    the columns and rows of ``answers_frame(store, include_superseded=True)``.

    The trials (one row each, in the table's order, from the same SQL as :func:`answers_frame`)
    and the answers are read apart, in chunks, and joined by Arrow and NumPy: a trial's columns
    pass through Python once, not once per ranked label, and nothing is held as a Python object
    per row (a million answers: a few seconds where the frame takes several times as long).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    trials = _read_arrow(store.conn, _TRIALS_QUERY, _TRIAL_TYPES)
    answers = _read_arrow(store.conn, "SELECT trial_uuid, rank, label_id FROM answers", _ANSWER_TYPES)
    position = pc.index_in(answers["trial_uuid"], value_set=trials["trial_uuid"]).fill_null(-1).to_numpy()
    kept = position >= 0  # an answer without its trial (a damaged store) has no row, as in the frame's join
    position, ranks = position[kept], answers["rank"].to_numpy()[kept]
    labels = pa.concat_arrays([*answers["label_id"].filter(pa.array(kept)).chunks, pa.array([""])])
    unanswered = np.flatnonzero(np.bincount(position, minlength=trials.num_rows) == 0)  # one row, no rank
    rows = np.concatenate([position, unanswered])
    order = np.lexsort((np.concatenate([ranks, np.zeros(len(unanswered), dtype=ranks.dtype)]), rows))
    answered = order < len(position)
    answer = np.where(answered, order, len(position))  # the "" after the labels for a trial without any

    columns = {name: trials[name] for name in COLUMNS if name in trials.column_names}
    distinct = trials.select(["session", "assignment"]).group_by(["session", "assignment"]).aggregate([])
    groups = _session_groups(zip(distinct["session"].to_pylist(), distinct["assignment"].to_pylist()), store.path)
    columns["group"] = pc.take(
        pa.array(list(groups.values()), pa.int64()),
        pc.index_in(trials["session"], value_set=pa.array(list(groups), pa.string())),
    )
    study_uuids = trials["study_uuid"].to_pylist()
    entries, names = _stimulus_entries(store, dict.fromkeys(study_uuids))
    if entries:
        values = _stimulus_values(entries, names, study_uuids, trials["image_id"].to_pylist())
        columns |= {name: pa.array(column, pa.string()) for name, column in values.items()}
    else:
        columns["condition"] = pa.array([""] * trials.num_rows, pa.string())
    table = pa.table(columns).take(rows[order])
    table = table.append_column("rank", pa.array(np.concatenate([ranks, [0]])[answer], mask=~answered))
    table = table.append_column("label_id", labels.take(answer))
    return table.select(COLUMNS + [name for name in table.column_names if name not in COLUMNS])


def _stimulus_entries(store: ResultsStore, study_uuids: Iterable[str]) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """The protocol snapshot's entry of each (study, image) with a condition or attributes, and the
    attribute names in the order first met (the columns after :data:`COLUMNS`).

    Looked up, not stored per trial: the snapshot has held every image of the protocol since
    the first store, so a store written before conditions existed is read unchanged (its
    snapshot has no conditions: "" everywhere), and nothing about a trial is stored twice.
    """
    entries: dict[tuple[str, str], dict] = {}
    names: dict[str, None] = {}
    for study_uuid in study_uuids:
        row = store.conn.execute("SELECT snapshot FROM studies WHERE uuid = ?", (study_uuid,)).fetchone()
        images = snapshot(row[0], study_uuid, store.path).get("images") or {}
        for image_id, entry in images.items():
            if isinstance(entry, dict) and (entry.get("condition") or entry.get("attributes")):
                entries[study_uuid, image_id] = entry
                names |= dict.fromkeys(entry.get("attributes") or {})
    return entries, list(names)


def _stimulus_values(
    entries: dict[tuple[str, str], dict], names: list[str], studies: Iterable, image_ids: Iterable
) -> dict[str, list[str]]:
    """Each row's ``condition`` and manifest attribute columns (an attribute named like an export
    column gets the prefix :data:`ATTRIBUTE_PREFIX`)."""
    found = [entries.get(key, {}) for key in zip(studies, image_ids)]
    values = {"condition": [str(entry.get("condition", "")) for entry in found]}
    for name in names:
        values[ATTRIBUTE_PREFIX + name if name in COLUMNS else name] = [
            str((entry.get("attributes") or {}).get(name, "")) for entry in found
        ]
    return values


def _stimulus_columns(store: ResultsStore, studies: pd.Series, image_ids: pd.Series) -> pd.DataFrame:
    """Each row's ``condition`` and manifest attribute columns, from its study's protocol snapshot."""
    entries, names = _stimulus_entries(store, studies.dropna().unique())
    if not entries:
        return pd.DataFrame({"condition": pd.Series("", index=studies.index, dtype=object)})
    return pd.DataFrame(
        {
            column: pd.Series(values, index=studies.index, dtype=object)
            for column, values in _stimulus_values(entries, names, studies, image_ids).items()
        }
    )


def _session_groups(pairs: Iterable[tuple[str, str | None]], where: Path | str) -> dict[str, int]:
    """The counterbalancing group of each (session, stored assignment) with one (the study has a design)."""
    return {session: stored_assignment(text, session, where).group for session, text in pairs if text is not None}


def _groups(assignments: pd.Series, sessions: pd.Series, where: Path | str) -> pd.Series:
    """The counterbalancing group of each row's session (empty where the study has no design)."""
    stored = pd.DataFrame({"session": sessions, "assignment": assignments}).dropna().drop_duplicates("session")
    return sessions.map(_session_groups(stored.itertuples(index=False), where)).astype("Int64")


def run_manifest(store: ResultsStore, include_machine: bool = False) -> dict:
    """Provenance of an export: program, protocols (with image hashes) and sessions (their
    computers' names only with ``include_machine``)."""
    studies = [
        {
            "uuid": u,
            "name": n,
            "version": v,
            "protocol_hash": h,
            "created_at": c,
            "snapshot": snapshot(snap, u, store.path),
        }
        for u, n, v, h, snap, c in store.conn.execute(
            "SELECT uuid, name, version, protocol_hash, snapshot, created_at FROM studies ORDER BY created_at, uuid"
        )
    ]
    sessions = [
        dict(zip(_MANIFEST_SESSION_COLUMNS, row))
        for row in store.conn.execute(
            f"SELECT {', '.join(_MANIFEST_SESSION_COLUMNS)} FROM sessions ORDER BY started_at, uuid"
        )
    ]
    for session in sessions:
        session["trial_order"] = [
            list(trial) for trial in trial_order(session["trial_order"], session["uuid"], store.path)
        ]
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
    disk or a crash leaves the previous export pair whole (:mod:`study_app.io.output_guard`).
    The manifest names the computer of each session only with ``include_machine``: host
    names often carry a person's name, and exports travel further than the store.
    """
    if fmt not in FORMATS:
        raise StoreError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise StoreError("export needs pyarrow: pip install -e '.[parquet]'") from None
    answers = answers_table(store)
    manifest = json.dumps(run_manifest(store, include_machine), indent=1, sort_keys=True)
    with replacing(out, manifest_path(out)) as (table, manifest_file):
        if fmt == "csv":
            write_safe_csv(answers, table)
        else:
            pq.write_table(answers.replace_schema_metadata(_pandas_metadata(answers)), table)
        manifest_file.write_text(manifest, encoding="utf-8")
    return out


def _pandas_metadata(table: pa.Table) -> dict[bytes, bytes]:
    """The schema metadata that makes pandas read an exported Parquet file back with
    :func:`answers_frame`'s dtypes (``rank`` and ``group`` as nullable integers), as the
    files that pandas itself wrote are read."""
    import pyarrow as pa

    empty = table.slice(0, 0).to_pandas()
    empty[["rank", "group"]] = empty[["rank", "group"]].astype("Int64")
    return pa.Schema.from_pandas(empty, preserve_index=False).metadata


def read_export(path: Path) -> pd.DataFrame:
    """Read an exported table (CSV or Parquet) back into the dtypes of :func:`answers_frame`.

    Bad cells are a :class:`StoreError` naming each one's file, line and column.
    """
    problems: list[Problem] = []
    frame, _ = _read_table(Path(path), problems)
    refuse(problems, f"{path}: cannot use this answers table")
    return frame


def _read_table(path: Path, problems: list[Problem]) -> tuple[pd.DataFrame, bool]:
    """The table, its bad cells added to ``problems`` (and left missing in the frame), and
    whether it has a ``pilot`` column of its own (when not, every row says False)."""
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
    if "condition" not in frame.columns:  # an export of an older version: no conditions
        frame["condition"] = ""
    if "front_end" not in frame.columns:  # an export of a version before the web front end
        frame["front_end"] = "desktop"
    marked = "pilot" in frame.columns
    for column in LATER_FLAGS:  # absent from exports of older versions
        if column not in frame.columns:
            frame[column] = False if path.suffix == ".parquet" else "False"
    if "exposures" not in frame.columns:  # an export of an older version: not counted (empty)
        frame["exposures"] = pd.Series(pd.NA, index=frame.index, dtype="Int64") if path.suffix == ".parquet" else ""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: not an answers export (missing columns {', '.join(missing)})")
    if path.suffix == ".parquet":  # as CSV reads them: a column without any value is float too, not None
        frame[["rt_ms", "presented_ms"]] = frame[["rt_ms", "presented_ms"]].astype(float)
    else:
        frame["trial"] = _numbers(frame, "trial", path, problems, whole=True, required=True).astype("Int64")
        frame["rank"] = _numbers(frame, "rank", path, problems, whole=True).astype("Int64")
        for column in ("rt_ms", "presented_ms"):
            frame[column] = _numbers(frame, column, path, problems).astype(float)
        frame["group"] = _numbers(frame, "group", path, problems, whole=True).astype("Int64")
        frame["exposures"] = _numbers(frame, "exposures", path, problems, whole=True).astype("Int64")
        for column in ("superseded", *LATER_FLAGS):
            flags = frame[column].map({"True": True, "False": False})
            _note_bad(frame, column, flags.isna(), path, "True or False", problems)
            frame[column] = flags.fillna(False).astype(bool)
        if not problems:
            frame["trial"] = frame["trial"].astype("int64")
    return frame[COLUMNS], marked


def _numbers(
    frame: pd.DataFrame, column: str, path: Path, problems: list[Problem], whole: bool = False, required: bool = False
) -> pd.Series:
    """A text column as numbers (empty cells missing unless ``required``); bad cells become problems (and missing)."""
    text = frame[column].astype(str)
    numbers = pd.to_numeric(text.replace("", None), errors="coerce")
    bad = (numbers.isna() & ((text != "") | required)) | (numbers.notna() & ~np.isfinite(numbers.astype(float)))
    bad |= whole & numbers.notna() & (numbers % 1 != 0)
    _note_bad(frame, column, bad, path, "a whole number" if whole else "a number", problems)
    return numbers.mask(bad)


def _note_bad(
    frame: pd.DataFrame, column: str, bad: pd.Series, path: Path, expected: str, problems: list[Problem]
) -> None:
    for row in np.flatnonzero(bad.to_numpy()):
        problems.append(row_problem(path, row, f"{frame[column].iloc[row]!r} is not {expected}", column))


def refuse(problems: list[Problem], what: str) -> None:
    """Raise one :class:`StoreError` listing ``problems`` (the first :data:`MAX_LISTED` of them), if any."""
    if problems:
        lines = [f"{what} ({len(problems)} problem(s)):"]
        lines += [f"  - {p}" for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"  ... and {len(problems) - MAX_LISTED} more (fix these and run again to see the rest)")
        raise StoreError("\n".join(lines))


def load_export(table_path: Path) -> tuple[pd.DataFrame, dict]:
    """An export and its run manifest, both checked whole (every cell, every manifest entry, and
    the rows against their sessions) before anything is written anywhere."""
    table_path = Path(table_path)
    problems: list[Problem] = []
    frame, marked = _read_table(table_path, problems)
    where = manifest_path(table_path)
    try:
        manifest = decode_json(where.read_text(encoding="utf-8"), MANIFEST_DEPTH)
    except (OSError, ValueError) as exc:  # DamagedValue and UnicodeDecodeError are ValueErrors
        raise StoreError(f"{where}: cannot read the run manifest of this export ({exc})") from None
    problems += manifest_problems(manifest, where)
    if not problems:
        kinds, unknown = session_kinds(frame if marked else None, manifest, where)
        problems += unknown
        for session in manifest["sessions"]:  # from here on every session says whether it is a pilot one
            session["pilot"] = int(kinds.get(session["uuid"], False))
        if not marked:  # the rows of an older table take their session's kind
            frame["pilot"] = frame["session"].map(kinds).fillna(False).astype(bool)
    if not problems:  # rows with bad cells or a broken manifest would only repeat those problems
        problems += table_problems(frame, manifest, table_path)
    refuse(problems, f"{table_path}: cannot import this export; nothing was written")
    return frame, manifest


def import_answers(store: ResultsStore, table_path: Path) -> int:
    """Rebuild studies, sessions, trials, answers and flags from an export; returns trials added.

    Rows keep their UUIDs, so importing twice (or merging with the original store)
    adds nothing.
    """
    return import_loaded(store, *load_export(table_path), name=str(table_path))


def import_loaded(store: ResultsStore, frame: pd.DataFrame, manifest: dict, name: str = "the export") -> int:
    """:func:`import_answers` of an export already checked by :func:`load_export`.

    The export is first written into a store of its own (in a temporary folder), which is
    then merged into ``store`` in one transaction: an import combines with what the store
    holds exactly as a merge does (a session's latest end wins, a row with one UUID and
    other content is a conflict, pilot and real sessions never share a store).
    """
    with tempfile.TemporaryDirectory(prefix="study-import-") as folder:
        with ResultsStore(Path(folder) / "import.sqlite") as staged:
            _stage(staged, frame, manifest)
            return merge_into(store, [staged], [name], action="import").added["trials"]


def _stage(store: ResultsStore, frame: pd.DataFrame, manifest: dict) -> None:
    """Write a checked export into an empty store of its own."""
    with write(store.conn) as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        for s in manifest["studies"]:
            conn.execute(
                "INSERT OR IGNORE INTO studies(uuid, name, version, "
                "protocol_hash, snapshot, created_at) VALUES (?,?,?,?,?,?)",
                (s["uuid"], s["name"], s["version"], s["protocol_hash"], json.dumps(s["snapshot"]), s["created_at"]),
            )
        for s in manifest["sessions"]:
            conn.execute(
                "INSERT OR IGNORE INTO annotators(uuid, annotator_id, created_at) VALUES (?,?,?)",
                (key_uuid("annotator", s["annotator_id"]), s["annotator_id"], s["started_at"]),
            )
            row = {
                **s,
                "trial_order": json.dumps(s["trial_order"]),
                "assignment": json.dumps(s["assignment"], sort_keys=True) if s.get("assignment") else None,
                "front_end": s.get("front_end", "desktop"),  # older manifests: every session was a desktop's
            }
            conn.execute(
                f"INSERT INTO sessions({', '.join(_MANIFEST_SESSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_MANIFEST_SESSION_COLUMNS))})",
                [row[column] for column in _MANIFEST_SESSION_COLUMNS],
            )
        trials = frame.drop_duplicates("trial_uuid")  # checked: the rows of one trial agree on its columns
        conn.executemany(
            "INSERT INTO trials(uuid, session_uuid, phase, trial_index, image_id, image_sha256, outcome, "
            "shown_at, answered_at, rt_ms, presented_ms, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    t.trial_uuid,
                    t.session,
                    t.phase,
                    int(t.trial),
                    t.image_id,
                    t.image_sha256,
                    t.outcome,
                    t.shown_at,
                    t.answered_at,
                    float(t.rt_ms),
                    None if pd.isna(t.presented_ms) else float(t.presented_ms),
                    t.supersedes or None,
                )
                for t in trials.itertuples()
            ],
        )
        ranked = frame[frame["rank"].notna()]
        conn.executemany(
            "INSERT INTO answers(uuid, trial_uuid, rank, label_id) VALUES (?,?,?,?)",
            [
                (child_uuid(a.trial_uuid, f"rank{int(a.rank)}"), a.trial_uuid, int(a.rank), a.label_id)
                for a in ranked.itertuples()
            ],
        )
        conn.executemany(
            "INSERT INTO flags(uuid, trial_uuid, reason, note) VALUES (?,?,?,?)",
            [
                (child_uuid(t.trial_uuid, "flag"), t.trial_uuid, t.flags, t.flag_note)
                for t in trials[trials["flags"] != ""].itertuples()
            ],
        )

"""Checking an answers export whole, table and run manifest, before an import writes any of it.

An export is a file that travels: it may have been edited by hand, cut, or written by
another tool. What the store's own code would never write must not enter a store by
import either: a rank of 0, an outcome the statistics do not know, a negative response
time, a trial of a session the manifest does not describe. Every problem is collected
with its place (table line and column, or manifest entry and field) so that one run
shows everything to fix.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, SupportsInt

import pandas as pd

from study_app.errors import Problem
from study_app.protocol.responses import LABELLED_OUTCOMES, OUTCOMES
from study_app.store.answer_store import FRONT_ENDS
from study_app.store.metadata import DamagedValue, assignment_of, order_of, snapshot_of

#: Columns of an answers table that the rows of one trial need not agree on: they differ by rank
#: (``rank``, ``label_id``), name the trial (``trial_uuid``), or are derived from the store by the
#: export and not read by an import. Every row of one trial must agree on each other column.
_NOT_OF_THE_TRIAL = (
    "rank",
    "label_id",
    "trial_uuid",
    "superseded",
    "interrupted",
    "paused",
    "exposures",
    "group",
    "condition",
)
#: The fields every session entry of a run manifest has, each a column of the store's ``sessions``
#: table of the same name (``pilot`` and ``assignment``, newer, may be missing: see :func:`session_kinds`).
SESSION_FIELDS = (
    "uuid",
    "study_uuid",
    "annotator_id",
    "protocol_hash",
    "app_version",
    "machine",
    "started_at",
    "ended_at",
    "trial_order",
)
_STUDY_FIELDS = ("uuid", "name", "version", "protocol_hash", "snapshot", "created_at")


def row_problem(path: Path, index: SupportsInt, message: str, field: str) -> Problem:
    """A problem of row ``index`` of a table, placed where a person finds that row: at its line in a
    CSV (line 1 is the header), at its row number in Parquet."""
    return Problem(str(path), message, line=int(index) + (1 if Path(path).suffix == ".parquet" else 2), field=field)


def _parses(parse: Callable[[str], object], value: object) -> bool:
    try:
        parse(str(value))
        return True
    except ValueError:
        return False


def is_uuid(value: object) -> bool:
    return _parses(uuid.UUID, value)


def is_timestamp(value: object) -> bool:
    """An ISO 8601 time, as the store writes them (``utc_now``)."""
    return _parses(datetime.fromisoformat, value)


def _why_not(check: Callable[[object], object], value: object) -> str | None:
    """Why ``value`` fails one of the store's own metadata checks (None: it passes)."""
    try:
        check(value)
        return None
    except DamagedValue as exc:
        return str(exc)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def manifest_problems(manifest: object, where: Path) -> list[Problem]:
    """What is wrong with a run manifest: its studies and sessions, field by field."""
    if (
        not isinstance(manifest, dict)
        or not isinstance(manifest.get("studies"), list)
        or not isinstance(manifest.get("sessions"), list)
    ):
        return [Problem(str(where), "not the run manifest of an answers export (no list of studies and sessions)")]
    problems: list[Problem] = []

    def bad(entry: str, field: str, message: str) -> None:
        problems.append(Problem(str(where), message, field=f"{entry}.{field}"))

    def entries(key: str, kind: str, fields: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
        """The manifest's entries of one kind, each checked field by field and for a repeated UUID."""
        seen = set()
        for number, item in enumerate(manifest[key]):
            entry = f"{key}[{number}]"
            if not isinstance(item, dict):
                problems.append(Problem(str(where), f"not a {kind} entry (an object)", field=entry))
                continue
            _fields(item, fields, entry, bad)
            if item.get("uuid") in seen:
                bad(entry, "uuid", f"{kind} {item['uuid']} is listed twice")
            seen.add(item.get("uuid"))
            yield entry, item

    studies: dict[Any, Any] = {}  # uuid -> protocol hash, as the manifest has them (checked field by field)
    for entry, study in entries("studies", "study", _STUDY_FIELDS):
        if "snapshot" in study and (why := _why_not(snapshot_of, study["snapshot"])):
            bad(entry, "snapshot", why)
        if study.get("protocol_hash") in studies.values():
            bad(entry, "protocol_hash", "another study of the manifest has this protocol hash")
        studies[study.get("uuid")] = study.get("protocol_hash")
    for entry, session in entries("sessions", "session", SESSION_FIELDS):
        if "study_uuid" in session and session["study_uuid"] not in studies:
            bad(entry, "study_uuid", f"{session['study_uuid']!r} is none of the manifest's studies")
        elif "protocol_hash" in session and studies.get(session.get("study_uuid")) != session["protocol_hash"]:
            bad(entry, "protocol_hash", "differs from the protocol hash of the session's study")
        if session.get("pilot", 0) not in (0, 1):  # True and False are 1 and 0
            bad(entry, "pilot", f"{session['pilot']!r} is not 0 or 1")
        if session.get("front_end", "desktop") not in FRONT_ENDS:
            bad(entry, "front_end", f"{session['front_end']!r} is not one of {', '.join(FRONT_ENDS)}")
        if session.get("assignment") is not None and (why := _why_not(assignment_of, session["assignment"])):
            bad(entry, "assignment", f"not a counterbalancing assignment: {why}")
    return problems


def _fields(entry: dict, fields: tuple[str, ...], name: str, bad: Callable[[str, str, str], None]) -> None:
    """The fields every study or session entry has, each of its kind."""
    for field in fields:
        if field not in entry:
            bad(name, field, "missing")
            continue
        value = entry[field]
        if field in ("uuid", "study_uuid"):
            if not is_uuid(value):
                bad(name, field, f"{value!r} is not a UUID")
        elif field in ("started_at", "created_at") or (field == "ended_at" and value is not None):
            if not is_timestamp(value):
                bad(name, field, f"{value!r} is not an ISO 8601 time")
        elif field == "trial_order":
            if why := _why_not(order_of, value):
                bad(name, field, why)
        elif field in ("machine", "version", "app_version"):
            if not isinstance(value, str):
                bad(name, field, f"{value!r} is not text")
        elif field != "snapshot" and field != "ended_at" and not _is_text(value):
            bad(name, field, f"{value!r} is not a non-empty text")


def session_kinds(frame: pd.DataFrame | None, manifest: dict, where: Path) -> tuple[dict[str, bool], list[Problem]]:
    """Whether each session of a (checked) manifest holds pilot (simulated) answers, and the
    sessions for which nothing says so.

    The manifest's ``pilot`` says it; where that is missing, the table's own ``pilot`` column
    (``frame``, None when the table has none) says it for a session with rows. An export this
    program writes says it in both places, so a session that it says nowhere comes from another
    tool or was damaged: imported as real, simulated answers would be counted as people's.
    """
    told = {} if frame is None else frame.groupby(frame["session"].astype(str))["pilot"].agg(set).to_dict()
    kinds: dict[str, bool] = {}
    problems = []
    for number, session in enumerate(manifest["sessions"]):
        uuid_, field = session["uuid"], f"sessions[{number}].pilot"
        if "pilot" in session:
            kinds[uuid_] = bool(session["pilot"])
        elif len(told.get(uuid_, ())) == 1:
            kinds[uuid_] = bool(next(iter(told[uuid_])))
        elif uuid_ in told:
            problems.append(
                Problem(str(where), f"missing, and the table's rows of session {uuid_} disagree on it", field=field)
            )
        else:
            problems.append(
                Problem(
                    str(where),
                    f"missing, and no pilot column of the table says it either: whether session {uuid_} "
                    f"(annotator {session['annotator_id']!r}) holds pilot (simulated) or real answers is not "
                    'known. If you know, add "pilot": 1 (pilot) or "pilot": 0 (real) to this session of the '
                    "manifest and import again",
                    field=field,
                )
            )
    return kinds, problems


def table_problems(frame: pd.DataFrame, manifest: dict, path: Path) -> list[Problem]:
    """What is wrong with the rows of an answers table read by :func:`read_export`, alone and
    against the sessions of its (checked) manifest."""
    problems: list[Problem] = []

    def bad(rows: pd.Series, column: str, message: Callable[[object], str]) -> None:
        for index in rows[rows].index:
            value = frame.at[index, column]
            value = value.item() if hasattr(value, "item") else value  # 0, not np.int64(0), in the message
            problems.append(row_problem(path, index, message(value), column))

    frame = frame.reset_index(drop=True)
    text = {
        c: frame[c].astype(str)
        for c in ("trial_uuid", "session", "supersedes", "outcome", "shown_at", "answered_at", "label_id")
    }
    has_rank = frame["rank"].notna()
    bad(frame["trial"] < 0, "trial", lambda v: f"{v!r} is not a trial number (0 or more)")
    bad(has_rank & (frame["rank"].fillna(1) < 1), "rank", lambda v: f"{v!r} is not a rank (1 or more)")
    bad(has_rank & (text["label_id"] == ""), "label_id", lambda v: "a ranked answer without a label")
    bad(~has_rank & (text["label_id"] != ""), "rank", lambda v: "a label without a rank")
    bad(~text["outcome"].isin(OUTCOMES), "outcome", lambda v: f"{v!r} is not one of {', '.join(OUTCOMES)}")
    bad((text["outcome"] == "answer") & ~has_rank, "outcome", lambda v: "an answer without a label")
    bad(
        text["outcome"].isin([o for o in OUTCOMES if o not in LABELLED_OUTCOMES]) & has_rank,
        "outcome",
        lambda v: f"a {v!r} trial carries no labels",
    )
    for column in ("rt_ms", "presented_ms"):
        values = frame[column].astype(float)
        wrong = ~values.map(math.isfinite) | (values < 0)
        if column == "presented_ms":  # not measured by older versions
            wrong &= values.notna()
        bad(wrong, column, lambda v: f"{v!r} is not a time in ms (0 or more)")
    uuids = {v: is_uuid(v) for v in pd.unique(pd.concat([text["trial_uuid"], text["session"], text["supersedes"]]))}
    for column in ("trial_uuid", "session"):
        bad(~text[column].map(uuids), column, lambda v: f"{v!r} is not a UUID")
    bad((text["supersedes"] != "") & ~text["supersedes"].map(uuids), "supersedes", lambda v: f"{v!r} is not a UUID")
    for column in ("shown_at", "answered_at"):
        times = {v: is_timestamp(v) for v in text[column].unique()}
        bad(~text[column].map(times), column, lambda v: f"{v!r} is not an ISO 8601 time")
    for column in ("phase", "image_id", "study", "annotator", "image_sha256"):
        bad(frame[column].astype(str) == "", column, lambda v: "empty")
    problems += _trial_problems(frame, path)
    problems += _session_problems(frame, manifest, path)
    return problems


def _trial_problems(frame: pd.DataFrame, path: Path) -> list[Problem]:
    """Rows of one trial agree on the trial's columns; its ranks run 1, 2, ... without gaps; a
    revision names a trial of the table at the same place of the same session."""
    problems = []
    trial = frame["trial_uuid"].astype(str)
    for column in (c for c in frame.columns if c not in _NOT_OF_THE_TRIAL):
        disagree = frame[column].astype(str).groupby(trial).transform("nunique") > 1
        for index in disagree[disagree].index:
            problems.append(row_problem(path, index, f"differs between the rows of trial {trial[index]}", column))
    ranks = frame["rank"].astype(float).groupby(trial).agg(["size", "count", "min", "max", "nunique"])
    gaps = (
        (ranks["count"] > 0)
        & (ranks["min"] >= 1)
        & ((ranks["min"] != 1) | (ranks["max"] != ranks["size"]) | (ranks["nunique"] != ranks["size"]))
    )
    unranked = (ranks["count"] < ranks["size"]) & (ranks["size"] > 1)
    firsts = frame.drop_duplicates("trial_uuid")
    wrong = firsts[firsts["trial_uuid"].astype(str).map(gaps | unranked)]
    listed = frame["rank"][trial.isin(wrong["trial_uuid"].astype(str))].groupby(trial).agg(list)
    for row in wrong.itertuples():
        found = sorted(("none" if pd.isna(r) else int(r) for r in listed[str(row.trial_uuid)]), key=str)
        problems.append(
            row_problem(
                path, row.Index, f"trial {row.trial_uuid} has ranks {found}, not 1, 2, ... without gaps", "rank"
            )
        )
    place = {row.trial_uuid: (row.session, row.phase, row.trial) for row in firsts.itertuples()}
    for row in firsts.itertuples():
        if row.supersedes and place.get(row.supersedes) != (row.session, row.phase, row.trial):
            problems.append(
                row_problem(
                    path,
                    row.Index,
                    f"revises {row.supersedes}, which is no trial at the same place of the same session in this table",
                    "supersedes",
                )
            )
    revised = set(firsts["supersedes"])
    current = firsts[~firsts["trial_uuid"].isin(revised)]
    twice = current.duplicated(["session", "phase", "trial"], keep="first")
    for row in current[twice].itertuples():
        problems.append(
            row_problem(
                path,
                row.Index,
                f"trial {row.trial + 1} of phase {row.phase} is answered "
                f"twice in session {row.session} (neither revises the other)",
                "trial_uuid",
            )
        )
    return problems


def _session_problems(frame: pd.DataFrame, manifest: dict, path: Path) -> list[Problem]:
    """Each trial belongs to a session of the manifest, agrees with it (annotator, study, pilot)
    and is one of the trials of its order."""
    studies = {s.get("uuid"): s.get("name") for s in manifest["studies"] if isinstance(s, dict)}
    sessions = {s.get("uuid"): s for s in manifest["sessions"] if isinstance(s, dict)}
    orders: dict[str, set] = {}
    problems = []
    firsts = frame.drop_duplicates("trial_uuid")
    for row in firsts.itertuples():
        session = sessions.get(row.session)
        if session is None:
            problems.append(
                row_problem(path, row.Index, f"session {row.session} is not in the run manifest", "session")
            )
            continue
        if row.annotator != session.get("annotator_id"):
            problems.append(
                row_problem(
                    path,
                    row.Index,
                    f"{row.annotator!r}, but the manifest's session has {session.get('annotator_id')!r}",
                    "annotator",
                )
            )
        if row.study != studies.get(session.get("study_uuid")):
            problems.append(
                row_problem(
                    path,
                    row.Index,
                    f"{row.study!r}, but the manifest's session is of study {studies.get(session.get('study_uuid'))!r}",
                    "study",
                )
            )
        if bool(row.pilot) != bool(session.get("pilot", 0)):
            problems.append(
                row_problem(
                    path,
                    row.Index,
                    f"{row.pilot!r}, but the manifest's session is "
                    f"{'a pilot' if session.get('pilot') else 'a real'} one",
                    "pilot",
                )
            )
        if row.session not in orders:
            order: Any = session.get("trial_order")
            orders[row.session] = set() if _why_not(order_of, order) else {tuple(t) for t in order}
        if orders[row.session] and (row.phase, int(row.trial), row.image_id) not in orders[row.session]:
            problems.append(
                row_problem(
                    path,
                    row.Index,
                    f"trial {row.trial} of phase {row.phase} (image "
                    f"{row.image_id}) is not in the session's trial order",
                    "trial",
                )
            )
    return problems

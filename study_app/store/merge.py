"""Combining results stores from several desktops into one.

A merge is a function of its inputs (the target's own rows among them), not of their
order. Rows are matched on their UUIDs: a row held by several inputs is one row. The
few columns that legitimately change after a row is written combine by a rule
(:data:`MERGE_RULES`: a session's latest end, the earliest registration, a computer's
name over the blank an export leaves); every other column must agree, or the row is a
conflict: the merge lists every such row and refuses, writing nothing, since picking one
copy would be picking by argument order. Merging is idempotent: merging the same stores
twice, or a store into itself, adds nothing. Stores of different protocols (hash), and
pilot with real sessions, are refused. The same annotator id answering the same image on
two machines is reported (:class:`Conflict`); both answers are kept for the researcher.

Between files (the usual case) the large tables are checked and copied in SQL, one
``ATTACH`` per input (:func:`_file_checks`, then ``INSERT ... SELECT``), so a merge costs
about what copying the rows costs; a server among the stores is read row by row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import quote

from study_app.errors import StoreError
from study_app.protocol.responses import utc_now
from study_app.store.allocation import place_answers
from study_app.store.db import table_columns, write
from study_app.store.postgres import ServerAddress
from study_app.store.results_store import ResultsStore
from study_app.store.schema import TABLES
from study_app.store.target import open_target

#: The value two copies of a column cannot be combined into.
_DIFFERENT = object()


def _latest(a, b):
    """A moment that only moves on once set (an end, a last sign of life): the latest known one."""
    return a if b is None else b if a is None else max(a, b)


def _earliest(a, b):
    """A first registration: each desktop records its own, the earliest is the study's."""
    return a if b is None else b if a is None else min(a, b)


def _known(a, b):
    """A value an export may leave blank (a computer's name): the known one; two known ones must agree."""
    if a in (None, ""):
        return b
    if b in (None, "") or a == b:
        return a
    return _DIFFERENT


def _same_json(a, b):
    """A protocol snapshot: an export rewrites its JSON with sorted keys; equal in meaning is equal
    (the smaller text is kept, whichever copy came first)."""
    if a == b or b is None:
        return a
    if a is None:
        return b
    try:
        same = json.loads(a) == json.loads(b)
    except ValueError:  # damaged text (check-store names it): not the same snapshot
        same = False
    return min(a, b) if same else _DIFFERENT


#: Per table, the columns that may differ between copies of one row, and how they combine.
MERGE_RULES: dict[str, dict[str, Callable]] = {
    "studies": {"created_at": _earliest, "snapshot": _same_json},
    "annotators": {"created_at": _earliest},
    "sessions": {"ended_at": _latest, "heartbeat_at": _latest, "machine": _known},
    "review_sessions": {"ended_at": _latest},
}


@dataclass(frozen=True)
class Conflict:
    """One annotator id that answered the same image of a phase in two sessions (on the
    machines named): both answers are kept, since only the researcher can tell which counts."""

    annotator: str
    phase: str
    image_id: str
    sessions: tuple[str, str]
    machines: tuple[str, str]


@dataclass
class RowConflict:
    """One UUID whose row has different content in different inputs."""

    table: str
    uuid: str
    inputs: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.table} {self.uuid}: {', '.join(self.columns)} differ between {' and '.join(self.inputs)}"


class MergeConflictError(StoreError):
    """Rows with one UUID and different content: the merge would have to choose by order."""

    def __init__(self, conflicts: list[RowConflict], action: str = "merge") -> None:
        self.conflicts = conflicts
        lines = [
            f"cannot {action}: {len(conflicts)} row(s) have one UUID but different content in different inputs; "
            f"nothing was written. Keep the right copy of each (or leave an input out) and {action} again:"
        ]
        lines += [f"  - {c}" for c in conflicts[:50]]
        if len(conflicts) > 50:
            lines.append(f"  ... and {len(conflicts) - 50} more")
        super().__init__("\n".join(lines))


@dataclass
class MergeReport:
    """What a merge added, per table, and the conflicts found in the result."""

    inputs: list[Path | ServerAddress]
    added: dict[str, int] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    def summary(self) -> str:
        added = ", ".join(f"{table} {count}" for table, count in self.added.items())
        lines = [f"merged {len(self.inputs)} store(s); rows added: {added}"]
        if self.conflicts:
            lines.append(
                f"{len(self.conflicts)} conflict(s): one annotator id "
                "answered the same image in two sessions (both kept):"
            )
            for c in self.conflicts[:20]:
                lines.append(
                    f"  - annotator {c.annotator}, phase {c.phase}, image {c.image_id}: sessions "
                    f"{c.sessions[0][:8]} ({c.machines[0]}) and {c.sessions[1][:8]} ({c.machines[1]})"
                )
            if len(self.conflicts) > 20:
                lines.append(f"  ... and {len(self.conflicts) - 20} more")
        return "\n".join(lines)


def pilot_kinds(store: ResultsStore) -> set[str]:
    """ "pilot" and/or "real": the kinds of session a store holds (none for an empty store)."""
    return {"pilot" if pilot else "real" for (pilot,) in store.conn.execute("SELECT DISTINCT pilot FROM sessions")}


def refuse_mixed_kinds(kinds: dict[str, set[str]], action: str) -> None:
    """Pilot (simulated) and real sessions never share a store: ``kinds`` per input, by name."""
    if len(set().union(*kinds.values())) > 1:
        raise StoreError(
            f"cannot {action} pilot (simulated) sessions with real ones: "
            + ", ".join(f"{name}: {'/'.join(sorted(k)) or 'empty'}" for name, k in kinds.items())
            + "; pilot sessions belong in a pilot store (simulate writes results/<study>/pilot.sqlite)"
        )


def find_conflicts(store: ResultsStore) -> list[Conflict]:
    """Every annotator id that answered one image of a phase in two sessions, pair by pair.

    Grouped by (annotator, phase, image) first, so the pairs are formed only where an
    annotator has several sessions with that image, not for every two answers to an image.
    """
    rows = store.conn.execute(
        """
        WITH answered AS (
            SELECT DISTINCT s.annotator_id, t.phase, t.image_id, s.uuid AS session_uuid, s.machine
            FROM trials t JOIN sessions s ON s.uuid = t.session_uuid
        ), repeated AS (
            SELECT annotator_id, phase, image_id FROM answered
            GROUP BY annotator_id, phase, image_id HAVING COUNT(*) > 1
        )
        SELECT a.annotator_id, a.phase, a.image_id, a.session_uuid, b.session_uuid, a.machine, b.machine
        FROM repeated r
        JOIN answered a ON a.annotator_id = r.annotator_id AND a.phase = r.phase AND a.image_id = r.image_id
        JOIN answered b ON b.annotator_id = r.annotator_id AND b.phase = r.phase AND b.image_id = r.image_id
             AND b.session_uuid > a.session_uuid
        ORDER BY 1, 2, 3, 4, 5
        """
    ).fetchall()
    return [Conflict(a, p, i, (u1, u2), (m1, m2)) for a, p, i, u1, u2, m1, m2 in rows]


def _digest(values: Iterable) -> bytes:
    """A row's fixed columns in 16 bytes: what is kept of each row to compare its copies."""
    return hashlib.blake2b(repr(tuple(values)).encode("utf-8", "surrogatepass"), digest_size=16).digest()


#: Conflicts found so far, by (table, uuid).
Conflicts = dict[tuple[str, str], RowConflict]


def _note_conflict(conflicts: Conflicts, table: str, uuid: str, inputs: tuple[str, str], columns: list[str]) -> None:
    """Add one differing copy of a row: its input and the first copy's, and the columns that differ."""
    conflict = conflicts.setdefault((table, uuid), RowConflict(table, uuid))
    conflict.inputs += [name for name in inputs if name not in conflict.inputs]
    conflict.columns += [c for c in columns if c not in conflict.columns]


def _combined_rows(
    stores: list[ResultsStore], tables: Iterable[str], conflicts: Conflicts
) -> dict[str, dict[str, list]]:
    """Read every row of ``tables`` of every store once; per table with rules, each UUID's combined rule
    columns (in the order of the table's columns). Rows whose copies differ in a column without a rule
    (or in two known computer names) are added to ``conflicts``.

    Row by row, so for the small tables only where a merge of files goes through SQL (:func:`_file_checks`),
    and for every table where a server is among the stores.
    """
    combined: dict[str, dict[str, list]] = {}
    for table in tables:
        columns = table_columns(stores[0].conn, table)
        rules = MERGE_RULES.get(table, {})
        ruled = [i for i, name in enumerate(columns) if name in rules]
        fixed = [i for i, name in enumerate(columns) if name not in rules]
        key = columns.index("uuid")
        first: dict[str, tuple[bytes, int]] = {}
        values = combined[table] = {}
        for index, store in enumerate(stores):
            for row in store.conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                uuid = row[key]
                digest = _digest(row[i] for i in fixed)
                seen = first.setdefault(uuid, (digest, index))
                differing = []
                if seen[1] != index and seen[0] != digest:
                    earlier = (
                        stores[seen[1]]
                        .conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE uuid = ?", (uuid,))
                        .fetchone()
                    )
                    differing = [columns[i] for i in fixed if earlier[i] != row[i]]
                if ruled:
                    mine = [row[i] for i in ruled]
                    if uuid in values:
                        merged = [rules[columns[i]](a, b) for i, a, b in zip(ruled, values[uuid], mine)]
                        differing += [columns[i] for i, value in zip(ruled, merged) if value is _DIFFERENT]
                        values[uuid] = [a if m is _DIFFERENT else m for a, m in zip(values[uuid], merged)]
                    else:
                        values[uuid] = mine
                if differing:
                    _note_conflict(conflicts, table, uuid, (str(stores[seen[1]].path), str(store.path)), differing)
    return {table: rows for table, rows in combined.items() if rows}


@contextmanager
def _attached(conn: sqlite3.Connection, stores: dict[str, ResultsStore]) -> Iterator[None]:
    """The files of ``stores`` attached (read-only) under their keys as schema names, for one block."""
    for name, store in stores.items():
        conn.execute(f"ATTACH DATABASE ? AS {name}", (f"file:{quote(str(store.path))}?mode=ro",))
    try:
        yield
    finally:
        for name in stores:
            conn.execute(f"DETACH DATABASE {name}")


def _differs(columns: list[str], a: str, b: str) -> str:
    """SQL: the rows ``a`` and ``b`` differ in one of ``columns`` (NULL equal to NULL)."""
    return " OR ".join(f"{a}.{c} IS NOT {b}.{c}" for c in columns)


def _parents(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(column, parent table) of each foreign key of ``table``."""
    return [(row[3], row[2]) for row in conn.execute(f"PRAGMA foreign_key_list({table})")]


def _file_checks(
    conn: sqlite3.Connection, stores: list[ResultsStore], sql_tables: list[str], conflicts: Conflicts
) -> None:
    """Check files in SQL before a merge writes them, one ATTACH per store: the conflicts of
    ``sql_tables`` (tables without rules), and each row's parent (foreign keys).

    Each source's rows are matched on their UUIDs against the target's (compared there and then)
    and against the UUIDs of the sources before it (kept in a temporary table, inserted in UUID
    order; the copies are compared afterwards, one ATTACH per pair of stores that share rows). As
    in :func:`_combined_rows`, each copy is compared with the first one (the target's, else the
    earliest source's). A row whose parent is not in its own store must find it in the target or
    in an earlier source, as the foreign keys would demand when it is written; the merge then
    writes without checking them again (:func:`_without_foreign_keys`), which costs a third of the
    copy where the target is large.
    """
    conn.execute("PRAGMA temp_store = MEMORY")  # the UUIDs seen: in memory, a fraction of what the inputs hold
    conn.execute("CREATE TEMP TABLE merge_differing (tbl TEXT, uuid TEXT, first INTEGER, input INTEGER)")
    conn.execute("CREATE TEMP TABLE merge_shared (tbl TEXT, uuid TEXT, first INTEGER, input INTEGER)")
    conn.execute("CREATE TEMP TABLE merge_orphans (tbl TEXT, uuid TEXT, parent TEXT, parent_uuid TEXT, input INTEGER)")
    try:
        columns = {table: table_columns(conn, table) for table in TABLES}
        parents = {table: _parents(conn, table) for table in TABLES}
        in_target = {t for t in TABLES if conn.execute(f"SELECT 1 FROM main.{t} LIMIT 1").fetchone()}
        for table in TABLES:
            conn.execute(f"CREATE TEMP TABLE merge_seen_{table} (uuid TEXT PRIMARY KEY, input INTEGER) WITHOUT ROWID")
        for index, store in enumerate(stores[1:], start=1):
            with _attached(conn, {"merge_src": store}):
                for table in TABLES:
                    for column, parent in parents[table]:
                        conn.execute(
                            f"INSERT INTO merge_orphans SELECT '{table}', c.uuid, '{parent}', c.{column}, {index} "
                            f"FROM merge_src.{table} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
                            f"(SELECT 1 FROM merge_src.{parent} p WHERE p.uuid = c.{column})"
                        )
                    if table not in sql_tables:  # its copies are compared row by row (_combined_rows)
                        conn.execute(
                            f"INSERT OR IGNORE INTO merge_seen_{table} SELECT uuid, {index} FROM merge_src.{table}"
                        )
                        continue
                    if table in in_target:
                        conn.execute(
                            f"INSERT INTO merge_differing SELECT '{table}', s.uuid, 0, {index} "
                            f"FROM merge_src.{table} s JOIN main.{table} m ON m.uuid = s.uuid "
                            f"WHERE {_differs(columns[table], 's', 'm')}"
                        )
                    rows = conn.execute(f"SELECT COUNT(*) FROM merge_src.{table}").fetchone()[0]
                    before = conn.total_changes
                    conn.execute(
                        f"INSERT OR IGNORE INTO merge_seen_{table} SELECT uuid, {index} FROM merge_src.{table} "
                        "ORDER BY uuid"
                    )
                    if conn.total_changes - before < rows:  # some UUIDs came with an earlier source (or the target)
                        conn.execute(
                            f"INSERT INTO merge_shared SELECT '{table}', s.uuid, seen.input, {index} "
                            f"FROM merge_src.{table} s JOIN merge_seen_{table} seen ON seen.uuid = s.uuid "
                            f"WHERE seen.input <> {index} AND NOT EXISTS "
                            f"(SELECT 1 FROM main.{table} m WHERE m.uuid = s.uuid)"
                        )
        pairs = conn.execute("SELECT DISTINCT first, input FROM merge_shared ORDER BY first, input").fetchall()
        for first, index in pairs:
            with _attached(conn, {"merge_first": stores[first], "merge_src": stores[index]}):
                for table in sql_tables:
                    conn.execute(
                        f"INSERT INTO merge_differing SELECT '{table}', s.uuid, {first}, {index} "
                        f"FROM merge_shared o JOIN merge_first.{table} f ON f.uuid = o.uuid "
                        f"JOIN merge_src.{table} s ON s.uuid = o.uuid "
                        f"WHERE o.tbl = '{table}' AND o.first = {first} AND o.input = {index} "
                        f"AND ({_differs(columns[table], 's', 'f')})"
                    )
        differing = conn.execute("SELECT tbl, uuid, first, input FROM merge_differing ORDER BY input").fetchall()
        orphans = conn.execute(
            " UNION ALL ".join(
                f"SELECT o.input, o.tbl, o.uuid, o.parent, o.parent_uuid FROM merge_orphans o "
                f"WHERE o.parent = '{parent}' "
                f"AND NOT EXISTS (SELECT 1 FROM main.{parent} p WHERE p.uuid = o.parent_uuid) "
                f"AND NOT EXISTS (SELECT 1 FROM merge_seen_{parent} p "
                "WHERE p.uuid = o.parent_uuid AND p.input < o.input)"
                for parent in sorted({parent for links in parents.values() for _, parent in links})
            )
            + " ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        for table in ("merge_differing", "merge_shared", "merge_orphans", *(f"merge_seen_{t}" for t in TABLES)):
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
        conn.execute("PRAGMA temp_store = DEFAULT")
    if orphans:
        index, table, uuid, parent, parent_uuid = orphans[0]
        raise StoreError(
            f"{stores[index].path}: {len(orphans)} row(s) refer to rows that neither it, the target nor an earlier "
            f"input holds, e.g. {table} {uuid} to {parent} {parent_uuid}; nothing was written. Run check-store on it"
        )
    for table, uuid, first, index in differing:  # few: each is a conflict; its columns named from the two copies
        query = f"SELECT {', '.join(columns[table])} FROM {table} WHERE uuid = ?"
        a, b = (stores[i].conn.execute(query, (uuid,)).fetchone() for i in (first, index))
        names = [c for c, x, y in zip(columns[table], a, b) if x != y]
        if names:
            _note_conflict(conflicts, table, uuid, (str(stores[first].path), str(stores[index].path)), names)


@contextmanager
def _without_foreign_keys(conn: sqlite3.Connection) -> Iterator[None]:
    """SQLite's foreign key checks off for one block (the rows' parents were checked by :func:`_file_checks`)."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _settled(
    rows: Iterable[tuple], columns: list[str], table: str, combined: dict[str, dict[str, list]]
) -> Iterable[tuple]:
    """Rows with their rule columns replaced by the combined values, so that the first copy written is final."""
    values_of = combined.get(table)
    if not values_of:
        yield from rows
        return
    key = columns.index("uuid")
    ruled = [i for i, name in enumerate(columns) if name in MERGE_RULES[table]]
    for row in rows:
        settled = list(row)
        for i, value in zip(ruled, values_of[settled[key]]):
            settled[i] = value
        yield tuple(settled)


def _settle_target(conn, combined: dict[str, dict[str, list]]) -> None:
    """Rows the target already holds take their combined values (a session's end from a later copy)."""
    for table, values_of in combined.items():
        ruled = [name for name in table_columns(conn, table) if name in MERGE_RULES[table]]
        conn.executemany(
            f"UPDATE {table} SET {', '.join(f'{name} = ?' for name in ruled)} WHERE uuid = ?",
            ([*values, uuid] for uuid, values in values_of.items()),
        )


def _trials_of(conn, table: str = "trials") -> Iterator[tuple]:
    """A store's trials as :func:`place_answers` takes them; queried only if it asks for them
    (and read whole, so that no statement is left open on an attached store)."""
    yield from conn.execute(
        f"SELECT uuid, session_uuid, phase, image_id, supersedes FROM {table} ORDER BY rowid"
    ).fetchall()


def merge_into(
    target: ResultsStore, sources: list[ResultsStore], names: list[str], action: str = "merge"
) -> MergeReport:
    """Add the rows of ``sources`` (called ``names`` in messages) to ``target``, one transaction
    per source, after every check: pilot and real sessions apart, no conflicting rows.

    Between files, the large tables (those without :data:`MERGE_RULES`) are checked and copied
    in SQL, one ``ATTACH`` + ``INSERT ... SELECT`` per table and source; the small ones (studies,
    annotators, sessions, review sessions), whose rule columns combine by Python functions, row by
    row. Where a server is the target or a source, every table goes row by row.
    """
    refuse_mixed_kinds(
        {str(target.path): pilot_kinds(target), **{n: pilot_kinds(s) for n, s in zip(names, sources)}}, action
    )
    stores = [target, *sources]
    all_files = all(isinstance(store.conn, sqlite3.Connection) for store in stores)
    in_sql = [table for table in TABLES if table not in MERGE_RULES] if all_files else []
    conflicts: Conflicts = {}
    combined = _combined_rows(stores, [table for table in TABLES if table not in in_sql], conflicts)
    if in_sql:
        _file_checks(cast(sqlite3.Connection, target.conn), stores, in_sql, conflicts)
    if conflicts:
        raise MergeConflictError(sorted(conflicts.values(), key=lambda c: (TABLES.index(c.table), c.uuid)), action)
    report = MergeReport([s.path for s in sources], dict.fromkeys(TABLES, 0))
    files = cast(sqlite3.Connection, target.conn) if in_sql else None
    with _without_foreign_keys(files) if files else nullcontext():
        for position, source in enumerate(sources):
            with _attached(files, {"merge_src": source}) if files else nullcontext(), write(target.conn) as conn:
                conn.execute("PRAGMA defer_foreign_keys = ON")
                if position == 0:
                    _settle_target(conn, combined)
                for table in TABLES:
                    columns = table_columns(conn, table)
                    listed = ", ".join(columns)
                    before = conn.total_changes
                    if table in in_sql:
                        conn.execute(
                            f"INSERT OR IGNORE INTO main.{table}({listed}) SELECT {listed} FROM merge_src.{table}"
                        )
                    else:
                        conn.executemany(
                            f"INSERT OR IGNORE INTO {table}({listed}) VALUES ({', '.join('?' * len(columns))})",
                            _settled(source.conn.execute(f"SELECT {listed} FROM {table}"), columns, table, combined),
                        )
                    report.added[table] += conn.total_changes - before
                # Into a server that shares images out: the answers take their slots, as their desktop's sync would.
                place_answers(
                    conn, _trials_of(conn, "merge_src.trials") if files else _trials_of(source.conn), utc_now()
                )
    report.conflicts = find_conflicts(target)
    return report


def merge_stores(out: Path | str, inputs: list[Path | str]) -> MergeReport:
    """Merge ``inputs`` into ``out`` (created if missing); one transaction per input.

    A merge refused (other protocol, pilot and real sessions, conflicting rows) or failing
    into a file it created leaves no file behind.
    """
    sources = []
    try:
        for path in inputs:
            if Path(path).resolve() == Path(out).resolve():
                continue
            sources.append(ResultsStore(path, readonly=True))
        with open_target(out) as target:
            expected = target.protocol_hashes() or (sources[0].protocol_hashes() if sources else set())
            for source in sources:
                hashes = source.protocol_hashes()
                if hashes and hashes != expected:
                    raise StoreError(
                        f"{source.path}: holds answers for protocol hash(es) "
                        f"{', '.join(sorted(h[:12] for h in hashes))}, but the merge "
                        f"is of {', '.join(sorted(h[:12] for h in expected))}; "
                        "stores of different protocols cannot be merged"
                    )
            return merge_into(target, sources, [str(source.path) for source in sources])
    finally:
        for source in sources:
            source.close()

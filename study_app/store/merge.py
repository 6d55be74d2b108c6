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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
    rows = store.conn.execute(
        """
        SELECT DISTINCT s1.annotator_id, t1.phase, t1.image_id, s1.uuid, s2.uuid, s1.machine, s2.machine
        FROM trials t1 JOIN sessions s1 ON s1.uuid = t1.session_uuid
        JOIN trials t2 ON t2.image_id = t1.image_id AND t2.phase = t1.phase AND t2.session_uuid > t1.session_uuid
        JOIN sessions s2 ON s2.uuid = t2.session_uuid AND s2.annotator_id = s1.annotator_id
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    return [Conflict(a, p, i, (u1, u2), (m1, m2)) for a, p, i, u1, u2, m1, m2 in rows]


def _digest(values: Iterable) -> bytes:
    """A row's fixed columns in 16 bytes: what is kept of each row to compare its copies."""
    return hashlib.blake2b(repr(tuple(values)).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def combined_rows(stores: list[ResultsStore], names: list[str], action: str = "merge") -> dict[str, dict[str, list]]:
    """Read every row of every store once; per table with rules, each UUID's combined rule columns
    (in the order of the table's columns). Raises :class:`MergeConflictError` listing every row
    whose copies differ in a column without a rule (or in two known computer names)."""
    conflicts: dict[tuple[str, str], RowConflict] = {}
    combined: dict[str, dict[str, list]] = {}
    for table in TABLES:
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
                    conflict = conflicts.setdefault((table, uuid), RowConflict(table, uuid))
                    for name in (str(stores[seen[1]].path), str(store.path)):
                        if name not in conflict.inputs:
                            conflict.inputs.append(name)
                    conflict.columns += [c for c in differing if c not in conflict.columns]
    if conflicts:
        raise MergeConflictError(sorted(conflicts.values(), key=lambda c: (TABLES.index(c.table), c.uuid)), action)
    return {table: rows for table, rows in combined.items() if rows}


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


def merge_into(
    target: ResultsStore, sources: list[ResultsStore], names: list[str], action: str = "merge"
) -> MergeReport:
    """Add the rows of ``sources`` (called ``names`` in messages) to ``target``, one transaction
    per source, after every check: pilot and real sessions apart, no conflicting rows."""
    refuse_mixed_kinds(
        {str(target.path): pilot_kinds(target), **{n: pilot_kinds(s) for n, s in zip(names, sources)}}, action
    )
    combined = combined_rows([target, *sources], [str(target.path), *names], action)
    report = MergeReport([s.path for s in sources], dict.fromkeys(TABLES, 0))
    for position, source in enumerate(sources):
        with write(target.conn) as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            if position == 0:
                _settle_target(conn, combined)
            for table in TABLES:
                columns = table_columns(source.conn, table)
                before = conn.total_changes
                conn.executemany(
                    f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    _settled(
                        source.conn.execute(f"SELECT {', '.join(columns)} FROM {table}"), columns, table, combined
                    ),
                )
                report.added[table] += conn.total_changes - before
            # Into a server that shares images out: the answers take their slots, as their desktop's sync would.
            place_answers(
                conn,
                source.conn.execute(
                    "SELECT uuid, session_uuid, phase, image_id, supersedes FROM trials ORDER BY rowid"
                ),
                utc_now(),
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

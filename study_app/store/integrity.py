"""``check-store``: is a results file sound, and if not, what can be saved from it.

The original file is never opened for writing: checks and recovery run on a copy (with
its WAL file), so a researcher can run them on the only copy of a month's answers.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from study_app.errors import StoreCorruptError, StoreError
from study_app.protocol.responses import LABELLED_OUTCOMES
from study_app.store.db import connect, remove_store_file, write
from study_app.store.metadata import damaged_metadata
from study_app.store.page_recovery import cut_short, recover_rows, schema_columns
from study_app.store.results_store import ResultsStore
from study_app.store.schema import SCHEMA_VERSION, TABLES, migrate, schema_version

_INVARIANTS = {
    "answers whose ranks are not 1..k": """
        SELECT trial_uuid FROM answers GROUP BY trial_uuid HAVING MIN(rank) != 1 OR MAX(rank) != COUNT(*)""",
    "answered trials without labels": """
        SELECT uuid FROM trials t WHERE outcome = 'answer' AND NOT EXISTS \
(SELECT 1 FROM answers a WHERE a.trial_uuid = t.uuid)""",
    "non-answers (not sure, none of these, skip) with labels": f"""
        SELECT uuid FROM trials t WHERE outcome NOT IN ({", ".join(repr(o) for o in LABELLED_OUTCOMES)}) AND EXISTS \
(SELECT 1 FROM answers a WHERE a.trial_uuid = t.uuid)""",
    "trials answered twice in one session without a revision": """
        SELECT session_uuid FROM trials t WHERE NOT EXISTS (SELECT 1 FROM trials r WHERE r.supersedes = t.uuid)
        GROUP BY session_uuid, phase, trial_index HAVING COUNT(*) > 1""",
    "trials of sessions that are not in the store": """
        SELECT uuid FROM trials t WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.uuid = t.session_uuid)""",
    "negative response times": "SELECT uuid FROM trials WHERE rt_ms < 0",
    "reviews of review sessions that are not in the store": """
        SELECT uuid FROM reviews r WHERE NOT EXISTS \
(SELECT 1 FROM review_sessions s WHERE s.uuid = r.review_session_uuid)""",
    "reviews without a cause": "SELECT uuid FROM reviews WHERE causes = '[]'",
    "review revisions that replace a review of another error or reviewer": """
        SELECT r.uuid FROM reviews r JOIN reviews old ON old.uuid = r.supersedes
        WHERE old.item != r.item OR old.reviewer_id != r.reviewer_id""",
}


@dataclass
class CheckReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    #: Findings that need no repair (e.g. an older schema version).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counts = ", ".join(f"{t} {n}" for t, n in self.counts.items())
        if self.ok:
            return "\n".join([f"{self.path}: OK ({counts})", *(f"  note: {n}" for n in self.notes)])
        return "\n".join(
            [f"{self.path}: {len(self.problems)} problem(s)", *(f"  - {p}" for p in self.problems)]
            + ([f"readable rows: {counts}"] if counts else [])
        )


def _copy(path: Path, folder: Path) -> Path:
    """Copy the store and its WAL (which may hold the latest answers) for inspection."""
    if not path.is_file():
        raise StoreError(f"{path}: no such results file")
    target = folder / path.name
    shutil.copyfile(path, target)
    wal = path.with_name(path.name + "-wal")
    if wal.is_file():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return target


def check_store(path: Path) -> CheckReport:
    """SQLite's integrity and foreign-key checks plus the store's own invariants."""
    report = CheckReport(Path(path))
    with tempfile.TemporaryDirectory(prefix="check-store-") as folder:
        copy = _copy(Path(path), Path(folder))
        short = cut_short(copy)
        if short:  # SQLite would read the missing tail as zeros and call the file sound
            report.problems.append(short)
        try:
            conn = sqlite3.connect(copy, isolation_level=None)
            try:
                try:
                    version = schema_version(conn)
                except StoreCorruptError:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    report.problems.append(
                        f"the schema version in meta is damaged ({row[0]!r} is not a whole number): "
                        "this program cannot tell which tables to expect; restore the store from a backup copy"
                    )
                    return report
                if version > SCHEMA_VERSION:
                    report.problems.append(
                        f"schema version {version} is newer than this program's {SCHEMA_VERSION}; update the program"
                    )
                    return report
                if version < SCHEMA_VERSION:
                    # An older store (or a new one whose set-up was cut short) is upgraded
                    # when next opened for writing: check the copy as that upgrade leaves it.
                    migrate(conn)
                    report.notes.append(
                        f"schema version {version} (upgraded to {SCHEMA_VERSION} when next opened for writing)"
                        if version
                        else "a store whose set-up had not finished (nothing stored yet); it is set up when next opened"
                    )
                integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
                if integrity != ["ok"]:
                    report.problems.extend(f"SQLite integrity: {line}" for line in integrity[:20])
                missing: dict[tuple[str, str], list[int]] = {}
                for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
                    missing.setdefault((table, parent), []).append(rowid)
                for (
                    table,
                    parent,
                ), rowids in missing.items():  # one line per kind: a recovered file may have thousands
                    report.problems.append(
                        f"{len(rowids)} {table} row(s) refer to a missing {parent} row (e.g. row {rowids[0]})"
                    )
                for description, query in _INVARIANTS.items():
                    found = conn.execute(query).fetchall()
                    if found:
                        report.problems.append(f"{len(found)} {description} (e.g. {found[0][0]})")
                report.problems.extend(damaged_metadata(conn))  # JSON that SQLite cannot tell from text
                report.counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"not a readable SQLite database: {exc}")
    return report


#: Row-by-row reading around a damaged page tries at most this many rowids.
MAX_ROWID_PROBES = 2_000_000


def _readable_rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> list[tuple]:
    """Rows that can still be read, going row by row around damaged pages."""
    select = f"SELECT {', '.join(columns)} FROM {table}"
    try:
        return conn.execute(select).fetchall()
    except sqlite3.DatabaseError:
        pass
    rows: list[tuple] = []
    try:
        high = conn.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        return rows
    # A damaged page can claim any rowid; past this the page reader (page_recovery) covers.
    for rowid in range(1, min(high, MAX_ROWID_PROBES) + 1):
        try:
            rows.extend(conn.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchall())
        except sqlite3.DatabaseError:
            continue
    return rows


def recover_store(path: Path, out: Path) -> dict[str, int]:
    """Copy every readable row of ``path`` into a new store ``out``; returns rows per table.

    Rows come from SQLite where it can still read a table (going row by row around a
    damaged page), and from the file's pages themselves (:mod:`.page_recovery`) where it
    cannot, e.g. when the file was cut short and SQLite refuses even its schema. A row
    found both ways is stored once (rows are keyed by their UUID). When nothing at all
    can be read, ``out`` is not left behind.
    """
    out = Path(out)
    if out.exists():
        raise StoreError(f"{out} exists already; recovery writes a new file")
    try:
        counts = _recover_into(Path(path), out)
    except BaseException:
        remove_store_file(out)
        raise
    if not any(counts.values()):
        remove_store_file(out)
        raise StoreError(
            f"{path}: no row could be read from it (not even from its pages); "
            "if it was copied from another computer, copy it again from there"
        )
    return counts


def _recover_into(path: Path, out: Path) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="recover-store-") as folder:
        copy = _copy(path, Path(folder))
        ResultsStore(out).close()  # a fresh store with the current schema
        target = connect(out)
        try:
            target.execute("PRAGMA foreign_keys = OFF")  # keep rows whose parents were lost
            columns = schema_columns(target, TABLES)
            # SQLite reads the missing tail of a file cut short as zeros (text padded with NULs
            # that its checks accept): such a file is read from its pages only.
            found = {} if cut_short(copy) else _rows_sqlite_reads(copy)
            try:
                from_pages = recover_rows(copy, columns)
            except (ValueError, OSError):
                from_pages = {}
            for table in TABLES:
                known = {c.name for c in columns[table]}
                with write(target) as conn:
                    for row in [*found.get(table, []), *from_pages.get(table, [])]:
                        names = [name for name in row if name in known]  # older rows may lack later columns
                        conn.execute(
                            f"INSERT OR IGNORE INTO {table}({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                            [row[name] for name in names],
                        )
            return {table: target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}
        finally:
            target.close()


def _rows_sqlite_reads(copy: Path) -> dict[str, list[dict]]:
    """The rows SQLite can still read, per table, as {column: value} dicts."""
    try:
        source = sqlite3.connect(copy, isolation_level=None)
    except sqlite3.DatabaseError:
        return {}
    try:
        found = {}
        for table in TABLES:
            try:
                columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            except sqlite3.DatabaseError:
                continue  # the schema itself is unreadable: the pages may still be
            rows = _readable_rows(source, table, columns) if columns else []
            # SQLite reads a zeroed (lost) overflow page as NULs inside a text; the store never
            # writes them, so such a row is a damaged one, not a stored one.
            found[table] = [
                dict(zip(columns, row)) for row in rows if not any(isinstance(v, str) and "\x00" in v for v in row)
            ]
        return found
    finally:
        source.close()

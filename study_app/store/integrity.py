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

from ..errors import StoreError
from .db import connect, write
from .results_store import ResultsStore
from .schema import SCHEMA_VERSION, TABLES, migrate, schema_version

_INVARIANTS = {
    "answers whose ranks are not 1..k": """
        SELECT trial_uuid FROM answers GROUP BY trial_uuid HAVING MIN(rank) != 1 OR MAX(rank) != COUNT(*)""",
    "answered trials without labels": """
        SELECT uuid FROM trials t WHERE outcome = 'answer' AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.trial_uuid = t.uuid)""",
    "non-answers (not sure, timeout, skip) with labels": """
        SELECT uuid FROM trials t WHERE outcome != 'answer' AND EXISTS (SELECT 1 FROM answers a WHERE a.trial_uuid = t.uuid)""",
    "trials answered twice in one session without a revision": """
        SELECT session_uuid FROM trials t WHERE NOT EXISTS (SELECT 1 FROM trials r WHERE r.supersedes = t.uuid)
        GROUP BY session_uuid, phase, trial_index HAVING COUNT(*) > 1""",
    "trials of sessions that are not in the store": """
        SELECT uuid FROM trials t WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.uuid = t.session_uuid)""",
    "negative response times": "SELECT uuid FROM trials WHERE rt_ms < 0",
    "reviews of review sessions that are not in the store": """
        SELECT uuid FROM reviews r WHERE NOT EXISTS (SELECT 1 FROM review_sessions s WHERE s.uuid = r.review_session_uuid)""",
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
        return "\n".join([f"{self.path}: {len(self.problems)} problem(s)", *(f"  - {p}" for p in self.problems)] + ([f"readable rows: {counts}"] if counts else []))


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
        try:
            conn = sqlite3.connect(copy, isolation_level=None)
            try:
                version = schema_version(conn)
                if version > SCHEMA_VERSION:
                    report.problems.append(f"schema version {version} is newer than this program's {SCHEMA_VERSION}; update the program")
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
                for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
                    report.problems.append(f"{table} row {rowid} refers to a missing {parent} row")
                for description, query in _INVARIANTS.items():
                    found = conn.execute(query).fetchall()
                    if found:
                        report.problems.append(f"{len(found)} {description} (e.g. {found[0][0]})")
                report.counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"not a readable SQLite database: {exc}")
    return report


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
    for rowid in range(1, high + 1):
        try:
            rows.extend(conn.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchall())
        except sqlite3.DatabaseError:
            continue
    return rows


def recover_store(path: Path, out: Path) -> dict[str, int]:
    """Copy every readable row of ``path`` into a new store ``out``; returns rows per table."""
    if Path(out).exists():
        raise StoreError(f"{out} exists already; recovery writes a new file")
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="recover-store-") as folder:
        copy = _copy(Path(path), Path(folder))
        try:
            source = sqlite3.connect(copy, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: nothing can be read ({exc})") from None
        ResultsStore(out).close()  # a fresh store with the current schema
        target = connect(Path(out))
        try:
            target.execute("PRAGMA foreign_keys = OFF")  # keep rows whose parents were lost
            for table in TABLES:
                try:
                    columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
                except sqlite3.DatabaseError:
                    columns = []
                rows = _readable_rows(source, table, columns) if columns else []
                with write(target) as conn:
                    conn.executemany(
                        f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        rows,
                    )
                counts[table] = len(rows)
        finally:
            target.close()
            source.close()
    return counts

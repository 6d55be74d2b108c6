"""Combining results stores from several desktops into one.

Rows are copied with ``INSERT OR IGNORE`` on their UUIDs, so merging is idempotent:
merging the same store twice, or a store into itself, adds nothing. Stores of different
protocols (hash) are refused. The same annotator id answering the same image on two
machines is reported as a conflict; both answers are kept for the researcher to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from ..responses import utc_now
from .allocation import place_answers
from .db import remove_store_file, table_columns, write
from .postgres import is_server_url
from .results_store import ResultsStore
from .schema import TABLES


@dataclass(frozen=True)
class Conflict:
    annotator: str
    phase: str
    image_id: str
    sessions: tuple[str, str]
    machines: tuple[str, str]


@dataclass
class MergeReport:
    """What a merge added, per table, and the conflicts found in the result."""

    inputs: list[Path]
    added: dict[str, int] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    def summary(self) -> str:
        added = ", ".join(f"{table} {count}" for table, count in self.added.items())
        lines = [f"merged {len(self.inputs)} store(s); rows added: {added}"]
        if self.conflicts:
            lines.append(f"{len(self.conflicts)} conflict(s): one annotator id answered the same image in two sessions (both kept):")
            for c in self.conflicts[:20]:
                lines.append(
                    f"  - annotator {c.annotator}, phase {c.phase}, image {c.image_id}: sessions "
                    f"{c.sessions[0][:8]} ({c.machines[0]}) and {c.sessions[1][:8]} ({c.machines[1]})"
                )
            if len(self.conflicts) > 20:
                lines.append(f"  ... and {len(self.conflicts) - 20} more")
        return "\n".join(lines)


def _pilot_kinds(store: ResultsStore) -> set[str]:
    return {"pilot" if pilot else "real" for (pilot,) in store.conn.execute("SELECT DISTINCT pilot FROM sessions")}


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


def merge_stores(out: Path, inputs: list[Path]) -> MergeReport:
    """Merge ``inputs`` into ``out`` (created if missing); one transaction per input.

    A merge refused (other protocol, pilot and real sessions) or failing into a file it
    created leaves no file behind.
    """
    created = not is_server_url(out) and not Path(out).exists()
    sources = []
    for path in inputs:
        if Path(path).resolve() == Path(out).resolve():
            continue
        sources.append(ResultsStore(path, readonly=True))
    try:
        with ResultsStore(out) as target:
            expected = target.protocol_hashes() or (sources[0].protocol_hashes() if sources else set())
            for source in sources:
                hashes = source.protocol_hashes()
                if hashes and hashes != expected:
                    raise StoreError(
                        f"{source.path}: holds answers for protocol hash(es) {', '.join(sorted(h[:12] for h in hashes))}, "
                        f"but the merge is of {', '.join(sorted(h[:12] for h in expected))}; stores of different "
                        "protocols cannot be merged"
                    )
            kinds = {store.path: _pilot_kinds(store) for store in [target, *sources]}
            if len(set().union(*kinds.values())) > 1:
                raise StoreError(
                    "cannot merge pilot (simulated) sessions with real ones: "
                    + ", ".join(f"{p.name}: {'/'.join(sorted(k)) or 'empty'}" for p, k in kinds.items())
                )
            report = MergeReport([s.path for s in sources], {table: 0 for table in TABLES})
            for source in sources:
                with write(target.conn) as conn:
                    conn.execute("PRAGMA defer_foreign_keys = ON")
                    for table in TABLES:
                        columns = table_columns(source.conn, table)
                        before = conn.total_changes
                        conn.executemany(
                            f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            source.conn.execute(f"SELECT {', '.join(columns)} FROM {table}"),
                        )
                        report.added[table] += conn.total_changes - before
                    # Into a server that shares images out: the answers take their slots, as their desktop's sync would.
                    place_answers(
                        conn,
                        source.conn.execute("SELECT uuid, session_uuid, phase, image_id, supersedes FROM trials ORDER BY rowid"),
                        utc_now(),
                    )
            report.conflicts = find_conflicts(target)
            return report
    except BaseException:
        if created:
            remove_store_file(Path(out))
        raise
    finally:
        for source in sources:
            source.close()

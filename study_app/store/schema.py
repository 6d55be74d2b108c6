"""The results store's tables, and forward migrations between schema versions.

``MIGRATIONS[i]`` takes a store from version ``i`` to ``i + 1``; a new store runs them
all. Every row has a UUID primary key so that merging stores from several desktops is
a plain ``INSERT OR IGNORE`` and merging twice changes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from study_app.errors import StoreError
from study_app.store.db import Connection
from study_app.store.metadata import meta_number

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE studies (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    protocol_hash TEXT NOT NULL UNIQUE,
    snapshot TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE annotators (
    uuid TEXT PRIMARY KEY,
    annotator_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    uuid TEXT PRIMARY KEY,
    study_uuid TEXT NOT NULL REFERENCES studies(uuid),
    annotator_id TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    app_version TEXT NOT NULL,
    machine TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    trial_order TEXT NOT NULL
);
CREATE INDEX sessions_by_annotator ON sessions(annotator_id, protocol_hash);
CREATE TABLE trials (
    uuid TEXT PRIMARY KEY,
    session_uuid TEXT NOT NULL REFERENCES sessions(uuid),
    phase TEXT NOT NULL,
    trial_index INTEGER NOT NULL,
    image_id TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    outcome TEXT NOT NULL,
    shown_at TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    rt_ms REAL NOT NULL,
    presented_ms REAL,
    supersedes TEXT REFERENCES trials(uuid)
);
CREATE INDEX trials_by_session ON trials(session_uuid, phase, trial_index);
CREATE INDEX trials_by_image ON trials(image_id, phase);
CREATE INDEX trials_by_supersedes ON trials(supersedes) WHERE supersedes IS NOT NULL;
CREATE TABLE answers (
    uuid TEXT PRIMARY KEY,
    trial_uuid TEXT NOT NULL REFERENCES trials(uuid),
    rank INTEGER NOT NULL CHECK (rank >= 1),
    label_id TEXT NOT NULL,
    UNIQUE (trial_uuid, rank)
);
CREATE TABLE flags (
    uuid TEXT PRIMARY KEY,
    trial_uuid TEXT NOT NULL REFERENCES trials(uuid),
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX flags_by_trial ON flags(trial_uuid);
CREATE TABLE events (
    uuid TEXT PRIMARY KEY,
    session_uuid TEXT NOT NULL REFERENCES sessions(uuid),
    phase TEXT,
    trial_index INTEGER,
    kind TEXT NOT NULL,
    t_ms REAL NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX events_by_session ON events(session_uuid);
"""

# Version 2: pilot (simulated) sessions are marked, so they can never pass for real data.
_V2 = """
ALTER TABLE sessions ADD COLUMN pilot INTEGER NOT NULL DEFAULT 0;
"""

# Version 3: a session's counterbalancing assignment (group, arrival order, phase order and
# image blocks; JSON), stored so that the design can be audited and reproduced.
_V3 = """
ALTER TABLE sessions ADD COLUMN assignment TEXT;
"""

# Version 4: review mode (study_app.review). A review session is one sitting of one
# reviewer; each review of one error is a row, a revised review a new row that supersedes
# the earlier one (never an update), and a proposed ground truth is kept beside the
# original it would replace.
_V4 = """
CREATE TABLE review_sessions (
    uuid TEXT PRIMARY KEY,
    reviewer_id TEXT NOT NULL,
    study_name TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    blind INTEGER NOT NULL,
    selection TEXT NOT NULL,
    taxonomy TEXT NOT NULL,
    app_version TEXT NOT NULL,
    machine TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX review_sessions_by_reviewer ON review_sessions(reviewer_id, study_name);
CREATE TABLE reviews (
    uuid TEXT PRIMARY KEY,
    review_session_uuid TEXT NOT NULL REFERENCES review_sessions(uuid),
    reviewer_id TEXT NOT NULL,
    item TEXT NOT NULL,
    rater TEXT NOT NULL,
    rater_kind TEXT NOT NULL,
    phase TEXT NOT NULL,
    image_id TEXT NOT NULL,
    trial_uuid TEXT,
    guesses TEXT NOT NULL,
    truth TEXT NOT NULL,
    causes TEXT NOT NULL,
    note TEXT NOT NULL,
    proposed_truth TEXT,
    review_ms REAL NOT NULL,
    reviewed_at TEXT NOT NULL,
    supersedes TEXT REFERENCES reviews(uuid)
);
CREATE INDEX reviews_by_item ON reviews(reviewer_id, item);
CREATE INDEX reviews_by_session ON reviews(review_session_uuid);
"""

# Version 5: allocation of images to annotators on a shared store (study_app.store.allocation).
# A phase with ``judgements_per_image = r`` has r slots per image; a session claims slots
# (session_uuid, claimed_at) and an answer fills its slot (trial_uuid). A session's last
# sign of life (heartbeat_at) decides when the slots it has not filled return to the pool.
_V5 = """
CREATE TABLE allocations (
    uuid TEXT PRIMARY KEY,
    study_uuid TEXT NOT NULL REFERENCES studies(uuid),
    phase TEXT NOT NULL,
    image_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    session_uuid TEXT,
    claimed_at TEXT,
    trial_uuid TEXT,
    UNIQUE (study_uuid, phase, image_id, slot)
);
CREATE INDEX allocations_by_session ON allocations(session_uuid);
CREATE INDEX allocations_by_trial ON allocations(trial_uuid);
ALTER TABLE sessions ADD COLUMN heartbeat_at TEXT;
"""

# Version 6: the front end a session was annotated in (``desktop``: the PyQt5 window or a
# scripted pilot; ``web``: a browser through ``serve``), and the web server's session tokens,
# kept as SHA-256 digests (never the token itself) so that a restarted server still knows a
# participant's page. Tokens belong to one server's store: merge, export and recovery leave
# them out (they are not in :data:`TABLES`); a participant without one starts again with
# their id and resumes.
_V6 = """
ALTER TABLE sessions ADD COLUMN front_end TEXT NOT NULL DEFAULT 'desktop';
CREATE TABLE web_tokens (
    token_digest TEXT PRIMARY KEY,
    session_uuid TEXT NOT NULL REFERENCES sessions(uuid),
    created_at TEXT NOT NULL
);
CREATE INDEX web_tokens_by_session ON web_tokens(session_uuid);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
#: Tables in dependency order (parents before children), as merge and recovery copy them.
TABLES = ("studies", "annotators", "sessions", "trials", "answers", "flags", "events", "review_sessions", "reviews")


def schema_version(conn: Connection, where: str | Path = "") -> int:
    """0 for an empty database, else the version recorded in ``meta`` (``where``: the store,
    named by the error about a damaged version)."""
    if not isinstance(conn, sqlite3.Connection):  # a server connection (see postgres.py)
        return conn.version()
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return meta_number(row[0], "schema_version", where) if row else 0


def migrate(conn: Connection, target: int = SCHEMA_VERSION, where: str | Path = "") -> int:
    """Bring the database up to ``target``, one version per transaction; return the old version."""
    if not isinstance(conn, sqlite3.Connection):  # on a server, under a lock, in its dialect (see postgres.py)
        return conn.migrate(MIGRATIONS, target)
    current = schema_version(conn, where)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"results store has schema version {current}, newer than "
            f"this program's {SCHEMA_VERSION}; update the program"
        )
    for version in range(current, target):
        _apply(conn, version)
    return current


def _apply(conn: sqlite3.Connection, version: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(version + 1),),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (a full disk) has rolled back already
            conn.execute("ROLLBACK")
        raise

"""Opening SQLite the way the results store needs it: durable, concurrent, never "locked".

WAL journal with ``synchronous=FULL``: a commit returns only after the answer is on disk,
readers (a researcher running statistics mid-study) never block the writer, and two app
instances on one machine take turns through ``BEGIN IMMEDIATE`` and a generous busy
timeout. Connections run in autocommit mode; :func:`write` is the only way to write.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from study_app.errors import StoreError
from study_app.io.program import program

if TYPE_CHECKING:
    from study_app.store.postgres import PgConnection

BUSY_TIMEOUT_MS = 5_000
#: How long a writer keeps retrying a locked database before telling the user.
LOCK_PATIENCE_S = 120.0
#: SQLite's own wait on a connection someone listens to: how soon they hear of a lock.
LISTENED_BUSY_TIMEOUT_MS = 250

#: Called with the seconds waited so far while a write waits for another program's lock,
#: and with ``None`` once the wait is over (the lock was had, or the writer gave up).
LockWaitListener = Callable[[float | None], None]
#: A store's connection: SQLite's, or the server connection that takes the same SQL (postgres.py).
Connection: TypeAlias = "sqlite3.Connection | PgConnection"


class StoreConnection(sqlite3.Connection):
    """A store connection that can tell a listener it is waiting for another program's lock
    (within a quarter second, see :func:`write`) instead of stalling silently."""

    lock_wait_listener: LockWaitListener | None = None


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` with the store's pragmas (creating it unless ``readonly``)."""
    try:
        if readonly:
            conn = sqlite3.connect(  # the path as a URI, escaped: a '?', '#' or '%' in a folder's name is a name
                f"{Path(path).absolute().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                factory=StoreConnection,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=StoreConnection)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{path}: cannot switch the results store to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the results store: {exc}{_hint(exc)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the results store: {exc.strerror or exc}") from None


def _is_lock(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@contextmanager
def write(conn: Connection) -> Iterator[Connection]:
    """One durable write transaction; waits out other writers instead of failing.

    Committed (and fsynced) when the block ends; rolled back if it raises. A lock held
    by another process is retried for :data:`LOCK_PATIENCE_S` before giving up.
    """
    if not isinstance(conn, sqlite3.Connection):  # a server connection (see postgres.py) has its own transactions
        with conn.transaction():
            yield conn
        return
    _begin(conn)
    deadline = time.monotonic() + LOCK_PATIENCE_S
    try:
        yield conn
    except sqlite3.Error as exc:
        _rollback(conn)
        raise StoreError(f"could not write to the results store: {exc}{_hint(exc)}") from None
    except BaseException:
        _rollback(conn)
        raise
    while True:
        try:
            conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as exc:
            if not _is_lock(exc) or time.monotonic() > deadline:
                _rollback(conn)
                raise StoreError(f"could not commit to the results store: {exc}{_hint(exc)}") from None
            time.sleep(0.01)
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(f"could not commit to the results store: {exc}{_hint(exc)}") from None


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, retried for :data:`LOCK_PATIENCE_S` while another program holds the lock."""
    started = time.monotonic()
    listener = getattr(conn, "lock_wait_listener", None)
    waited = False
    if listener is not None:  # SQLite's own wait, short only here: reads keep the usual patience
        conn.execute(f"PRAGMA busy_timeout = {LISTENED_BUSY_TIMEOUT_MS}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock(exc):
                    raise StoreError(f"cannot write to the results store: {exc}{_hint(exc)}") from None
                if time.monotonic() - started > LOCK_PATIENCE_S:
                    raise StoreError(f"results store is busy or locked by another program: {exc}") from None
                if listener is not None:
                    waited = True
                    _tell(listener, time.monotonic() - started)
                time.sleep(0.01)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the results store: {exc}{_hint(exc)}") from None
    finally:
        if listener is not None:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if waited:
                _tell(listener, None)


def _tell(listener: LockWaitListener, waited_s: float | None) -> None:
    """Tell the listener; a failure there (a window gone) must not fail the write it watches."""
    try:
        listener(waited_s)
    except Exception:  # noqa: BLE001 - the answer matters more than the message about it
        pass


def _hint(exc: sqlite3.Error) -> str:
    """What an annotator or researcher can do about an I/O failure."""
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text:  # "disk image is malformed" is no disk problem
        return f" (the file is damaged: {program()} check-store FILE says what can be recovered from it)"
    if "disk" in text or "full" in text or "readonly" in text or "read-only" in text:
        return " (is the disk full, read-only or disconnected? Free space or fix the folder, then try again)"
    return ""


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite may have ended it on an I/O error)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def remove_store_file(path: Path) -> None:
    """Remove a store file this program just created (with its WAL and shared-memory files),
    e.g. after a merge or recovery into it failed: a half-made file would block the next try."""
    for part in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        part.unlink(missing_ok=True)


def table_columns(conn, table: str) -> list[str]:
    """A table's columns in order, on SQLite or on a server connection."""
    if isinstance(conn, sqlite3.Connection):
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    return conn.columns(table)


def serialize(conn, key: str) -> None:
    """Within a write transaction: let only one writer at a time past this point for ``key``.

    SQLite's write transaction already holds the whole file; on a server this takes a
    transaction-scoped advisory lock, e.g. so that two desktops starting at once cannot
    take the same place in a counterbalancing rotation.
    """
    if not isinstance(conn, sqlite3.Connection):
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))

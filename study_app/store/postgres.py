"""The results store on a PostgreSQL server: a connection that speaks the store's SQL.

The store's code is written once, in the SQL that SQLite and PostgreSQL share, with
SQLite's ``?`` placeholders. :class:`PgConnection` offers the few parts of
``sqlite3.Connection`` the store uses (``execute``, ``executemany``, ``total_changes``,
``close``) and translates each statement on the way (cached):

- ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``);
- ``INSERT OR IGNORE INTO ...`` becomes ``INSERT INTO ... ON CONFLICT DO NOTHING``;
- ``group_concat(x, sep)`` becomes ``string_agg(x, sep)``;
- ``PRAGMA ...`` (SQLite tuning, e.g. deferring foreign keys) does nothing: here every
  foreign key is created ``DEFERRABLE INITIALLY DEFERRED``, which is what those pragmas ask.

The migrations of :mod:`.schema` are translated too (:func:`translate_ddl`): ``REAL``
becomes ``DOUBLE PRECISION`` (PostgreSQL's ``REAL`` is 4 bytes and would round response
times), foreign keys become deferrable, and every table gets a ``rowid BIGSERIAL`` column,
so queries that order by SQLite's implicit ``rowid`` (insertion order) mean the same here.
That column is not part of the logical schema: :meth:`PgConnection.columns` leaves it out.

Durability: every write is one transaction, committed with ``synchronous_commit = on``
(the server has flushed its write-ahead log before the commit returns). Migrations run
under an advisory lock, so that twenty desktops starting at once against an empty
database create the schema exactly once.

Losing the server (refused, closed, shut down) raises :class:`ServerUnavailableError`,
which the offline journal (:mod:`.journal`) catches; every other database error is a
plain :class:`StoreError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from study_app.errors import StoreError
from study_app.io.store_url import (
    parse_url,
    printable_location,
    server_url,
    url_problem,
    without_secrets,
)
from study_app.store.metadata import meta_number

CONNECT_TIMEOUT_S = 5
#: Key of the advisory lock that serialises migrations (any constant; "study-app").
_MIGRATION_LOCK = 0x5354_5544_5941_5050 & 0x7FFF_FFFF_FFFF_FFFF
#: A network that drops silently (cable pulled, Wi-Fi gone) is noticed within seconds, not
#: after the operating system's TCP timeouts of minutes: keepalive probes on an idle
#: connection, and a limit on unacknowledged data while a statement is sent.
_TCP: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
#: SQLSTATE classes and codes that mean the server is gone (not that the statement was wrong).
_GONE_CLASSES = ("08",)
_GONE_CODES = {"57P01", "57P02", "57P03"}
#: ... and those that mean it cannot take the statement *now*: out of disk, memory or
#: connections (class 53); a statement timeout or cancel (57014), a lock not had (55P03), a
#: deadlock or serialisation failure (40P01, 40001); a read-only server after a failover
#: (25006); a transaction idle too long (25P03). Retrying later is right for all of them.
_BUSY_CLASSES = ("53",)
_BUSY_CODES = {"57014", "55P03", "40P01", "40001", "25006", "25P03"}


#: Rows per multi-row INSERT in :meth:`PgConnection.executemany` (parameters stay far below 65,535).
ROWS_PER_INSERT = 500
_VALUES = re.compile(r"^INSERT INTO \w+\s*\([^)]*\)\s*VALUES\s*(\((?:%s,\s*)*%s\))", re.IGNORECASE)


class ServerUnavailableError(StoreError):
    """The PostgreSQL server cannot be reached (down, refusing, or it closed the connection)."""


class ServerBusyError(ServerUnavailableError):
    """The server is there but cannot take the statement now (see ``_BUSY_CODES``): try later."""


class ServerAddress(str):
    """A server URL as the store shows it: the password is never printed.

    A ``str`` (the URL as :func:`~study_app.io.store_url.printable_location` shows it) with the
    parts of ``pathlib.Path`` that the store's messages and manifests use (``name``: the
    database name). A URL that cannot be taken apart for sure is refused (:func:`usable_server_url`).
    """

    url: str

    def __new__(cls, url: str) -> ServerAddress:
        url = usable_server_url(url)
        shown = super().__new__(cls, printable_location(url))
        shown.url = url
        return shown

    @property
    def name(self) -> str:
        return parse_url(self.url).path.lstrip("/") or "postgres"

    def hidden(self, text: str) -> str:
        """``text`` (a driver's message) without this URL's secrets."""
        return without_secrets(text, self.url)


def usable_server_url(url: str) -> str:
    """``url`` as the driver is given it (see :func:`~study_app.io.store_url.server_url`); a URL
    that cannot be taken apart for sure is refused here, before the driver reads it (its
    error would quote the URL's tokens)."""
    if isinstance(url, ServerAddress):  # its text is redacted: keep the real URL
        return url.url
    url = server_url(url)
    problem = url_problem(url)
    if problem:
        raise StoreError(
            f"{printable_location(url)}: not a usable server URL: {problem}. The form is "
            "postgresql://user:password@host:port/database, with special characters of the user name and "
            "password %-encoded ('%' as %25, '/' as %2F, '?' as %3F, '@' as %40, '#' as %23, '&' as %26)"
        )
    return url


def translate_ddl(script: str) -> list[str]:
    """One migration script (SQLite-and-PostgreSQL SQL) as PostgreSQL statements."""
    statements = []
    for statement in script.split(";"):
        if not statement.strip():
            continue
        statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)
        statement = re.sub(r"(\bREFERENCES\s+\w+\s*\(\s*\w+\s*\))", r"\1 DEFERRABLE INITIALLY DEFERRED", statement)
        statement = re.sub(
            r"^(\s*CREATE\s+TABLE\s+\w+\s*\()", r"\1\n    rowid BIGSERIAL,", statement, flags=re.IGNORECASE
        )
        statements.append(statement.strip())
    return statements


@lru_cache(maxsize=512)
def translate(sql: str) -> str | None:
    """A runtime statement in PostgreSQL's dialect; ``None`` for one that has no meaning there."""
    text = sql.strip()
    if text.upper().startswith("PRAGMA"):
        return None
    text = text.replace("%", "%%").replace("?", "%s")
    text = re.sub(r"\bgroup_concat\s*\(", "string_agg(", text, flags=re.IGNORECASE)
    ignore = re.match(r"INSERT\s+OR\s+IGNORE\s+INTO\b", text, flags=re.IGNORECASE)
    if ignore:
        text = "INSERT INTO" + text[ignore.end() :] + " ON CONFLICT DO NOTHING"
    return text


class _NoRows:
    """What a statement without meaning here (a PRAGMA) returns."""

    rowcount = 0
    description = None

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list:
        return []

    def __iter__(self) -> Iterator:
        return iter(())


class PgConnection:
    """A psycopg connection that takes the store's SQL (see the module docstring)."""

    dialect = "postgresql"

    def __init__(self, address: ServerAddress, readonly: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a results store on a PostgreSQL server needs psycopg: pip install -e '.[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.address = address
        self.total_changes = 0
        options = "-c synchronous_commit=on" + (" -c default_transaction_read_only=on" if readonly else "")
        try:
            self.raw = psycopg.connect(
                address.url, autocommit=True, options=options, application_name="study-app", **_TCP
            )
        except psycopg.Error as exc:
            raise ServerUnavailableError(
                f"{address}: cannot connect to the results server: {address.hidden(_first_line(exc))}"
            ) from None
        self._transaction_depth = 0

    # -- the part of sqlite3.Connection the store uses ---------------------------------
    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        statement = translate(sql)
        if statement is None:
            return _NoRows()
        with self._errors():
            cursor = self.raw.cursor()
            cursor.execute(statement, tuple(params))
            self._count(cursor)
            return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        """Many rows; an ``INSERT ... VALUES (...)`` goes as one multi-row statement per
        :data:`ROWS_PER_INSERT` rows (one round trip instead of one per row)."""
        statement = translate(sql)
        if statement is None:
            return _NoRows()
        rows = [tuple(row) for row in rows]
        values = _VALUES.search(statement)
        with self._errors():
            cursor = self.raw.cursor()
            if values is None or not rows or "DO UPDATE" in statement.upper():  # one row may not be updated twice
                cursor.executemany(statement, rows)
                self._count(cursor)
                return cursor
            head, group, tail = statement[: values.start(1)], values.group(1), statement[values.end(1) :]
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                cursor.execute(head + ", ".join([group] * len(chunk)) + tail, [v for row in chunk for v in row])
                self._count(cursor)
            return cursor

    @property
    def in_transaction(self) -> bool:
        return self._transaction_depth > 0

    def close(self) -> None:
        self.raw.close()

    # -- what SQLite does with pragmas and sqlite_master -------------------------------
    def columns(self, table: str) -> list[str]:
        """The table's columns in order, without the ``rowid`` this backend adds."""
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [name for (name,) in rows if name != "rowid"]

    def has_table(self, table: str) -> bool:
        return self.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """One durable transaction: committed when the block ends, rolled back if it raises."""
        with self._errors():
            with self.raw.transaction():
                self._transaction_depth += 1
                try:
                    yield self
                finally:
                    self._transaction_depth -= 1

    def migrate(self, migrations: tuple[str, ...], target: int) -> int:
        """Apply ``migrations[current:target]`` under the migration lock; return the old version."""
        with self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            current = self.version()
            if current > len(migrations):
                raise StoreError(
                    f"{self.address}: results store has schema version {current}, newer than this program's "
                    f"{len(migrations)}; update the program"
                )
            for version in range(current, target):
                for statement in translate_ddl(migrations[version]):
                    with self._errors():
                        self.raw.execute(statement)
                self.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(version + 1),),
                )
        return current

    def version(self) -> int:
        if not self.has_table("meta"):
            return 0
        row = self.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return meta_number(row[0], "schema_version", self.address) if row else 0

    # -- helpers ------------------------------------------------------------------------
    def _count(self, cursor: Any) -> None:
        if cursor.rowcount and cursor.rowcount > 0 and cursor.description is None:
            self.total_changes += cursor.rowcount

    def is_gone(self, exc: BaseException) -> bool:
        """True when ``exc`` means the server or the connection is lost (not a bad statement)."""
        psycopg = self._psycopg
        if not isinstance(exc, psycopg.Error):
            return False
        state = getattr(exc, "sqlstate", None) or ""
        return (
            self.raw.closed
            or self.raw.broken
            or isinstance(exc, psycopg.InterfaceError)
            or state.startswith(_GONE_CLASSES)
            or state in _GONE_CODES
        )

    @staticmethod
    def is_busy(exc: BaseException) -> bool:
        """True when ``exc`` means the server cannot take the statement now (see ``_BUSY_CODES``)."""
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(_BUSY_CLASSES) or state in _BUSY_CODES

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            said = self.address.hidden(_first_line(exc))
            if self.is_gone(exc):
                raise ServerUnavailableError(f"{self.address}: lost the results server: {said}") from None
            if self.is_busy(exc):
                raise ServerBusyError(f"{self.address}: the results server cannot take this now: {said}") from None
            raise StoreError(f"{self.address}: {said}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""A real PostgreSQL server for the tests of this folder, started once per test session.

It is never skipped: when the server cannot be started (no binaries, no psycopg), every
test here fails with the reason, so that CI cannot pass without testing the server store.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .pg_server import PgServer

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    import psycopg  # noqa: F401 - fails here, loudly, when the 'postgres' extra is missing

    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server (the server restarted if a test stopped it)."""
    if not pg_server.is_running():
        pg_server.start()
    return pg_server.create_database(f"t{next(_numbers)}")

"""A real PostgreSQL server for the tests of this folder, started once per test session.

It is never skipped: when the server cannot be started (no binaries, no psycopg), every
test here fails with the reason, so that CI cannot pass without testing the server store.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from study_app.store import ResultsStore
from tests.store.postgres.pg_server import PgServer

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


def at_once(url: str, desktops: int, work) -> list:
    """``work(store, number)`` for each desktop on a thread of its own, each with its own
    connection to ``url``, all let go at the same moment; the results in desktop order
    (the first error any desktop met is raised)."""
    barrier = threading.Barrier(desktops)
    results: list = [None] * desktops
    errors: list[BaseException] = []

    def desktop(number: int) -> None:
        try:
            with ResultsStore(url) as store:
                barrier.wait()
                results[number] = work(store, number)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=desktop, args=(n,)) for n in range(desktops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def allocated_study(
    root, per_class_test: int = 3, r: int = 2, share: int = 3, release_min: float | None = None, training: int = 1
):
    """A tiny study (tests.factory) whose test phase shares its images out: r answers per image."""
    from tests.factory import make_study

    folder = make_study(root, per_class_train=training, per_class_test=per_class_test)
    toml = folder / "study.toml"
    extra = f"judgements_per_image = {r}\nimages_per_annotator = {share}\n"
    if release_min is not None:
        extra += f"release_after_min = {release_min}\n"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("break_every = 4\n", "break_every = 4\n" + extra), encoding="utf-8"
    )
    return folder


def answer_all(controller, label: str = "cat", limit: int | None = None) -> int:
    """Answer the session's trials the way a scripted participant does; returns how many."""
    from study_app.protocol.responses import Response, utc_now

    done = 0
    while not controller.complete and (limit is None or done < limit):
        now = utc_now()
        controller.submit(Response((label,), 100.0 + done, now, now))
        done += 1
    return done

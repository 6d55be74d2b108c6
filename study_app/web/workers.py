"""The threads that own the results store for the web server.

The server answers many pages at once on one event loop, but a store connection (and each
participant's :class:`~study_app.session.controller.SessionController` that writes through
it) must stay on one thread. So the store lives in worker threads: one for a SQLite file
(SQLite has one writer at a time anyway, and one thread keeps its transactions in a queue
instead of in lock waits), several for a PostgreSQL server (each with its own connection).
A participant is pinned to one worker for the life of the server, so its controller is
only ever touched by that worker's thread, in the order its requests came.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from study_app.store.results_store import ResultsStore

T = TypeVar("T")

#: Worker threads (store connections) for a PostgreSQL store.
SERVER_WORKERS = 4


class StoreWorkers:
    """One thread and one store connection per worker; :meth:`run` calls a function on one of them.

    Besides the writers, one reader thread holds a read-only connection for what only reads
    (the researcher's progress page, finding a page's token after a restart), so that a slow
    read never holds up an answer queued for a SQLite file's only writer.
    """

    def __init__(self, location: str | Path, *, pilot: bool, count: int) -> None:
        self._location = location
        self._pilot = pilot
        self._local = threading.local()
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{number}") for number in range(count)
        ]
        self._reader: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")
        for executor in self._executors:  # opened now: a store that cannot be used stops the server at its start
            executor.submit(self.store).result()

    def worker_of(self, key: str) -> int:
        """The worker a participant (by annotator id) is pinned to: the same one on every start."""
        return zlib.crc32(key.encode("utf-8")) % len(self._executors)

    def store(self, readonly: bool = False) -> ResultsStore:
        """The calling thread's store (opened on its first use)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = ResultsStore(self._location, readonly=readonly, pilot=self._pilot, front_end="web")
            store.check_kind()  # a real store refuses a pilot server and the other way round
            self._local.store = store
        return store

    async def run(self, worker: int, call: Callable[[ResultsStore], T]) -> T:
        """``call(store)`` on ``worker``'s thread, awaited without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executors[worker], lambda: call(self.store()))

    async def read(self, call: Callable[[ResultsStore], T]) -> T:
        """``call(store)`` on the reader thread, with a read-only connection."""
        if self._reader is None:
            raise RuntimeError("the store workers are closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, lambda: call(self.store(readonly=True)))

    def close(self) -> None:
        """Close each thread's store on that thread (a SQLite connection belongs to the thread
        that opened it), then end the threads."""
        executors = [*self._executors, *([self._reader] if self._reader else [])]
        self._executors, self._reader = [], None
        for executor in executors:
            executor.submit(self._close_local).result()
            executor.shutdown(wait=True)

    def _close_local(self) -> None:
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None

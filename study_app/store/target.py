"""Opening the store that a merge or an import writes into.

Both may create the file. If they then fail (refused input, conflict, full disk), a new
half-made store must not stay behind: the next try would take it for a real one. And a
folder that cannot hold the store is reported as such, before anything is tried, instead
of surfacing as whatever the clean-up of the failed attempt runs into.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from study_app.errors import StoreError
from study_app.io.store_url import is_server_url
from study_app.store.db import remove_store_file
from study_app.store.results_store import ResultsStore


@contextmanager
def open_target(location: Path | str) -> Iterator[ResultsStore]:
    """The store at ``location``, open for writing; a file this call created is removed again
    if the block raises."""
    if is_server_url(location):
        with ResultsStore(location) as store:
            yield store
        return
    path = Path(location)
    created = not path.exists()
    if created:
        check_folder(path)
    try:
        with ResultsStore(path) as store:
            yield store
    except BaseException:
        if created and path.exists():
            remove_store_file(path)
        raise


def check_folder(path: Path) -> None:
    """Refuse a new store whose folder is a file, read-only, or not ours to write in."""
    folder = path.parent
    while (
        not folder.exists() and folder != folder.parent
    ):  # a folder still to be made: its first existing parent decides
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"cannot create {path}: {folder} is a file, not a folder; choose another place for the store")
    if not os.access(folder, os.W_OK | os.X_OK):  # also False on a read-only file system, for root too
        raise StoreError(
            f"cannot create {path}: the folder {folder} is read-only or not writable for this user; "
            "choose a writable folder for the store"
        )

"""Noticing that the results file under an open session was deleted or replaced.

On Linux and macOS an open SQLite connection keeps writing to a file that someone deleted
(or that a sync tool replaced): every answer after that would be committed to a file no
one can reach and lost when the window closes. Before each answer the store asks
:class:`FileGuard` whether the path still leads to the file it opened. If not, everything
the open connection still holds is written back (to the original path when it was
deleted, beside it when another file took its place) and the caller is told, so the
annotator sees what happened and submits the answer again into the rescued file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from study_app.errors import StoreError
from study_app.store.db import connect


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


class FileGuard:
    """Remembers which file a store opened and rescues its contents if that file goes away."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity = _identity(path)

    def repair(self, conn: sqlite3.Connection) -> tuple[sqlite3.Connection, str] | None:
        """``None`` while the file is in place; else (connection to the rescued file, what happened)."""
        now = _identity(self.path)
        if now == self.identity:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for suffix in ("-wal", "-shm"):  # our journal files must not be read as part of whatever file is there now
            leftover = self.path.with_name(self.path.name + suffix)
            if leftover.exists():
                leftover.replace(leftover.with_name(f"{leftover.name}.stale-{stamp}"))
        if now is None:
            target, what = self.path, "was deleted"
        else:
            target = self.path.with_name(f"{self.path.stem}.rescued-{stamp}{self.path.suffix}")
            what = "was replaced by another file (which is left as it is)"
        try:
            with closing(sqlite3.connect(target)) as copy:
                conn.backup(copy)
            rescued = connect(target)
        except (sqlite3.Error, OSError, StoreError) as exc:
            raise StoreError(
                f"the results file {self.path} {what} while this session was open, and writing its answers back to "
                f"{target} failed ({exc}); keep this window open, free the disk or fix the folder, and try again"
            ) from None
        conn.close()
        original, self.path, self.identity = self.path, target, _identity(target)
        return rescued, (
            f"the results file {original} {what} while this session was open; every answer so far was written "
            f"back from memory to {target}. This answer is not saved yet: submit it again"
        )

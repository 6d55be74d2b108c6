"""Where a command may write, and how: the one guard for every file a command writes.

A mistyped ``--out`` must never cost a researcher their data. Every command that writes
files (export, report, compare, review exports, predict, new-study, merge, import,
simulate) asks :func:`check_output` first, which refuses a path that is a results store
or one of SQLite's side files (``-wal``, ``-shm``, ``-journal``; an offline journal is a
store too), a file the same command reads, or anything inside a protocol folder (a
folder holding a ``study.toml``, at any depth above): protocols are exchanged between
labs and must stay exactly as their authors wrote them.

Files are then written with :func:`replacing`: each goes to a temporary file in its own
folder, is flushed to disk, and only then renamed over the old file, so a full disk, a
crash or Ctrl-C leaves the previous output whole. Files that belong together (a table
and its manifest) are renamed only after all of them were written completely.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from study_app.errors import StudyError
from study_app.io.results_folder import journal_dir

SQLITE_HEADER = b"SQLite format 3\x00"
#: SQLite's write-ahead log starts with one of these magic numbers.
WAL_HEADERS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
#: Files SQLite keeps beside a database while it is open or after a crash.
SIDE_FILES = ("-wal", "-shm", "-journal")
PROTOCOL_FILE = "study.toml"


class OutputRefusedError(StudyError):
    """An output path would destroy a store, a journal, an input or a protocol."""


class OutputWriteError(StudyError):
    """An output could not be written (disk full, no permission); the previous file is whole."""


#: What a path is that exists but is neither a regular file nor a folder, by its ``stat`` mode.
_SPECIAL_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(path: Path) -> str | None:
    """What ``path`` is if it exists but is neither a regular file nor a folder (links followed), else None.

    Told from ``stat`` alone, without opening: opening a FIFO waits for ever for its other
    end, and a device may act on being opened. An output there is refused, because the
    atomic writer would rename a regular file over it (``--out /dev/null`` run as root
    replaced the machine's ``/dev/null``).
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # absent, unreachable, or a name no system accepts: nothing special there
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((kind for is_kind, kind in _SPECIAL_KINDS if is_kind(mode)), "not a regular file")


def _starts_with(path: Path, headers: Iterable[bytes]) -> bool:
    """``path`` is a regular file that starts with one of ``headers``; nothing else is ever opened."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        # O_NONBLOCK: a FIFO swapped in after the stat must not block the open either.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):  # absent, unreadable: not a store we could recognise
        return False
    try:
        head = os.read(handle, 16) if stat.S_ISREG(os.fstat(handle).st_mode) else b""
    except OSError:
        return False
    finally:
        os.close(handle)
    return any(head.startswith(header) for header in headers)


def _is_side_file(path: Path) -> bool:
    """A write-ahead log, or a ``-wal``/``-shm``/``-journal`` file beside a SQLite database."""
    if _starts_with(path, WAL_HEADERS):
        return True
    return any(
        path.name.endswith(suffix) and _starts_with(path.with_name(path.name[: -len(suffix)]), (SQLITE_HEADER,))
        for suffix in SIDE_FILES
    )


def _is_store(path: Path) -> bool:
    """A SQLite database (results store or offline journal), or a side file of one."""
    return _starts_with(path, (SQLITE_HEADER,)) or _is_side_file(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return a.resolve() == b.resolve()


def _is_input(path: Path, inputs: Iterable[str | Path | None]) -> bool:
    """``path`` is one of ``inputs`` under any name (a link, ``./``); server URLs are not files."""
    return any(_same_file(path, Path(source)) for source in inputs if source is not None and "://" not in str(source))


def protocol_folder_above(path: Path) -> Path | None:
    """The nearest protocol folder that is ``path`` or holds it, if any."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        if (folder / PROTOCOL_FILE).is_file():
            return folder
    return None


def _refusal(path: Path, inputs: Iterable[str | Path | None]) -> str | None:
    """Why writing ``path`` would destroy something, or None."""
    if _is_store(path):
        return "is a results store (or one of its -wal/-shm/-journal files); writing there would destroy its answers"
    if _is_input(path, inputs):
        return "is one of this command's own inputs; writing there would destroy what it reads"
    if (protocol := protocol_folder_above(path)) is not None:
        return f"is inside the protocol folder {protocol} (it holds {PROTOCOL_FILE}); outputs never go into a protocol"
    return None


def check_output(path: str | Path, inputs: Iterable[str | Path | None] = (), what: str = "--out") -> Path:
    """Refuse (with :class:`OutputRefusedError`) an output file that would destroy something.

    ``inputs`` are the files the command reads (``None`` entries and server URLs are
    skipped); ``what`` names the option in the message. Returns ``path`` as a Path.
    """
    path = Path(path)
    why = _not_a_file(path) or _refusal(path, inputs) or ("is a folder; name a file" if path.is_dir() else None)
    if why:
        raise OutputRefusedError(f"{what} {path} {why}; choose another path")
    return path


def _not_a_file(path: Path) -> str | None:
    """Why an existing ``path`` that is neither a file nor a folder cannot be written, or None."""
    kind = special_kind(path)
    return f"is {kind}, not a regular file; writing there would replace it with a file" if kind else None


def check_output_folder(folder: str | Path, inputs: Iterable[str | Path | None] = (), what: str = "--out") -> Path:
    """:func:`check_output` for a folder the command fills with files of its own."""
    folder = Path(folder)
    not_a_folder = folder.exists() and not folder.is_dir()
    why = _refusal(folder, inputs) or (f"is {special_kind(folder) or 'a file'}, not a folder" if not_a_folder else None)
    if why:
        raise OutputRefusedError(f"{what} {folder} {why}; choose another folder")
    return folder


def _is_offline_journal(path: Path) -> bool:
    """A server desktop's offline journal: in the journals' folder, or holding its copy marks."""
    if path.resolve().parent == journal_dir().resolve():
        return True
    if not _starts_with(path, (SQLITE_HEADER,)):
        return False
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT 1 FROM meta WHERE key LIKE 'journal_sent:%' LIMIT 1").fetchone() is not None
    except sqlite3.Error:  # no meta table: not one of ours, and not a journal
        return False


def check_store_output(
    store: str | Path, inputs: Iterable[str | Path | None] = (), what: str = "--store"
) -> str | Path:
    """Refuse a store that a command adds to (merge, import, simulate, annotate, review,
    ``check-store --recover``) where that would destroy something.

    Unlike other outputs it may be an existing store, but not one of the command's
    inputs, an offline journal (its rows would be sent to a server under another
    desktop's name), a -wal/-shm/-journal side file or a file named like one, a device
    or FIFO, or a file in a protocol folder.
    A server URL is passed through.
    """
    if "://" in str(store):
        return store
    path = Path(store)
    if (special := _not_a_file(path)) is not None:
        why = special
    elif _is_side_file(path) or path.name.endswith(SIDE_FILES):
        # By name too: a store named x-wal is taken by SQLite for the log of a store x beside
        # it (one there now, or made later), and deleted with everything in it.
        why = "is (or is named like) one of SQLite's -wal/-shm/-journal files, not a store"
    elif _is_input(path, inputs):
        why = "is also one of this command's inputs; name a separate store"
    elif (protocol := protocol_folder_above(path)) is not None:
        why = f"is inside the protocol folder {protocol} (it holds {PROTOCOL_FILE}); stores never go into a protocol"
    elif _is_offline_journal(path):
        why = "is an offline journal of a results server (sync it, or merge it in as an input)"
    else:
        return path
    raise OutputRefusedError(f"{what} {path} {why}; choose another path")


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (not possible on every system: then skipped)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


#: A temporary of :func:`replacing` older than this is a left-over of a killed run (a
#: write in progress touches its file all the time), removed when that target is written again.
STALE_TEMPORARY_S = 3600


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _remove_stale_temporaries(targets: Iterable[Path]) -> None:
    """Remove what killed runs left of our temporaries of ``targets`` (SIGKILL skips every clean-up).

    Only names made by :func:`_temporary` for these very targets, only regular files, and
    only those untouched for :data:`STALE_TEMPORARY_S`: a concurrent writer's temporary is
    never old, and nothing of the user's is named ``.<target>.<8 hex digits>.tmp``.
    """
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        by_folder.setdefault(target.parent, set()).add(target.name)
    cutoff = time.time() - STALE_TEMPORARY_S
    for folder, names in by_folder.items():
        pattern = re.compile(rf"\.({'|'.join(map(re.escape, names))})\.[0-9a-f]{{8}}\.tmp")
        try:
            with os.scandir(folder) as entries:
                stale = [
                    e.path
                    for e in entries
                    if pattern.fullmatch(e.name)
                    and e.is_file(follow_symlinks=False)
                    and e.stat(follow_symlinks=False).st_mtime < cutoff
                ]
            for path in stale:
                os.unlink(path)
        except OSError:  # a left-over that stays is harmless; this write has succeeded
            pass


def _through_link(target: Path) -> Path:
    """The file a symbolic link names: the link itself stays, as it did when outputs were written in place."""
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _refuse_special(targets: Iterable[Path]) -> None:
    for target in targets:
        if (why := _not_a_file(target)) is not None:
            raise OutputRefusedError(f"{target} {why}; choose another path")


def _failure(exc: OSError, temporaries: tuple[Path, ...], targets: tuple[Path, ...], placed: list[Path]) -> str:
    """The message for ``exc``: a failed write names its target, a failed read the file it read."""
    kept = (
        f"only {', '.join(map(str, placed))} was replaced" if placed else "every earlier file there is left as it was"
    )
    written = ", ".join(map(str, targets))
    reason = exc.strerror or str(exc)
    if exc.filename is None:  # a write to an open file (a full disk) names none
        return f"cannot write {written}: {reason}; {kept}"
    failed = Path(exc.filename)
    if failed in temporaries or failed in targets or any(failed in target.parents for target in targets):
        named = dict(zip(temporaries, targets)).get(failed, failed)
        return f"cannot write {written}: {reason} ({named}); {kept}"
    return f"{failed}: {reason}, so {written} could not be written; {kept}"


@contextmanager
def replacing(*targets: Path, durable: bool = True) -> Iterator[tuple[Path, ...]]:
    """Temporary paths for ``targets``; once the block has written them all, each is put in place.

    The block writes each temporary completely (any way it likes: text, Parquet, an ONNX
    export). Then every temporary is flushed to disk and renamed over its target, in the
    order given; any failure before the renames removes the temporaries and leaves every
    target as it was. (The renames themselves allocate no space; should one still fail
    part-way, the message names the targets already replaced.) Raises :class:`OutputWriteError` for a failed write,
    naming the file that failed (a file the block read, if that was it). A target that is a
    symbolic link is written where the link points. A target that is a device, FIFO or
    socket is refused (:class:`OutputRefusedError`) before anything is written: renaming a
    file over it would replace it. ``durable=False`` skips the flushes, for caches: a lost
    cache file is only rebuilt, and thousands of flushes would slow a first start down by a
    minute; caches are also not searched for left-over temporaries of killed runs, which
    every other write removes (:func:`_remove_stale_temporaries`).
    """
    _refuse_special(targets)
    targets = tuple(map(_through_link, targets))
    temporaries = tuple(map(_temporary, targets))
    placed: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a folder of that name is in the way", str(target))
        yield temporaries
        for temporary in temporaries if durable else ():
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
        _refuse_special(targets)  # again: one may have been put there while the block wrote
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
            placed.append(target)
    except OSError as exc:
        raise OutputWriteError(_failure(exc, temporaries, targets, placed)) from None
    finally:
        for temporary in temporaries:
            if temporary.exists():
                temporary.unlink()
    if durable:
        for folder in {target.parent for target in targets}:
            _fsync_folder(folder)
        _remove_stale_temporaries(targets)


def write_files(contents: dict[Path, bytes], durable: bool = True) -> None:
    """Write several files so that either all are replaced or none (see :func:`replacing`)."""
    targets = tuple(contents)
    with replacing(*targets, durable=durable) as temporaries:
        for temporary, target in zip(temporaries, targets):
            with open(temporary, "xb") as handle:
                handle.write(contents[target])


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    write_files({path: data}, durable)


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, line endings as given."""
    write_files({path: text.encode("utf-8")})

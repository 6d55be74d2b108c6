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
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from .errors import StudyError

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


def _starts_with(path: Path, headers: Iterable[bytes]) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:  # absent, a folder, unreadable: not a store we could recognise
        return False
    return any(head.startswith(header) for header in headers)


def _is_side_file(path: Path) -> bool:
    """A write-ahead log, or a ``-wal``/``-shm``/``-journal`` file beside a SQLite database."""
    if _starts_with(path, WAL_HEADERS):
        return True
    return any(
        path.name.endswith(suffix) and _starts_with(path.with_name(path.name[: -len(suffix)]), (SQLITE_HEADER,)) for suffix in SIDE_FILES
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
    why = _refusal(path, inputs) or ("is a folder; name a file" if path.is_dir() else None)
    if why:
        raise OutputRefusedError(f"{what} {path} {why}; choose another path")
    return path


def check_output_folder(folder: str | Path, inputs: Iterable[str | Path | None] = (), what: str = "--out") -> Path:
    """:func:`check_output` for a folder the command fills with files of its own."""
    folder = Path(folder)
    why = _refusal(folder, inputs) or ("is a file, not a folder" if folder.exists() and not folder.is_dir() else None)
    if why:
        raise OutputRefusedError(f"{what} {folder} {why}; choose another folder")
    return folder


def _is_offline_journal(path: Path) -> bool:
    """A server desktop's offline journal: in the journals' folder, or holding its copy marks."""
    from .store.journal import JOURNAL_DIR

    if path.resolve().parent == JOURNAL_DIR.resolve():
        return True
    if not _starts_with(path, (SQLITE_HEADER,)):
        return False
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT 1 FROM meta WHERE key LIKE 'journal_sent:%' LIMIT 1").fetchone() is not None
    except sqlite3.Error:  # no meta table: not one of ours, and not a journal
        return False


def check_store_output(store: str | Path, inputs: Iterable[str | Path | None] = (), what: str = "--store") -> str | Path:
    """Refuse a store that a command adds to (merge, import, simulate) where that would destroy something.

    Unlike other outputs it may be an existing store, but not one of the command's
    inputs, an offline journal (its rows would be sent to a server under another
    desktop's name), a -wal/-shm/-journal side file, or a file in a protocol folder.
    A server URL is passed through.
    """
    if "://" in str(store):
        return store
    path = Path(store)
    if _is_side_file(path):
        why = "is one of SQLite's -wal/-shm/-journal files, not a store"
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


@contextmanager
def replacing(*targets: Path, durable: bool = True) -> Iterator[tuple[Path, ...]]:
    """Temporary paths for ``targets``; once the block has written them all, each is put in place.

    The block writes each temporary completely (any way it likes: text, Parquet, an ONNX
    export). Then every temporary is flushed to disk and renamed over its target, in the
    order given; any failure before the renames removes the temporaries and leaves every
    target as it was. (The renames themselves allocate no space; should one still fail
    part-way, the message names the targets already replaced.) Raises :class:`OutputWriteError` for a failed write. ``durable=False``
    skips the flushes, for caches: a lost cache file is only rebuilt, and thousands of
    flushes would slow a first start down by a minute.
    """
    temporaries = tuple(target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp") for target in targets)
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
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
            placed.append(target)
    except OSError as exc:
        named = dict(zip(map(str, temporaries), map(str, targets))).get(str(exc.filename), exc.filename)
        kept = f"only {', '.join(map(str, placed))} was replaced" if placed else "every earlier file there is left as it was"
        raise OutputWriteError(
            f"cannot write {', '.join(map(str, targets))}: {exc.strerror or exc}{f' ({named})' if named else ''}; {kept}"
        ) from None
    finally:
        for temporary in temporaries:
            if temporary.exists():
                temporary.unlink()
    for folder in {target.parent for target in targets} if durable else ():
        _fsync_folder(folder)


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

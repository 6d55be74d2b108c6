"""Reading a file a protocol names: a regular file of a bounded size, or a clear refusal.

Protocol folders come from other labs. A named pipe where ``labels.csv`` should be would
block every reader for ever, and an 8 GB "CSV" would end in a ``MemoryError``; so every
reader of a study's text files (CSV tables, study.toml, the instructions) goes through
:func:`read_input_bytes`, which looks at the file with ``stat`` *before* opening it and
refuses anything but a regular file within the limit for its kind. The limits fit an
ILSVRC-scale study with room to spare: a 50,000-row manifest is about 4 MB, 5 million
prediction rows about 300 MB.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from study_app.errors import StudyError

#: Largest file read, by kind (README, "Limits on the files of a study").
MAX_BYTES = {
    "CSV file": 512 << 20,
    # read in batches into columns of codes (about 20 bytes a row): 67 models x 50,000 images x top-5 is 700 MB
    "predictions file": 4 << 30,
    "protocol": 1 << 20,
    "instructions file": 1 << 20,
    "image file": 512 << 20,
    "class-index array": 1 << 30,
    "id list": 64 << 20,
}


class UnusableInputError(StudyError):
    """A named file is not a regular file, or is larger than its kind may be."""


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / (1 << 20):,.0f} MiB)" if count >= 1 << 20 else f"{count:,} bytes"


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def size_problem(size: int, kind: str) -> str:
    """Why a file of ``size`` bytes is refused as a ``kind`` ("" if it is not)."""
    return f"file is {_size(size)}; {_a(kind)} is at most {_size(MAX_BYTES[kind])}" if size > MAX_BYTES[kind] else ""


def check_input_file(path: Path, kind: str) -> os.stat_result:
    """``stat`` of ``path`` if it is a regular file within the limit of ``kind``.

    Raises :class:`FileNotFoundError` (and other ``OSError``) as ``os.stat`` does, and
    :class:`UnusableInputError` for a pipe, device or folder, or a file over the limit.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise UnusableInputError("not a regular file (a pipe, device or folder); name a file")
    too_large = size_problem(info.st_size, kind)
    if too_large:
        raise UnusableInputError(too_large)
    return info


def unreadable(exc: OSError | UnusableInputError, what: str = "file") -> str:
    """Why :func:`check_input_file` or :func:`read_input_bytes` failed, said for the person who named
    the file (``what``: how the message calls it when it is missing)."""
    if isinstance(exc, FileNotFoundError):
        return f"{what} not found"
    if isinstance(exc, UnusableInputError):
        return str(exc)
    return f"cannot read file: {exc.strerror or exc}"


def read_input_bytes(path: Path, kind: str) -> bytes:
    """The bytes of ``path`` after :func:`check_input_file`; a file that grew past the limit
    while being read is refused too."""
    size, limit = check_input_file(path, kind).st_size, MAX_BYTES[kind]
    with open(path, "rb") as handle:
        data = handle.read(size)  # what stat promised (a read of the limit would reserve all of it)
        more = handle.read(1)
        if more:  # it grew since
            data += more + handle.read(limit - len(data))
    if len(data) > limit:
        raise UnusableInputError(
            f"file grew past {_size(MAX_BYTES[kind])} while being read; {_a(kind)} is at most that"
        )
    return data

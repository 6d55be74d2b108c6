"""Resolving file references from untrusted study files without leaving their folder.

Protocol folders travel between labs. A manifest or label file must not be able to
point at ``/etc/passwd`` or ``../../home`` through an absolute path, ``..`` parts or a
symlink that leads out of the folder, so every reference is resolved here.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TypeGuard

#: A relative path in canonical form: no empty, ``.`` or ``..`` part, no backslash, colon
#: or NUL, no surrounding spaces; exactly what :func:`resolve_inside` accepts as written.
_PLAIN = re.compile(r"(?![\s/])(?:(?!\.\.?(?:/|$))[^/\\\x00:]+/)*(?!\.\.?$)[^/\\\x00:]+(?<!\s)")


def plain_reference(reference: str | None) -> TypeGuard[str]:
    return reference is not None and _PLAIN.fullmatch(reference) is not None


class PathEscapeError(ValueError):
    """A relative reference that is absolute or leads outside its root folder."""


def resolve_inside(root: Path, reference: str) -> Path:
    """Return ``root / reference`` resolved, refusing anything outside ``root``.

    References use forward slashes (as written in CSV/TOML files); backslashes are
    accepted as separators too so files written on Windows still work.
    """
    # A plain reference (the usual case) skips the checks it passes by its form.
    parts = reference.split("/") if plain_reference(reference) else _checked_parts(root, reference)
    real_root = _real(str(root))
    parent = _real(os.path.join(real_root, *parts[:-1])) if len(parts) > 1 else real_root
    target = os.path.join(parent, parts[-1])
    if os.path.islink(target):
        target = os.path.realpath(target)
    if not _inside(target, real_root) or not _inside(parent, real_root):
        raise PathEscapeError(f"path {reference.strip()!r} leads outside {root.name}/ (through a symbolic link)")
    return Path(target)


def _checked_parts(root: Path, reference: str) -> tuple[str, ...]:
    """The parts of a reference in any other form, refusing what may not be written."""
    text = reference.strip()
    if not text:
        raise PathEscapeError("empty path")
    if "\x00" in text:
        raise PathEscapeError("path contains a NUL character")
    posix = PurePosixPath(text.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise PathEscapeError(f"absolute path {text!r} is not allowed; write it relative to {root.name}/")
    if not posix.parts:
        raise PathEscapeError(f"path {text!r} names the folder itself, not a file in it")
    if ".." in posix.parts:
        raise PathEscapeError(f"path {text!r} uses '..'; paths must stay inside {root.name}/")
    return posix.parts


@lru_cache(maxsize=8192)
def _real(folder: str) -> str:
    """Symlink-free absolute form of a folder; cached, as 50,000 images share few folders."""
    return os.path.realpath(folder)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

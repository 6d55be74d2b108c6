"""Resolving file references from untrusted study files without leaving their folder.

Protocol folders travel between labs. A manifest or label file must not be able to
point at ``/etc/passwd`` or ``../../home`` through an absolute path, ``..`` parts or a
symlink that leads out of the folder, so every reference is resolved here.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


class PathEscapeError(ValueError):
    """A relative reference that is absolute or leads outside its root folder."""


def resolve_inside(root: Path, reference: str) -> Path:
    """Return ``root / reference`` resolved, refusing anything outside ``root``.

    References use forward slashes (as written in CSV/TOML files); backslashes are
    accepted as separators too so files written on Windows still work.
    """
    text = reference.strip()
    if not text:
        raise PathEscapeError("empty path")
    if "\x00" in text:
        raise PathEscapeError("path contains a NUL character")
    posix = PurePosixPath(text.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise PathEscapeError(f"absolute path {text!r} is not allowed; write it relative to {root.name}/")
    if ".." in posix.parts:
        raise PathEscapeError(f"path {text!r} uses '..'; paths must stay inside {root.name}/")
    real_root = root.resolve()
    target = (real_root / posix).resolve()
    if target != real_root and real_root not in target.parents:
        raise PathEscapeError(f"path {text!r} leads outside {root.name}/ (through a symbolic link)")
    return target

"""Where start-up caches live, and how they are read and written safely.

Caches make a second start fast (validated image hashes, the label search index, example
thumbnails). They hold nothing that cannot be recomputed, so they live in the user's
cache folder, ``$XDG_CACHE_HOME/study-app/`` (default ``~/.cache/study-app/``), never
beside a study or its results: protocol folders and results travel between machines and
labs, and a cache must never travel with them. ``STUDY_APP_NO_CACHE=1`` switches every
cache off (each start then does all the work again).

Every cache file carries a format version; one that cannot be read, is corrupt, or has
another version is ignored and rebuilt. Files are written to a temporary name and
renamed into place, so a crash or a second process never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from study_app.io.output_guard import OutputWriteError, write_bytes

NO_CACHE_VARIABLE = "STUDY_APP_NO_CACHE"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/study-app`` (default ``~/.cache/study-app``), not created here."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "study-app"


def cache_dir(kind: str) -> Path | None:
    """``<cache_root>/<kind>`` for a start-up cache, or None when caches are off."""
    if os.environ.get(NO_CACHE_VARIABLE, "").strip() not in ("", "0"):
        return None
    return cache_root() / kind


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; failures are silent (a cache is optional)."""
    try:
        write_bytes(path, data, durable=False)
    except OutputWriteError:
        pass


def read_json(path: Path | None, version: int) -> dict[str, Any] | None:
    """The payload of a cache file written by :func:`write_json`; None if absent, corrupt or of another version."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != version or not isinstance(data.get("payload"), dict):
        return None
    return data["payload"]


def write_json(path: Path | None, version: int, payload: dict[str, Any]) -> None:
    if path is not None:
        write_atomically(path, json.dumps({"version": version, "payload": payload}, separators=(",", ":")).encode())

"""What an earlier validation of a study already established, so the next start need not redo it.

Checking a full-size study means decoding and SHA-256 hashing 50,000 images and reading
millions of prediction rows: minutes, on every start of the annotation window. This
cache remembers, per study folder, the result for each file:

- each trial image: its SHA-256 and whether it decoded cleanly (``True``; ``False``: not
  decoded yet; or the reason it did not decode, found by the background check of a
  session that started before decoding them, see :mod:`study_app.session.study_cache`); each
  example image: that it exists; keyed by its path and its size, modification time,
  change time and inode (one ``lstat``);
- each predictions file: that it had no problems against the label set and manifest of
  that time, keyed by its own key and a digest of the study's text files.

A file whose key changed is checked and hashed again, so an edited, replaced or touched
image never passes with its old hash. The residual risk: an in-place edit that keeps the
size and leaves both timestamps as they were (within the file system's timestamp
granularity of the previous write, or on a file system without a real change time, such as
FAT or some network shares) would go unnoticed; ``validate --rehash``
(``load_study(..., rehash=True)``) ignores the cache and checks and hashes every file
again. A cached entry is only used for a plain relative reference (no ``..``, no absolute
path) to a regular file (not a symbolic link) whose folder still resolves to the same real
folder, which is what :func:`~study_app.io.paths.resolve_inside` would establish; every
other reference takes the full path.

The cache lives in ``$XDG_CACHE_HOME/study-app/validation/`` (see :mod:`study_app.caches.files`).
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
from pathlib import Path
from typing import Any

from study_app.caches.files import cache_dir, read_json, write_json
from study_app.io.paths import plain_reference

_EMPTY: dict = {}
#: Bumped whenever what is cached, or how a file is checked, changes.
VERSION = 1


def file_key(info: os.stat_result) -> list[int]:
    """What must stay equal for a file's cached result to hold."""
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def regular_file_stat(path: Path) -> os.stat_result | None:
    """``stat`` of a regular file (following links), or None if there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info if stat_module.S_ISREG(info.st_mode) else None


class ValidationCache:
    """Per-file validation results of one study folder; a disabled cache remembers nothing."""

    def __init__(self, root: Path, rehash: bool = False) -> None:
        folder = cache_dir("validation")
        real_root = os.path.realpath(root)
        self._path = folder / f"{hashlib.sha256(os.fsencode(real_root)).hexdigest()[:32]}.json" if folder else None
        payload = (None if rehash else read_json(self._path, VERSION)) or {}
        valid = payload.get("root") == real_root
        #: folder -> file name -> [size, mtime_ns, ctime_ns, inode, sha256, decoded]
        self._old: dict[str, dict[str, list]] = (
            payload["files"] if valid and isinstance(payload.get("files"), dict) else {}
        )
        self._old_predictions: dict[str, list] = (
            payload["predictions"] if valid and isinstance(payload.get("predictions"), dict) else {}
        )
        self._files: dict[str, dict[str, list]] = {}
        self._predictions: dict[str, list] = {}
        self._real_folders: dict[str, bool] = {}
        self._folder_paths: dict[str, Path] = {}
        self._root = real_root

    @property
    def enabled(self) -> bool:
        """False when caches are switched off (STUDY_APP_NO_CACHE): nothing is kept."""
        return self._path is not None

    def known_file(self, root: Path, reference: str | None, need_hash: bool) -> tuple[Path, str, bool | str] | None:
        """``(path, sha256, decoded)`` of ``root/reference`` if it is unchanged since it was checked.

        ``need_hash``: the earlier check must have hashed it (an example file is only
        checked to exist). ``decoded``: True, False (not decoded yet) or why it did not decode.
        """
        if not self._old or not plain_reference(reference):
            return None
        candidate = os.path.join(root, *reference.split("/"))  # as remember() and the study write it, on any system
        folder, name = os.path.split(candidate)
        try:
            entry: Any = self._old.get(folder, _EMPTY).get(name)  # from a JSON file: anything until checked
            usable = len(entry) == 6 and isinstance(entry[4], str) and (entry[4] or not need_hash)
            usable = usable and isinstance(entry[5], (bool, str))
        except (AttributeError, TypeError, KeyError):  # a damaged cache file that is still valid JSON
            usable = False
        if not usable or not self._real_folder(folder) or not self._same_file(candidate, entry):
            return None
        self._files.setdefault(folder, {})[name] = entry
        return (
            self._folder_path(folder) / name,
            entry[4],
            entry[5],
        )  # a child of a known Path: half the cost of Path(candidate)

    def unchanged(self, path: str) -> bool:
        """The file at ``path`` (absolute, as the study holds it) is the one this cache checked."""
        entry = self._entry(path)
        return entry is not None and self._same_file(path, entry)

    def decoded(self, path: str) -> bool:
        """The cache knows the file at ``path`` decoded cleanly (and it is unchanged since)."""
        entry = self._entry(path)
        return entry is not None and entry[5] is True and self._same_file(path, entry)

    def record_decodes(self, outcomes: list[tuple[str, list[int], bool | str]]) -> None:
        """Write at once what decoding files found: ``(path, key before decoding, True or the
        reason)``; an entry whose file changed meanwhile is left alone."""
        for path, key, outcome in outcomes:
            entry = self._entry(path)
            if entry is not None and entry[:4] == key:
                entry[5] = outcome
        if self._path is not None:
            write_json(
                self._path, VERSION, {"root": self._root, "files": self._old, "predictions": self._old_predictions}
            )

    def _entry(self, path: str) -> list | None:
        """The earlier check's entry for the file at ``path`` (absolute), if it has one."""
        folder, name = os.path.split(path)
        entry = self._old.get(folder, _EMPTY).get(name)
        return entry if isinstance(entry, list) and len(entry) == 6 else None

    @staticmethod
    def _same_file(path: str, entry: list) -> bool:
        try:
            info = os.lstat(path)
        except OSError:
            return False
        return stat_module.S_ISREG(info.st_mode) and entry[:4] == file_key(info)

    def _folder_path(self, folder: str) -> Path:
        known = self._folder_paths.get(folder)
        if known is None:
            known = self._folder_paths[folder] = Path(folder)
        return known

    def _real_folder(self, folder: str) -> bool:
        """The folder is its own real path (no symbolic link on the way): checked once per folder."""
        known = self._real_folders.get(folder)
        if known is None:
            known = self._real_folders[folder] = os.path.realpath(folder) == folder
        return known

    def remember(self, path: Path, before: os.stat_result, sha256: str, decoded: bool) -> None:
        """Record a file checked now; ``before`` is its ``stat`` taken *before* it was read."""
        folder, name = os.path.split(str(path))
        self._files.setdefault(folder, {})[name] = [*file_key(before), sha256, decoded]

    def predictions_checked(self, path: Path, context: str) -> bool:
        """The predictions file was checked without problems against the same study text files."""
        entry = self._old_predictions.get(str(path))
        if not isinstance(entry, list):
            return False
        try:
            unchanged = entry == [*file_key(os.stat(path)), context]
        except OSError:
            return False
        if unchanged:
            self._predictions[str(path)] = entry
        return unchanged

    def keep_predictions(self) -> None:
        """Predictions were not read this time: keep what earlier checks found about them."""
        self._predictions = dict(self._old_predictions)

    def remember_predictions(self, path: Path, before: os.stat_result, context: str) -> None:
        self._predictions[str(path)] = [*file_key(before), context]

    def save(self) -> None:
        """Write what this load used or established (entries of files no longer used are dropped)."""
        if self._path is None or (self._files == self._old and self._predictions == self._old_predictions):
            return
        write_json(self._path, VERSION, {"root": self._root, "files": self._files, "predictions": self._predictions})

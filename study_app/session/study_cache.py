"""The checked study kept on disk between starts of the annotation window, and the checks
that run in the background while the annotator works.

A full-size study (1000 classes, 13,000 example images, 50,500 trial images) takes
seconds to read and check even when every image's result is in the validation cache
(:mod:`study_app.caches.validation`): 63,500 ``stat`` calls, 65,000 CSV rows and as many
Python objects. The annotator should see the first image within a second and a half, so:

- **Snapshot.** After a successful check the :class:`~study_app.protocol.study.Study` is kept in
  ``$XDG_CACHE_HOME/study-app/studies/`` (pickled; the image tables are plain string
  columns, :mod:`study_app.protocol.image_table`). The next start uses it if no file the study was
  read from (study.toml, label files, manifest, examples list, instructions, predictions)
  changed: same size, modification and change time and inode. Any change, a new program
  version, or a damaged or foreign cache file means a full check.
- **Images, in the background.** The snapshot does not re-``stat`` 63,500 image files
  before the first trial. A :class:`BackgroundCheck` does it while the session runs, at
  the lowest thread priority; if any file changed, the snapshot is dropped so that the
  next start checks the study again in full. Until then nothing unchecked is shown: the
  window verifies each trial image's SHA-256 against the study's as it loads it
  (``load_image(..., sha256=...)``), so an answer always records the image that was shown.
- **Decoding, in the background.** Decoding every pixel of 50,000 images takes about 50 s
  of CPU (1 ms an image even at 1/8 scale), too long before a first start. The session's
  check hashes each image it has not seen before (0.08 ms); decoding those images
  (``Study.undecoded``) is left to the :class:`BackgroundCheck`, which records the
  outcome in the validation cache. An image that does not decode is reported at the next
  start like any broken image (the study is refused until it is fixed); in the running
  session, a trial whose image cannot be decoded (or exceeds the pixel limit, which
  :func:`~study_app.io.images.load_image` checks before decoding) is skipped and flagged as
  broken, as it always was.

``python main.py validate`` still checks everything in the foreground.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat as stat_module
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from study_app.caches.files import cache_dir, write_atomically
from study_app.caches.validation import ValidationCache, file_key, regular_file_stat
from study_app.protocol.image_checks import check_image_file
from study_app.protocol.image_table import ImageTable, PathTable
from study_app.protocol.study import Study, find_study, load_study_with_inputs
from study_app.version import __version__

#: Bumped whenever what a snapshot holds changes (the program version is checked as well).
VERSION = 2  # 2: labels have kinds (a snapshot of version 1 would give every label none)
#: Decoding outcomes written to the validation cache at a time (each write is the whole cache file).
RECORD_EVERY = 5000
#: Files modified this recently before a check are not trusted to a snapshot (timestamp granularity).
MTIME_MARGIN_NS = 2_000_000_000


def _snapshot_path(root: Path) -> Path | None:
    folder = cache_dir("studies")
    if folder is None:
        return None
    return folder / f"{hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:32]}.pickle"


def _input_keys(inputs: tuple[Path, ...]) -> list[tuple[str, list[int]]] | None:
    keys = []
    for path in inputs:
        info = regular_file_stat(path)
        if info is None:
            return None
        keys.append((str(path), file_key(info)))
    return keys


def _own_file(path: Path) -> bool:
    """Ours alone: a pickle is only read from a file this user owns and nobody else may write
    (on Windows, which has no such mode bits, the user's own profile folder vouches for it)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat_module.S_ISREG(info.st_mode):
        return False
    user = getattr(os, "geteuid", None)
    return user is None or (info.st_uid == user() and not info.st_mode & 0o022)


def read_snapshot(root: Path) -> tuple[Study, list[tuple[str, list[int]]]] | None:
    """The study as checked last time and the keys of its files, if none of them changed since."""
    path = _snapshot_path(root)
    if path is None or not _own_file(path):
        return None
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
        fresh = (
            payload["version"] == VERSION
            and payload["program"] == __version__
            and payload["root"] == os.path.realpath(root)
            and all(file_key(os.stat(name)) == key for name, key in payload["inputs"])
        )
        study = payload["study"]
    except Exception:  # noqa: BLE001 - any damage or change means: check the study in full
        return None
    return (study, payload["inputs"]) if fresh and isinstance(study, Study) else None


def write_snapshot(study: Study, inputs: list[tuple[str, list[int]]]) -> None:
    """Keep ``study`` for the next start; ``inputs``: the keys its files had when they were read."""
    path = _snapshot_path(study.root)
    if path is None:
        return
    payload = {
        "version": VERSION,
        "program": __version__,
        "root": os.path.realpath(study.root),
        "inputs": inputs,
        "study": study,
    }
    try:
        write_atomically(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a cache that cannot be written only means a slower next start


def drop_snapshot(root: Path) -> None:
    path = _snapshot_path(root)
    if path is not None:
        path.unlink(missing_ok=True)


def load_study_for_session(name_or_path: str | Path) -> tuple[Study, BackgroundCheck]:
    """The study for an annotation session, and what is left to check while it runs."""
    root = find_study(name_or_path)
    cached = read_snapshot(root)
    if cached is not None:
        return cached[0], BackgroundCheck(cached[0], cached[1], verify_files=True)
    started_ns = time.time_ns()
    study, inputs = load_study_with_inputs(root, for_session=True)
    keys = _input_keys(inputs)
    # A file modified while (or just before) it was read may have been read in its old
    # state under its new key: no snapshot then (the margin covers coarse timestamps).
    if keys is not None and all(key[1] < started_ns - MTIME_MARGIN_NS for _, key in keys):
        write_snapshot(study, keys)
    else:
        keys = None
    return study, BackgroundCheck(study, keys, verify_files=False)


class BackgroundCheck:
    """The image checks a session's start left out (see the module docstring).

    :meth:`run` is meant for a thread of its own; it stops soon after ``stop`` is set,
    keeping what it found so far. ``inputs`` are the snapshot's file keys, to write it
    again once every image is decoded (None: no snapshot to keep).
    """

    def __init__(self, study: Study, inputs: list[tuple[str, list[int]]] | None, verify_files: bool) -> None:
        self.study = study
        self.inputs = inputs
        self.verify_files = verify_files
        #: What was found: image paths that changed or did not decode (for tests and logs).
        self.changed: list[str] = []
        self.broken: list[str] = []
        self.done = False

    def run(
        self, stop: threading.Event, lower_priority: Callable[[], None] | None = None, delay_s: float = 0.0
    ) -> None:
        """Check; ``delay_s`` first leaves the start-up the machine to itself."""
        if lower_priority is not None:
            lower_priority()
        if stop.wait(delay_s):
            return
        cache = ValidationCache(self.study.root)
        if self.verify_files and not self._verify(cache, stop):
            return
        undecoded = [self.study.images[i].path for i in sorted(self.study.undecoded)]
        outcomes: list[tuple[str, list[int], bool | str]] = []
        for path in undecoded:
            if stop.is_set():
                break
            if cache.decoded(str(path)):
                continue
            outcomes.append(self._decode(path))
            if len(outcomes) >= RECORD_EVERY:
                cache.record_decodes(outcomes)
                outcomes = []
        if outcomes:
            cache.record_decodes(outcomes)
        if self.broken:
            drop_snapshot(self.study.root)  # the next start reports them (from the validation cache)
        elif not stop.is_set():
            self.done = True
            if self.study.undecoded and self.inputs is not None:
                write_snapshot(replace(self.study, undecoded=frozenset()), self.inputs)

    def _verify(self, cache: ValidationCache, stop: threading.Event) -> bool:
        """Every image and example file is still the one checked; else drop the snapshot."""
        images, examples = self.study.images, self.study.labels.examples
        assert isinstance(images, ImageTable) and isinstance(examples, PathTable)  # as load_study makes them
        for path in (*images.path_strings(), *examples.path_strings()):
            if stop.is_set():
                return False
            if not cache.unchanged(path):
                self.changed.append(path)
                drop_snapshot(self.study.root)
                return False
        return True

    def _decode(self, path: Path) -> tuple[str, list[int], bool | str]:
        """The decode check a full validation makes, as ``(path, key before reading, True or the reason)``."""
        check = check_image_file(path, True, self.study.max_pixels)
        if check.before is None or check.error:
            self.broken.append(str(path))
        if check.before is None:
            return str(path), [], "image file not found"
        return str(path), file_key(check.before), check.error or True

"""Example thumbnails on disk, so that a later start shows a class's examples without decoding them.

Decoding and shrinking the 13 example photos of a class takes tens of milliseconds; a
96-pixel thumbnail read back from disk takes a fraction of one. Thumbnails live in the
user's cache folder (``$XDG_CACHE_HOME/study-app/thumbnails/``, see :mod:`study_app.caches.files`),
one small file per source image and size, named by a digest of the source's path, size,
modification and change times, inode and the thumbnail size: an edited or replaced
example gets a new name, and the old file is simply never read again (delete the folder
to reclaim the space). Thumbnails with few colours (digits, drawings) are kept as PNG so
enlarged pixels stay crisp; photos as JPEG (quality 90). A file that does not decode is
treated as absent and written again.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from study_app.caches.files import cache_dir, write_atomically

#: Bumped whenever the way thumbnails are made changes (size rule, resampling, format).
VERSION = 1


class ThumbnailCache:
    """Thumbnails of image files at one or more box sizes; a disabled cache finds nothing and keeps nothing."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else cache_dir("thumbnails")

    def file_for(self, source: Path, box: int) -> Path | None:
        """Where the thumbnail of the file as it is now lives (None: caching is off or the source is gone)."""
        if self.folder is None:
            return None
        try:
            info = os.stat(source)
        except OSError:
            return None
        key = (
            f"{VERSION}\0{os.path.abspath(source)}\0{info.st_size}\0"
            f"{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\0{box}"
        )
        digest = hashlib.sha256(os.fsencode(key)).hexdigest()  # a path need not be UTF-8
        return self.folder / digest[:2] / f"{digest[2:34]}.thumb"

    def load(self, target: Path | None, box: int) -> Image.Image | None:
        """The RGB thumbnail at ``target`` (from :meth:`file_for`), or None if absent or damaged."""
        if target is None:
            return None
        try:
            with Image.open(target) as opened:
                if opened.format not in ("PNG", "JPEG") or max(opened.size) > box:
                    return None
                opened.load()
                return opened.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None

    @staticmethod
    def store(target: Path | None, thumbnail: Image.Image) -> None:
        """Keep ``thumbnail`` at ``target``, named from the source's state *before* it was decoded."""
        if target is None:
            return
        data = io.BytesIO()
        if thumbnail.getcolors(256) is not None:
            thumbnail.save(data, "PNG")
        else:
            thumbnail.save(data, "JPEG", quality=90)
        write_atomically(target, data.getvalue())

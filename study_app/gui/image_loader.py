"""Decoding images off the GUI thread, with a bounded in-memory cache.

Annotators must never wait for an image: the next trials' images are decoded ahead in
a thread pool (Pillow releases the GIL while decoding), and example thumbnails are made
the same way when a class is highlighted. Results arrive through Qt's queued signals on
the GUI thread; only ``QImage`` (safe in any thread) crosses threads, never ``QPixmap``.

Thumbnails are also kept on disk (:mod:`study_app.caches.thumbnails`): a thumbnail job
reads the cached file when there is one, and :meth:`ImageLoader.prebuild` fills the
disk cache for all example images in a background thread of the lowest priority, so
the examples of any class show at once from the next start on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image
from PyQt5.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal
from PyQt5.QtGui import QImage

from study_app.caches.thumbnails import ThumbnailCache
from study_app.errors import ImageError
from study_app.io.images import load_image
from study_app.io.thread_priority import lowest_thread_priority


def pil_to_qimage(image: Image.Image) -> QImage:
    """An independent QImage copy of an 8-bit RGB Pillow image."""
    data = image.tobytes("raw", "RGB")
    return QImage(data, image.width, image.height, 3 * image.width, QImage.Format_RGB888).copy()


def fit_size(size: tuple[int, int], bounds: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled to fit ``bounds`` with its aspect ratio kept."""
    scale = min(bounds[0] / size[0], bounds[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def make_thumbnail(path: Path, box: int, max_pixels: int) -> Image.Image:
    """``path`` shrunk to fit ``box`` x ``box``; tiny images (digits) are enlarged pixel by pixel."""
    image = load_image(path, max_pixels, draft_size=(box, box))
    factor = box // max(image.size)
    if factor >= 2:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    image.thumbnail((box, box), Image.Resampling.LANCZOS)
    return image


def cached_thumbnail(disk: ThumbnailCache, path: Path, box: int, max_pixels: int) -> Image.Image:
    """The thumbnail from the disk cache, or made now and kept there."""
    target = disk.file_for(path, box)
    image = disk.load(target, box)
    if image is None:
        image = make_thumbnail(path, box, max_pixels)
        disk.store(target, image)
    return image


class _Job(QRunnable):
    def __init__(
        self,
        loader: ImageLoader,
        key: str,
        path: Path,
        *,
        box: int | None,
        fit: tuple[int, int] | None,
        max_pixels: int,
        sha256: str | None,
    ) -> None:
        super().__init__()
        self.loader, self.key, self.path, self.box, self.fit, self.max_pixels = loader, key, path, box, fit, max_pixels
        self.sha256 = sha256

    def run(self) -> None:
        try:
            if self.box:
                image = cached_thumbnail(self.loader.disk, self.path, self.box, self.max_pixels)
            else:
                image = load_image(self.path, self.max_pixels, sha256=self.sha256)
            if self.fit:
                # Scaled here, off the GUI thread, to the size the view will paint it at.
                target = fit_size(image.size, self.fit)
                enlarge = target[0] / image.width
                method = Image.Resampling.NEAREST if enlarge >= 2 else Image.Resampling.BICUBIC
                image = image.resize(target, method)
            self._deliver(pil_to_qimage(image), "")
        except ImageError as exc:
            self._deliver(QImage(), str(exc))

    def _deliver(self, image: QImage, error: str) -> None:
        try:
            self.loader._done.emit(self.key, image, error)
        except RuntimeError:  # the loader (and its window) were deleted meanwhile: nobody waits for this image
            pass


class ImageLoader(QObject):
    """Loads images by key in a thread pool and keeps the most recent ones in memory.

    ``box`` set: a thumbnail fitting ``box`` x ``box``. Emits :attr:`ready` (key) or
    :attr:`failed` (key, message). The cache is bounded by ``budget_bytes``.
    """

    ready = pyqtSignal(str)
    failed = pyqtSignal(str, str)
    _done = pyqtSignal(str, QImage, str)

    def __init__(self, budget_bytes: int, max_pixels: int, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._budget = budget_bytes
        self._max_pixels = max_pixels
        self._cache: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self._pending: set[str] = set()
        self._errors: dict[str, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._done.connect(self._store)
        self.disk = ThumbnailCache()
        self._prebuilder: threading.Thread | None = None
        self._prebuild_requested = False
        self._stop_prebuild = threading.Event()
        self.destroyed.connect(self._stop_prebuild.set)
        self._closed = False

    @property
    def prebuild_requested(self) -> bool:
        """:meth:`prebuild` was called (it acts once per loader)."""
        return self._prebuild_requested

    def prebuild(self, paths: Sequence[Path], box: int) -> threading.Thread | None:
        """Put the thumbnails of ``paths`` (in that order) into the disk cache in the background.

        One daemon thread at the lowest priority, started once per loader; it stops when
        the loader is destroyed. Unreadable images are skipped (the pane reports them).
        """
        if self._prebuild_requested or self.disk.folder is None:
            self._prebuild_requested = True
            return self._prebuilder
        self._prebuild_requested = True
        disk, max_pixels, stop = self.disk, self._max_pixels, self._stop_prebuild

        def build() -> None:
            lowest_thread_priority()
            for path in paths:
                if stop.is_set():
                    return
                target = disk.file_for(path, box)
                if target is not None and not target.is_file():
                    try:
                        disk.store(target, make_thumbnail(path, box, max_pixels))
                    except ImageError:
                        continue

        self._prebuilder = threading.Thread(target=build, name="thumbnail-prebuild", daemon=True)
        self._prebuilder.start()
        return self._prebuilder

    def set_budget(self, budget_bytes: int) -> None:
        """Change the cache bound (the window sizes it to the images it decodes ahead)."""
        self._budget = budget_bytes
        self._evict()

    def get(self, key: str) -> QImage | None:
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
        return image

    def error(self, key: str) -> str | None:
        return self._errors.get(key)

    def request(
        self,
        key: str,
        path: Path,
        box: int | None = None,
        fit: tuple[int, int] | None = None,
        sha256: str | None = None,
    ) -> bool:
        """Start loading unless cached or under way; True if the image is already there.

        ``box``: a square thumbnail of that size; ``fit``: scaled to fit (width, height);
        ``sha256``: the file must still have this digest (a trial image: the one the study checked).
        """
        if key in self._cache:
            self._cache.move_to_end(key)
            return True
        if key not in self._pending and key not in self._errors and not self._closed:
            self._pending.add(key)
            self._pool.start(_Job(self, key, path, box=box, fit=fit, max_pixels=self._max_pixels, sha256=sha256))
        return False

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until queued jobs are done (for benchmarks)."""
        return self._pool.waitForDone(msecs)

    def close(self, msecs: int = 2000) -> bool:
        """For a closing window: no new jobs (a pane's late timer may still ask), queued ones
        dropped, the prebuild stopped, and up to ``msecs`` for those running to end."""
        self._closed = True
        self._stop_prebuild.set()
        self._pool.clear()
        return self._pool.waitForDone(msecs)

    def _store(self, key: str, image: QImage, error: str) -> None:
        self._pending.discard(key)
        if error:
            self._errors[key] = error
            self.failed.emit(key, error)
            return
        self._cache[key] = image
        self._bytes += image.sizeInBytes()
        self._evict()
        self.ready.emit(key)

    def _evict(self) -> None:
        """Drop the least recently used images until the cache fits its budget."""
        while self._bytes > self._budget and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.sizeInBytes()


#: Memory a window keeps for thumbnails (examples of classes), beside its large images.
THUMB_CACHE_BYTES = 48 << 20


def window_loaders(
    window: QObject,
    image_bytes: int,
    max_pixels: int,
    ready: Callable[[str], None],
    failed: Callable[[str, str], None],
) -> tuple[ImageLoader, ImageLoader]:
    """The two loaders of a window that shows images (annotation or review): one for its large
    images, ``image_bytes`` of them kept, that tells ``ready`` and ``failed`` of each, and one for
    thumbnails; both die with the window."""
    images = ImageLoader(image_bytes, max_pixels, parent=window)
    images.ready.connect(ready)
    images.failed.connect(failed)
    return images, ImageLoader(THUMB_CACHE_BYTES, max_pixels, parent=window)

"""The trial image: large, undistorted, centred; zoomable; reports when it was painted.

Response times start when the image is first *painted*, not when it was requested
(PsychoPy's users found RTs off by half a frame for that reason), so the view emits
:attr:`painted` (what was shown, monotonic time) at the first paint of each new screen.
It also draws the psychophysics screens: a fixation cross and a noise mask.
"""

from __future__ import annotations

import time

import numpy as np
from PyQt5.QtCore import QRect, QSize, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PyQt5.QtWidgets import QSizePolicy, QWidget

BACKGROUND = QColor(128, 128, 128)
ZOOM_STEP = 1.25
MAX_ZOOM = 8.0


def noise_mask(size: int = 256, seed: int = 0) -> QImage:
    """A grey-level noise image, the mask shown after a timed presentation."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    image = QImage(pixels.data, size, size, size, QImage.Format_Grayscale8)
    return image.copy()


class ImageView(QWidget):
    """Shows one image scaled to fit (aspect kept), or a fixation cross, mask or nothing."""

    painted = pyqtSignal(str, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 180)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._mode = "blank"
        self._zoom = 1.0
        self._scaled: tuple[QSize, float, QPixmap] | None = None
        self._announce = False
        self._mask = noise_mask()

    def paint_size(self) -> tuple[int, int]:
        """The device pixels an image is drawn into at zoom 1 (for decoding ahead)."""
        ratio = self.devicePixelRatioF()
        return max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def mode(self) -> str:
        return self._mode

    def show_image(self, image: QImage) -> None:
        """Show ``image``; :attr:`painted` fires at its first paint."""
        self._image = image
        self._scaled = None
        self._zoom = 1.0
        self._set_mode("image")

    def show_fixation(self) -> None:
        self._set_mode("fixation")

    def show_mask(self) -> None:
        self._set_mode("mask")

    def clear(self) -> None:
        self._set_mode("blank")

    def _set_mode(self, mode: str) -> None:
        self._mode = mode
        self._announce = True
        self.update()

    def zoom_in(self) -> None:
        self._set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._zoom / ZOOM_STEP)

    def zoom_fit(self) -> None:
        self._set_zoom(1.0)

    def _set_zoom(self, zoom: float) -> None:
        self._zoom = min(MAX_ZOOM, max(1.0, zoom))
        self.update()

    def _pixmap(self) -> QPixmap:
        """The image scaled to fit the widget times the zoom, cached per size and zoom."""
        assert self._image is not None
        ratio = self.devicePixelRatioF()
        target = self.size() * ratio
        if self._scaled is None or self._scaled[0] != target or self._scaled[1] != self._zoom:
            wanted = target * self._zoom
            if self._image.size() == self._image.size().scaled(wanted, Qt.KeepAspectRatio):
                pixmap = QPixmap.fromImage(self._image)  # decoded at this size off the GUI thread
                pixmap.setDevicePixelRatio(ratio)
                self._scaled = (target, self._zoom, pixmap)
                return pixmap
            # Enlarged more than twice (e.g. 8x8 digits): keep pixels crisp instead of a blur.
            enlarge = min(wanted.width() / self._image.width(), wanted.height() / self._image.height())
            mode = Qt.FastTransformation if enlarge >= 2 else Qt.SmoothTransformation
            scaled = self._image.scaled(wanted, Qt.KeepAspectRatio, mode)
            pixmap = QPixmap.fromImage(scaled)
            pixmap.setDevicePixelRatio(ratio)
            self._scaled = (target, self._zoom, pixmap)
        return self._scaled[2]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._mode == "image" and self._image is not None and not self._image.isNull():
            pixmap = self._pixmap()
            size = pixmap.size() / pixmap.devicePixelRatio()
            x = (self.width() - size.width()) // 2
            y = (self.height() - size.height()) // 2
            painter.drawPixmap(QRect(x, y, size.width(), size.height()), pixmap)
        elif self._mode == "fixation":
            painter.setPen(QPen(Qt.black, 3))
            cx, cy, arm = self.width() // 2, self.height() // 2, 12
            painter.drawLine(cx - arm, cy, cx + arm, cy)
            painter.drawLine(cx, cy - arm, cx, cy + arm)
        elif self._mode == "mask":
            side = min(self.width(), self.height())
            painter.drawImage(QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side), self._mask)
        painter.end()
        if self._announce:
            self._announce = False
            self.painted.emit(self._mode, time.monotonic())

"""The trial image: large, undistorted, centred; zoomable and, zoomed, movable; reports when it was painted.

Response times start when the image is first *painted*, not when it was requested
(PsychoPy's users found RTs off by half a frame for that reason), so the view emits
:attr:`painted` (what was shown, monotonic time) at the first paint of each new screen.
It also draws the psychophysics screens: a fixation cross and a noise mask.
"""

from __future__ import annotations

import time

from PyQt5.QtCore import QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QImage, QPainter, QPen, QRegion
from PyQt5.QtWidgets import QSizePolicy, QWidget

BACKGROUND = QColor(128, 128, 128)
ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
#: How far one pan key moves a zoomed image: this share of the view.
PAN_STEP = 0.25


def noise_mask(size: int = 256, seed: int = 0) -> QImage:
    """A grey-level noise image, the mask shown after a timed presentation."""
    import numpy as np  # here: only timed presentations need it, and it costs 0.15 s at start-up

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    image = QImage(pixels.data, size, size, size, QImage.Format_Grayscale8)
    return image.copy()


def view_actions(view: ImageView) -> dict:
    """The zoom and pan commands of a window showing ``view``, by command name (see keymap)."""
    return {
        "zoom_in": view.zoom_in,
        "zoom_out": view.zoom_out,
        "zoom_fit": view.zoom_fit,
        "pan_left": lambda: view.pan(-1, 0),
        "pan_right": lambda: view.pan(1, 0),
        "pan_up": lambda: view.pan(0, -1),
        "pan_down": lambda: view.pan(0, 1),
    }


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
        self._pan = QPointF()  # the image centre's offset from the view's when zoomed (logical pixels)
        self._drag_from: QPointF | None = None
        self._scaled: tuple[QSize, QImage] | None = None  # the image at another size than decoded
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
        """Show ``image``; :attr:`painted` fires at its first paint.

        From one image to the next only the area either of them covers is repainted: the
        grey around them is already on screen, and filling it again is as much work as
        drawing the image (this is on the path from a submit to the next image)."""
        previous = self._image_rect() if self._mode == "image" and self._zoom == 1.0 else None
        self._image = image
        self._scaled = None
        self._zoom = 1.0
        self._pan = QPointF()
        self._set_mode("image", previous.united(self._image_rect()) if previous is not None else None)

    def show_fixation(self) -> None:
        self._set_mode("fixation")

    def show_mask(self) -> None:
        self._set_mode("mask")

    def clear(self) -> None:
        self._set_mode("blank")

    def _set_mode(self, mode: str, changed: QRect | None = None) -> None:
        """Switch what is shown; ``changed``: the only area that differs (default: all of it)."""
        self._mode = mode
        self._announce = True
        self.update() if changed is None else self.update(changed)

    def zoom_in(self) -> None:
        self._set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._zoom / ZOOM_STEP)

    def zoom_fit(self) -> None:
        self._set_zoom(1.0)

    def _set_zoom(self, zoom: float) -> None:
        zoom = min(MAX_ZOOM, max(1.0, zoom))
        self._pan *= zoom / self._zoom  # the spot at the centre stays there
        self._zoom = zoom
        self._clamp_pan()
        self.update()

    def pan(self, right: int, down: int) -> None:
        """Show more of the image's right (``right`` = 1) or left (-1) side, bottom or top,
        by a share of the view; only a zoomed image moves, and never past its edges."""
        self._move_by(QPointF(-right * self.width() * PAN_STEP, -down * self.height() * PAN_STEP))

    def _move_by(self, offset: QPointF) -> None:
        self._pan += offset
        self._clamp_pan()
        self.update()

    def _clamp_pan(self) -> None:
        if self._image is None or self._image.isNull():
            self._pan = QPointF()
            return
        size = self._fitted_size() / self.devicePixelRatioF()
        # The image may move until one of its edges meets the view's (centred on whole pixels, as drawn).
        centred_x, centred_y = (self.width() - size.width()) // 2, (self.height() - size.height()) // 2
        low_x, high_x = min(0, self.width() - size.width() - centred_x), max(0, -centred_x)
        low_y, high_y = min(0, self.height() - size.height() - centred_y), max(0, -centred_y)
        self._pan = QPointF(
            min(high_x, max(low_x, round(self._pan.x()))), min(high_y, max(low_y, round(self._pan.y())))
        )

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._drag_from = QPointF(event.pos()) if self._zoom > 1.0 else None

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._drag_from is not None:
            self._move_by(QPointF(event.pos()) - self._drag_from)
            self._drag_from = QPointF(event.pos())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._drag_from = None

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._clamp_pan()

    def _fitted_size(self) -> QSize:
        """The image's size on screen in device pixels: fitted to the widget times the zoom."""
        assert self._image is not None
        return self._image.size().scaled(self.size() * self.devicePixelRatioF() * self._zoom, Qt.KeepAspectRatio)

    def _image_rect(self) -> QRect:
        """Where the image is drawn, centred (logical pixels; larger than the widget when zoomed)."""
        if self._image is None or self._image.isNull():
            return QRect()
        size = self._fitted_size() / self.devicePixelRatioF()
        left = (self.width() - size.width()) // 2 + round(self._pan.x())
        top = (self.height() - size.height()) // 2 + round(self._pan.y())
        return QRect(left, top, size.width(), size.height())

    def _fitted(self) -> QImage:
        """The image at :meth:`_fitted_size`: as it is when it was decoded at that size off
        the GUI thread (the usual case), else scaled here once per size and zoom."""
        assert self._image is not None
        wanted = self._fitted_size()
        if self._image.size() == wanted:
            return self._image
        if self._scaled is None or self._scaled[0] != wanted:
            # Enlarged more than twice (e.g. 8x8 digits): keep pixels crisp instead of a blur.
            mode = Qt.FastTransformation if wanted.width() >= 2 * self._image.width() else Qt.SmoothTransformation
            self._scaled = (wanted, self._image.scaled(wanted, Qt.IgnoreAspectRatio, mode))
        return self._scaled[1]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self._mode == "image" and self._image is not None and not self._image.isNull():
            target = self._image_rect()
            for rect in event.region().subtracted(QRegion(target)).rects():  # the grey around the image only
                painter.fillRect(rect, BACKGROUND)
            image = self._fitted()
            painter.drawImage(QRectF(target), image, QRectF(image.rect()))
        else:
            painter.fillRect(self.rect(), BACKGROUND)
        if self._mode == "fixation":
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

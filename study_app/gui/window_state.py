"""Where a window opens: where its user left it, or else on the whole available screen.

The annotation and the review window both show photos, which are worth every pixel the
screen has (at a fixed 1280 x 760 on a 1600 x 1000 screen a photo got about 517 px). The
first start fills the screen's available area (without the task bar); after that, the
size and place the user gave the window are kept in the settings, one key per window.
"""

from __future__ import annotations

from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication, QWidget


def restore_geometry(window: QWidget, settings: QSettings, key: str) -> None:
    """Put ``window`` where it was last closed (``<key>/geometry``), or on the available screen.

    The size is set rather than the window maximized: without a window manager (a lab's
    kiosk, Xvfb) nothing acts on a maximized state, and the window would stay small. ``move``
    places the frame, not the inside, so that the title bar is on the screen.
    """
    geometry = settings.value(f"{key}/geometry")
    if geometry is not None and window.restoreGeometry(geometry):
        return  # Qt moves a geometry saved on a screen that is gone onto one that is there
    available = (window.screen() or QApplication.primaryScreen()).availableGeometry()
    window.resize(available.size())
    window.move(available.topLeft())


def save_geometry(window: QWidget, settings: QSettings, key: str) -> None:
    """Remember ``window``'s size and place (and whether it is maximized) for :func:`restore_geometry`."""
    settings.setValue(f"{key}/geometry", window.saveGeometry())

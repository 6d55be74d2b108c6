"""Example images of the highlighted class, beside the search, the feedback and the review.

Thumbnails come from the window's thumbnail loader (decoded off the GUI thread, kept on
disk between runs), so showing a class never waits on a decode.
"""

from __future__ import annotations

from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtGui import QIcon, QPixmap
from PyQt5.QtWidgets import QListWidget, QListWidgetItem

from study_app.gui.image_loader import ImageLoader
from study_app.protocol.labels import LabelSet

THUMBNAIL = 96
#: Example images load once the highlight has rested this long: arrowing or typing
#: through a list must not start (and wait on) a thumbnail job per row passed.
EXAMPLES_DELAY_MS = 60


class ExamplesPane(QListWidget):
    """Example images of the highlighted class, loaded lazily off the GUI thread."""

    def __init__(self, labels: LabelSet, loader: ImageLoader, per_class: int) -> None:
        super().__init__()
        self._labels = labels
        self._loader = loader
        self._per_class = per_class
        self._current: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._load_current)
        self.setViewMode(QListWidget.IconMode)
        self.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.setMovement(QListWidget.Static)
        self.setResizeMode(QListWidget.Adjust)
        self.setFocusPolicy(Qt.NoFocus)
        self.setSpacing(4)
        self.show_rows(2)
        loader.ready.connect(self._arrived)

    def show_rows(self, rows: int) -> None:
        """Room for ``rows`` rows of thumbnails (more scroll)."""
        self.setFixedHeight(THUMBNAIL * rows + 24)

    def show_class_soon(self, label_id: str | None) -> None:
        """Show ``label_id``'s examples once the highlight stays on it (see EXAMPLES_DELAY_MS)."""
        self._current = label_id
        self.clear()
        self._timer.start(EXAMPLES_DELAY_MS)

    def _load_current(self) -> None:
        self.show_class(self._current)

    def show_class(self, label_id: str | None) -> None:
        self._timer.stop()
        self._current = label_id
        self.clear()
        for path in self._paths(label_id):
            item = QListWidgetItem()
            item.setSizeHint(QSize(THUMBNAIL + 6, THUMBNAIL + 6))
            key = self._key(path)
            item.setData(Qt.UserRole, key)
            self.addItem(item)
            if self._loader.request(key, path, THUMBNAIL):
                self._fill(item, key)

    @property
    def per_class(self) -> int:
        return self._per_class

    def _paths(self, label_id: str | None):
        return self._labels.examples.get(label_id, ())[: self._per_class] if label_id else ()

    @staticmethod
    def _key(path) -> str:
        return f"thumb:{path}"

    def _fill(self, item: QListWidgetItem, key: str) -> None:
        image = self._loader.get(key)
        if image is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _arrived(self, key: str) -> None:
        for row in range(self.count()):
            item = self.item(row)
            if item.data(Qt.UserRole) == key:
                self._fill(item, key)

    def loaded_count(self) -> int:
        return sum(1 for row in range(self.count()) if not self.item(row).icon().isNull())

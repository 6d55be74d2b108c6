"""Example images of the highlighted class, beside the search, the feedback and the review.

Thumbnails come from the window's thumbnail loader (decoded off the GUI thread, kept on
disk between runs), so showing a class never waits on a decode. All of a class's examples
show at once (13 in the ILSVRC interface): the thumbnails shrink until they fit the pane,
down to :data:`MIN_THUMBNAIL`, and a click on one (or the ``examples`` key, F10) shows it
large in an :class:`ExampleViewer` over the window, where Left/Right go through the others.
"""

from __future__ import annotations

import html
from pathlib import Path

from PyQt5.QtCore import QEvent, QModelIndex, QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QIcon, QKeyEvent, QPixmap
from PyQt5.QtWidgets import QFrame, QLabel, QListWidget, QListWidgetItem, QMainWindow, QStyle, QVBoxLayout, QWidget

from study_app.gui.image_loader import ImageLoader
from study_app.gui.image_view import ImageView
from study_app.protocol.labels import LabelSet

THUMBNAIL = 96
#: The smallest edge thumbnails shrink to so that all of a class's examples fit; a pane too
#: small even for that scrolls (a click or F10 still shows each one large).
MIN_THUMBNAIL = 40
#: A thumbnail's grid cell is this much larger than its edge (the selection frame and a gap).
CELL_PADDING = 6
#: Example images load once the highlight has rested this long: arrowing or typing
#: through a list must not start (and wait on) a thumbnail job per row passed.
EXAMPLES_DELAY_MS = 60


def fitted_edge(count: int, width: int, height: int) -> int:
    """The largest thumbnail edge (at most :data:`THUMBNAIL`, at least :data:`MIN_THUMBNAIL`)
    at which ``count`` thumbnails, in rows filled left to right, fit ``width`` x ``height``."""
    for edge in range(THUMBNAIL, MIN_THUMBNAIL, -1):
        cell = edge + CELL_PADDING
        columns = max(1, width // cell)
        if -(-count // columns) * cell <= height:
            return edge
    return MIN_THUMBNAIL


class ExamplesPane(QListWidget):
    """Example images of the highlighted class, loaded lazily off the GUI thread."""

    #: An example was shown large: (label id, its index among the class's examples), for the event log.
    enlarged = pyqtSignal(str, int)

    def __init__(self, labels: LabelSet, loader: ImageLoader, per_class: int) -> None:
        super().__init__()
        self._labels = labels
        self._loader = loader
        self._per_class = per_class
        self._current: str | None = None
        self._viewer: ExampleViewer | None = None
        self._viewer_class = ""  # whose examples the viewer shows
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._load_current)
        self.setViewMode(QListWidget.IconMode)
        self.setMovement(QListWidget.Static)
        self.setResizeMode(QListWidget.Adjust)
        self.setFocusPolicy(Qt.NoFocus)
        self.setSpacing(0)  # the grid cell (CELL_PADDING) keeps the thumbnails apart
        self.setToolTip("Click an example to see it large (F10: the first; Left/Right: the others)")
        self._set_edge(THUMBNAIL)
        self.show_rows(2)
        self.clicked.connect(self._clicked)
        loader.ready.connect(self._arrived)
        loader.failed.connect(self._failed)

    def show_rows(self, rows: int) -> None:
        """Room for ``rows`` rows of full-size thumbnails; a class with more examples gets smaller ones."""
        self.setFixedHeight(THUMBNAIL * rows + 24)

    def show_class_soon(self, label_id: str | None) -> None:
        """Show ``label_id``'s examples once the highlight stays on it (see EXAMPLES_DELAY_MS)."""
        self._close_viewer_unless(label_id)
        self._current = label_id
        self.clear()
        self._timer.start(EXAMPLES_DELAY_MS)

    def _load_current(self) -> None:
        self.show_class(self._current)

    def show_class(self, label_id: str | None) -> None:
        self._close_viewer_unless(label_id)
        self._timer.stop()
        self._current = label_id
        self.clear()
        paths = self._paths(label_id)
        self._fit(len(paths))
        for path in paths:
            item = QListWidgetItem()
            item.setSizeHint(self.gridSize())  # an item is centred in its cell by its size: not by a missing icon's
            key = self._key(path)
            item.setData(Qt.UserRole, key)
            self.addItem(item)
            if self._loader.request(key, path, THUMBNAIL):
                self._fill(item, key)

    @property
    def per_class(self) -> int:
        return self._per_class

    @property
    def edge(self) -> int:
        """The thumbnails' edge on screen now (they are decoded at :data:`THUMBNAIL` and shrunk to it)."""
        return self.iconSize().width()

    def _paths(self, label_id: str | None) -> tuple[Path, ...]:
        return tuple(self._labels.examples.get(label_id, ())[: self._per_class]) if label_id else ()

    def _fit(self, count: int) -> None:
        """Thumbnails as large as lets all ``count`` of them be seen at once without scrolling."""
        room = self.contentsRect()
        # Less the scroll bar's width: the view lays out for it whenever it was just shown, and
        # one column less than computed would push the last row out of sight.
        scroll_bar = self.style().pixelMetric(QStyle.PM_ScrollBarExtent, None, self)
        self._set_edge(fitted_edge(count, room.width() - scroll_bar - 2, room.height() - 2))

    def _set_edge(self, edge: int) -> None:
        if edge != self.iconSize().width():
            cell = QSize(edge + CELL_PADDING, edge + CELL_PADDING)
            self.setIconSize(QSize(edge, edge))
            for row in range(self.count()):
                self.item(row).setSizeHint(cell)
            self.setGridSize(cell)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit(self.count())

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
        if self._viewer is not None:
            self._viewer.arrived(key)

    def _failed(self, key: str, error: str) -> None:
        if self._viewer is not None:
            self._viewer.failed(key, error)

    def loaded_count(self) -> int:
        return sum(1 for row in range(self.count()) if not self.item(row).icon().isNull())

    # -- one example large --------------------------------------------------------------------
    @property
    def viewer(self) -> ExampleViewer | None:
        """The large view, once an example was shown large (it stays, hidden, for the next)."""
        return self._viewer

    def _clicked(self, index: QModelIndex) -> None:
        self.enlarge(index.row())

    def enlarge(self, index: int = 0) -> None:
        """Show the highlighted class's example ``index`` large over the window (nothing if it has
        none, or while the pane is disabled: a timed trial's image is still to come)."""
        label_id, paths = self._current, self._paths(self._current)
        if label_id is None or not paths or not self.isEnabled():
            return
        if self._viewer is None:
            window = self.window()
            host = window.centralWidget() if isinstance(window, QMainWindow) else window
            self._viewer = ExampleViewer(host, self._loader)
            self._viewer.moved.connect(lambda row: self.enlarged.emit(self._viewer_class, row))
        self._viewer_class = label_id
        self._viewer.show_examples(self._labels[label_id].name, paths, index)
        self.enlarged.emit(label_id, index)

    def _close_viewer_unless(self, label_id: str | None) -> None:
        """Another class (the next trial's empty search): the large view of the last one closes."""
        if self._viewer is not None and self._viewer.isVisible() and label_id != self._viewer_class:
            self._viewer.close_viewer()

    def toggle_large(self) -> None:
        """The ``examples`` key: show the first example large, or close the large view."""
        if self._viewer is not None and self._viewer.isVisible():
            self._viewer.close_viewer()
        else:
            self.enlarge(0)


class ExampleViewer(QFrame):
    """One example image large over its parent; Left/Right: the class's other examples; Esc
    (or a click) closes it and gives the keyboard back to where it was."""

    #: Left/Right went to another example (its index), for the event log.
    moved = pyqtSignal(int)

    def __init__(self, parent: QWidget, loader: ImageLoader) -> None:
        super().__init__(parent)
        self._loader = loader
        self._name = ""
        self._paths: tuple[Path, ...] = ()
        self._index = 0
        self._return_focus: QWidget | None = None
        self.setObjectName("exampleViewer")
        self.setStyleSheet("#exampleViewer { background: rgb(250,250,250); border: 2px solid #444; }")
        self.setFocusPolicy(Qt.StrongFocus)
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.RichText)
        self.view = ImageView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 16)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, stretch=1)
        self.hide()

    @property
    def index(self) -> int:
        return self._index

    def show_examples(self, name: str, paths: tuple[Path, ...], index: int) -> None:
        self._name, self._paths = name, paths
        if not self.isVisible():
            self._return_focus = self.window().focusWidget()
            self.setGeometry(self.parentWidget().rect().adjusted(20, 20, -20, -20))
            self.show()
            self.raise_()
            self.setFocus()
        self._show(index)

    def _show(self, index: int) -> None:
        self._index = index % len(self._paths)
        self.caption.setText(
            f"<b>{html.escape(self._name)}</b>: example {self._index + 1} of {len(self._paths)} "
            "<span style='color:#555'>(Left/Right: the others; Esc closes)</span>"
        )
        key = self._key(self._paths[self._index])
        size = self.parentWidget().size()
        if self._loader.request(key, self._paths[self._index], fit=(size.width(), size.height())):
            self.view.show_image(self._loader.get(key))
        else:
            self.view.clear()
            error = self._loader.error(key)
            if error:
                self.failed(key, error)

    @staticmethod
    def _key(path: Path) -> str:
        return f"large:{path}"

    def arrived(self, key: str) -> None:
        if self.isVisible() and self._paths and key == self._key(self._paths[self._index]):
            self.view.show_image(self._loader.get(key))

    def failed(self, key: str, error: str) -> None:
        if self.isVisible() and self._paths and key == self._key(self._paths[self._index]):
            self.caption.setText(f"{self.caption.text()}<br>This example cannot be shown: {html.escape(error)}")

    def close_viewer(self) -> None:
        self.hide()
        if self._return_focus is not None:
            self._return_focus.setFocus()

    def event(self, event: QEvent) -> bool:
        # Its keys are its own while it is open, even those a window binds (the review's Esc).
        if event.type() == QEvent.ShortcutOverride and event.key() in (Qt.Key_Escape, Qt.Key_Left, Qt.Key_Right):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key_Escape:
            self.close_viewer()
        elif event.key() in (Qt.Key_Left, Qt.Key_Right):
            self._show(self._index + (1 if event.key() == Qt.Key_Right else -1))
            self.moved.emit(self._index)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.close_viewer()

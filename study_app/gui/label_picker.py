"""Finding one class among a thousand: search as you type, hierarchy, definition, examples.

The search box keeps the keyboard focus while Up/Down/PgUp/PgDn move through the ranked
results, so an annotator types, glances, presses Enter. Groups of classes ("dog",
"musical instrument") are results too: Enter on one opens it in the hierarchy tab, which
browses the WordNet tree (F3 reveals the highlighted class in it; Enter on a group there
opens it). Whatever is highlighted, in either place, shows its definition, its place in
the hierarchy and its example images. Every look-up is reported through
:attr:`LabelPicker.looked_up` for the event log.
"""

from __future__ import annotations

import html

from PyQt5.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QKeyEvent
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListView,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from study_app.gui.examples_pane import THUMBNAIL, ExamplesPane
from study_app.gui.image_loader import ImageLoader
from study_app.gui.label_models import HierarchyModel, SearchResultsModel, describe_label
from study_app.protocol.labels import LabelSet
from study_app.session.label_search import LabelSearchIndex, distinguishing_notes

#: Labels indexed per idle step of the search index build (a few milliseconds each).
INDEX_STEP_LABELS = 40
#: Once the picker is first on screen, wait this long before filling the thumbnail disk
#: cache in the background, so that the first trial's own work goes first.
PREBUILD_DELAY_MS = 1500
#: Pixels per hierarchy level. WordNet puts ILSVRC classes up to 18 levels deep: at Qt's
#: default 20 px, 40% of a 500 px panel was indentation and long breed names were cut.
TREE_INDENT = 10
#: Room a row's text keeps at the deepest level, however narrow the panel (scrolling sideways).
TREE_MIN_TEXT = 80
_FORWARDED_KEYS = {Qt.Key_Up, Qt.Key_Down, Qt.Key_PageUp, Qt.Key_PageDown}


def _is_typing(event: QKeyEvent) -> bool:
    """A key that writes text (with Shift at most): a letter, digit, space or punctuation."""
    text = event.text()
    modifiers = int(event.modifiers()) & ~int(Qt.KeypadModifier | Qt.ShiftModifier)
    return modifiers == 0 and len(text) == 1 and text.isprintable()


class LabelText(QLabel):
    """Wrapped rich text about labels of ``labels`` (each subclass escapes the study's text it shows)."""

    def __init__(self, labels: LabelSet) -> None:
        super().__init__()
        self._labels = labels
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)


class ClassDetails(LabelText):
    """Name, other names, place in the hierarchy and definition of one label."""

    def __init__(self, labels: LabelSet) -> None:
        super().__init__(labels)
        self.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.setMinimumHeight(90)
        self.show_class(None)

    def show_class(self, label_id: str | None) -> None:
        if label_id is None:
            self.setText("<i>Type to search, or browse the hierarchy. The highlighted class is described here.</i>")
            return
        self.setText(describe_label(self._labels, label_id))

    def show_no_match(self, query: str) -> None:
        shown = query if len(query) <= 40 else query[:40] + "…"
        self.setText(
            f"<i>No class matches “{html.escape(shown)}”. Try another word or a synonym, "
            "or browse the hierarchy (F3).</i>"
        )


class LabelPicker(QWidget):
    """Search box, results/hierarchy tabs, details and examples of the highlighted class."""

    label_chosen = pyqtSignal(str)
    highlighted = pyqtSignal(str)
    looked_up = pyqtSignal(str, dict)

    def __init__(self, labels: LabelSet, index: LabelSearchIndex, loader: ImageLoader, examples_per_class: int) -> None:
        super().__init__()
        self.labels = labels
        self._index = index
        self._loader = loader
        self._current: str | None = None
        self._browsed = False
        self._prebuild = QTimer(self)  # a child: it dies with the picker, never firing on a deleted one
        self._prebuild.setSingleShot(True)
        self._prebuild.timeout.connect(self._prebuild_thumbnails)
        # The search index is built while the event loop is idle (a search before it is
        # done completes it at once), so building it never delays the first image.
        self._index_builder = QTimer(self)
        self._index_builder.timeout.connect(self._build_index_step)
        if not index.complete:
            self._index_builder.start(0)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Type a class name (F2)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._run_search)
        self.search.returnPressed.connect(self._choose_current)
        self.search.installEventFilter(self)

        notes = distinguishing_notes(labels)
        self.results_model = SearchResultsModel(labels, notes)
        self.results = QListView()
        self.results.setModel(self.results_model)
        self.results.setUniformItemSizes(True)
        self.results.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.results.selectionModel().currentChanged.connect(self._result_highlighted)
        self.results.activated.connect(lambda index: self._choose(self.results_model.label_at(index.row())))
        self.results.setTextElideMode(Qt.ElideMiddle)
        self.route_typing_from(self.results)

        self.tree_model = HierarchyModel(labels, notes)
        self.tree = QTreeView()
        self.tree.setModel(self.tree_model)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        # WordNet is up to 18 levels deep: narrow indentation, and a column as wide as the
        # panel, so that a name is read without scrolling sideways; a name longer than its
        # row is elided in the middle (the tooltip has it in full). Only a panel too narrow
        # for the deepest rows' text scrolls sideways, keeping a real, keyboard-navigable rect.
        self.tree.setIndentation(TREE_INDENT)
        self.tree.setTextElideMode(Qt.ElideMiddle)
        deepest = max((labels.depth(label.label_id) for label in labels.classes), default=0)
        self.tree.header().setMinimumSectionSize((deepest + 1) * TREE_INDENT + TREE_MIN_TEXT)
        self.tree.header().setStretchLastSection(True)
        self.tree.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.tree.selectionModel().currentChanged.connect(self._tree_highlighted)
        self.tree.expanded.connect(self._expanded)
        self.tree.installEventFilter(self)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "Search results")
        self.tabs.addTab(self.tree, "Browse hierarchy")
        self.tabs.setFocusPolicy(Qt.NoFocus)

        self.details = ClassDetails(labels)
        self.examples = ExamplesPane(labels, loader, examples_per_class)
        self.examples.enlarged.connect(self._looked_at_example)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tabs, stretch=3)
        layout.addWidget(self.details, stretch=1)
        if labels.examples:
            layout.addWidget(self.examples)
        else:
            self.examples.hide()

    def _build_index_step(self) -> None:
        if self._index.build_step(INDEX_STEP_LABELS):
            self._index_builder.stop()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.labels.examples and not self._prebuild.isActive() and not self._loader.prebuild_requested:
            self._prebuild.start(PREBUILD_DELAY_MS)

    def _prebuild_thumbnails(self) -> None:
        """Every class's examples into the disk cache, in the order of the label list."""
        per_class = self.examples.per_class
        paths = [
            path for label in self.labels.classes for path in self.labels.examples.get(label.label_id, ())[:per_class]
        ]
        self._loader.prebuild(paths, THUMBNAIL)

    @property
    def current(self) -> str | None:
        """The highlighted label id (a class or, in the tree, an inner node)."""
        return self._current

    def reset(self) -> None:
        """Back to an empty search for a new trial."""
        self.search.clear()
        self.tabs.setCurrentIndex(0)
        if self._browsed:
            self.tree.collapseAll()
            self._browsed = False
        self._set_current(None)
        self.search.setFocus()

    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.search.setFocus()
        self.search.selectAll()

    def focus_tree(self) -> None:
        """Open the hierarchy at the highlighted class (or at the top)."""
        self.tabs.setCurrentIndex(1)
        self._browsed = True
        if self._current is not None:
            index = self._reveal(self._current)
            self.tree.doItemsLayout()  # the tab was hidden: lay out the expanded rows before moving
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index, QAbstractItemView.PositionAtCenter)
        elif not self.tree.currentIndex().isValid():
            self.tree.setCurrentIndex(self.tree_model.index(0, 0))
        self.tree.setFocus()

    def open_group(self, node: str) -> None:
        """Show the group ``node`` in the hierarchy where it sits, opened, its row highlighted
        and the keyboard in the tree: from there the annotator arrows down to its classes."""
        self._set_current(node)
        self.focus_tree()
        index = self.tree.currentIndex()
        self.tree.expand(index)
        self.tree.scrollTo(index, QAbstractItemView.PositionAtTop)

    def _expanded(self, index: QModelIndex) -> None:
        self._browsed = True
        self.looked_up.emit("browse", {"node": self.tree_model.node(index)})

    def _reveal(self, node: str) -> QModelIndex:
        for ancestor in reversed(self.labels.path_to_root(node)[1:]):
            self.tree.expand(self.tree_model.index_of(ancestor))
        return self.tree_model.index_of(node)

    def _run_search(self, text: str) -> None:
        hits = self._index.search(text)
        self.results_model.set_hits(hits)
        if not text.strip():
            # Cleared after a choice: keep whatever tab and highlight the annotator is in, but
            # not a "no class matches" about a query that is gone (nothing is highlighted then).
            if self._current is None:
                self.details.show_class(None)
            return
        self.tabs.setCurrentIndex(0)
        if hits:
            self.results.setCurrentIndex(self.results_model.index(0))
        else:
            self._set_current(None)
            self.details.show_no_match(text)
        self.looked_up.emit(
            "search",
            {
                "query": text,
                "results": len(hits),
                "groups": sum(hit.is_group for hit in hits),
                "top": hits[0].label_id if hits else None,
            },
        )

    def _result_highlighted(self, index: QModelIndex, _previous: QModelIndex) -> None:
        self._set_current(self.results_model.label_at(index.row()))

    def _tree_highlighted(self, index: QModelIndex, _previous: QModelIndex) -> None:
        self._set_current(self.tree_model.node(index))

    def _set_current(self, label_id: str | None) -> None:
        if label_id == self._current:
            return
        self._current = label_id
        self.details.show_class(label_id)
        self.examples.show_class_soon(label_id if label_id in self.labels else None)
        if label_id is not None:
            self.looked_up.emit("view_class", {"label_id": label_id})
            self.highlighted.emit(label_id)

    def _looked_at_example(self, label_id: str, index: int) -> None:
        self.looked_up.emit("view_example", {"label_id": label_id, "index": index})

    def _choose_current(self) -> None:
        self._choose(self._current)

    def _choose(self, label_id: str | None) -> None:
        """Answer with a class; a group found by search opens in the hierarchy instead."""
        if label_id is None:
            return
        if label_id in self.labels:
            self.label_chosen.emit(label_id)
        else:
            self.open_group(label_id)

    def _open_in_tree(self, index: QModelIndex) -> None:
        """Enter on a group in the tree: open it, or if it is open, step down to its first member."""
        if not self.tree.isExpanded(index):
            self.tree.expand(index)
        elif self.tree_model.hasChildren(index):
            self.tree.setCurrentIndex(self.tree_model.index(0, 0, index))

    def route_typing_from(self, widget: QWidget) -> None:
        """Let text typed while ``widget`` has the focus go to the search box, as it does from the tree."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.KeyPress:
            return False
        key_event: QKeyEvent = event  # type: ignore[assignment]
        plain = key_event.modifiers() in (Qt.NoModifier, Qt.KeypadModifier)
        if watched is not self.search and _is_typing(key_event):
            # Plain letters always go to the search box, starting a new query: in the tree they
            # would jump the highlight to a row starting with that letter, and Enter would add it.
            self.search.setFocus()
            self.search.selectAll()  # a new query, as after F2
            self.search.insert(key_event.text())
            return True
        if watched is self.search and key_event.key() == Qt.Key_Escape and plain and self.search.text():
            self.search.clear()  # a fresh query without Ctrl+A, Backspace
            return True
        if watched is self.search and key_event.key() in _FORWARDED_KEYS and plain:
            target = self.results if self.tabs.currentIndex() == 0 else self.tree
            target.keyPressEvent(key_event)
            return True
        if watched is self.tree and key_event.key() in (Qt.Key_Return, Qt.Key_Enter) and plain:
            index = self.tree.currentIndex()
            node = self.tree_model.node(index)
            if node in self.labels:
                self._choose(node)
            elif node is not None:
                self._open_in_tree(index)
            return True
        return False

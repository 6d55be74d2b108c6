"""Qt item models over the label set: search results (a list) and the hierarchy (a tree).

Both are virtual: the views ask for the few rows they show, so 1,000 classes or 20,000
hierarchy nodes cost no widgets (CVAT and Label Studio users report frozen UIs from
one widget per class).
"""

from __future__ import annotations

from PyQt5.QtCore import QAbstractItemModel, QAbstractListModel, QModelIndex, Qt
from PyQt5.QtGui import QFont

from study_app.protocol.labels import LabelSet
from study_app.session.label_search import SearchHit

LABEL_ID_ROLE = Qt.UserRole + 1


class SearchResultsModel(QAbstractListModel):
    """Ranked search hits; shows the class name and, if different, the name that matched."""

    def __init__(self, labels: LabelSet) -> None:
        super().__init__()
        self._labels = labels
        self._hits: list[SearchHit] = []

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = hits
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        hit = self._hits[index.row()]
        if role == Qt.DisplayRole:
            name = self._labels[hit.label_id].name
            return name if hit.matched.casefold() in name.casefold() else f"{name}  ({hit.matched})"
        if role == LABEL_ID_ROLE:
            return hit.label_id
        return None

    def label_at(self, row: int) -> str | None:
        return self._hits[row].label_id if 0 <= row < len(self._hits) else None


class HierarchyModel(QAbstractItemModel):
    """The label forest, children sorted by name; each node shows its class count.

    Answerable classes are shown in bold; inner nodes (such as WordNet's "domestic cat")
    only group them.
    """

    def __init__(self, labels: LabelSet) -> None:
        super().__init__()
        self._labels = labels
        # The index's internal pointer is the node id string itself, kept alive here.
        self._ids: dict[str, str] = {node: node for node in labels.by_id}
        self._bold = QFont()
        self._bold.setBold(True)

    def _children(self, node: str | None) -> tuple[str, ...]:
        return self._labels.roots if node is None else self._labels.children_of.get(node, ())

    def node(self, index: QModelIndex) -> str | None:
        return index.internalPointer() if index.isValid() else None

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        children = self._children(self.node(parent))
        if column != 0 or not 0 <= row < len(children):
            return QModelIndex()
        return self.createIndex(row, 0, self._ids[children[row]])

    def parent(self, index: QModelIndex) -> QModelIndex:  # type: ignore[override]
        node = self.node(index)
        if node is None or node not in self._labels.parent_of:
            return QModelIndex()
        parent = self._labels.parent_of[node]
        grand = self._labels.parent_of.get(parent)
        row = self._children(grand).index(parent)
        return self.createIndex(row, 0, self._ids[parent])

    def index_of(self, node: str) -> QModelIndex:
        parent = self._labels.parent_of.get(node)
        siblings = self._children(parent)
        return self.createIndex(siblings.index(node), 0, self._ids[node]) if node in siblings else QModelIndex()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return len(self._children(self.node(parent)))

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 1

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802 - Qt's name
        return bool(self._children(self.node(parent)))

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        node = self.node(index)
        if node is None:
            return None
        label = self._labels[node]
        if role == Qt.DisplayRole:
            count = self._labels.class_count_below[node]
            return label.name if count <= 1 and label.is_class else f"{label.name}  [{count}]"
        if role == Qt.FontRole and label.is_class:
            return self._bold
        if role == LABEL_ID_ROLE:
            return node
        return None

"""Qt item models over the label set: search results (a list) and the hierarchy (a tree).

Both are virtual: the views ask for the few rows they show, so 1,000 classes or 20,000
hierarchy nodes cost no widgets (CVAT and Label Studio users report frozen UIs from
one widget per class).
"""

from __future__ import annotations

import html

from PyQt5.QtCore import QAbstractItemModel, QAbstractListModel, QModelIndex, Qt
from PyQt5.QtGui import QColor, QFont

from study_app.protocol.labels import LabelSet
from study_app.session.label_search import SearchHit

LABEL_ID_ROLE = Qt.UserRole + 1
#: True for a group of classes (an inner node of the hierarchy), False for a class.
IS_GROUP_ROLE = Qt.UserRole + 2
GROUP_COLOUR = QColor("#1f4e8c")
#: Kinds named in a label's description; the rest are counted ("drum" has 14, "agaric" 59).
KINDS_SHOWN = 8


def titled(labels: LabelSet, notes: dict[str, str], label_id: str) -> str:
    """The label's name, with what tells it from a namesake ("table · in furniture")."""
    name = labels[label_id].name
    note = notes.get(label_id)
    return f"{name} · {note}" if note else name


def group_count(labels: LabelSet, label_id: str) -> str:
    count = labels.class_count_below[label_id]
    return f"{count} class" if count == 1 else f"{count} classes"


def kinds_text(kinds: tuple[str, ...]) -> str:
    """The first kinds and how many more ("snare drum, bass drum, … (14 in all)")."""
    shown = ", ".join(kinds[:KINDS_SHOWN])
    return shown if len(kinds) <= KINDS_SHOWN else f"{shown}, … ({len(kinds)} in all)"


def describe_label(labels: LabelSet, label_id: str, notes: dict[str, str] | None = None) -> str:
    """Rich text for a label: name (with its distinguishing note), other names, kinds, place in
    the hierarchy, definition; every piece of study text is escaped. Shown below the picker's
    lists, on the feedback page and as the lists' tooltips (the full name a narrow panel elides).
    The kinds tell an annotator who searched for "deck chair" why folding chair came up."""
    label = labels[label_id]
    others = label.all_names[1:]
    path = [labels[n].name for n in reversed(labels.path_to_root(label_id)[1:])]
    parts = [f"<b>{html.escape(titled(labels, notes or {}, label_id))}</b>"]
    if others:
        parts.append(f"<br><span style='color:#555'>also: {html.escape(', '.join(others))}</span>")
    if label.kinds:
        parts.append(f"<br><span style='color:#555'>kinds: {html.escape(kinds_text(label.kinds))}</span>")
    if path:
        parts.append(f"<br><span style='color:#555'>in: {html.escape(' › '.join(path[-4:]))}</span>")
    if label.definition:
        parts.append(f"<br>{html.escape(label.definition)}")
    if not label.is_class:
        count = group_count(labels, label_id)
        parts.append(f"<br><i>a group of {count}, not a class itself: Enter opens it in the hierarchy</i>")
    return "".join(parts)


class SearchResultsModel(QAbstractListModel):
    """Ranked search hits: classes, and groups shown as groups (italic, in blue, with their class count).

    A hit shows its name, the name that matched if that is another one, and for a label
    with a namesake what tells them apart (:func:`distinguishing_notes`). A hit through one
    of the label's kinds says so: "folding chair  (deck chair: a kind of it)", so that the
    annotator sees the class is the broader one and why it came up.
    """

    def __init__(self, labels: LabelSet, notes: dict[str, str]) -> None:
        super().__init__()
        self._labels = labels
        self._notes = notes
        self._hits: list[SearchHit] = []
        self._italic = QFont()
        self._italic.setItalic(True)

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
            text = titled(self._labels, self._notes, hit.label_id)
            if hit.is_kind:
                text = f"{text}  ({hit.matched}: a kind of it)"
            elif hit.matched.casefold() not in name.casefold():
                text = f"{text}  ({hit.matched})"
            return f"{text}  [group · {group_count(self._labels, hit.label_id)}]" if hit.is_group else text
        if role == Qt.FontRole and hit.is_group:
            return self._italic
        if role == Qt.ForegroundRole and hit.is_group:
            return GROUP_COLOUR
        if role == Qt.ToolTipRole:
            return describe_label(self._labels, hit.label_id, self._notes)
        if role == LABEL_ID_ROLE:
            return hit.label_id
        if role == IS_GROUP_ROLE:
            return hit.is_group
        return None

    def label_at(self, row: int) -> str | None:
        return self._hits[row].label_id if 0 <= row < len(self._hits) else None


class HierarchyModel(QAbstractItemModel):
    """The label forest, children sorted by name; each node shows its class count.

    Answerable classes are shown in bold; inner nodes (such as WordNet's "domestic cat")
    only group them. Same-named nodes show what tells them apart; the tooltip holds the
    full name (a narrow panel elides it) and the definition.
    """

    def __init__(self, labels: LabelSet, notes: dict[str, str]) -> None:
        super().__init__()
        self._labels = labels
        self._notes = notes
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
            text = titled(self._labels, self._notes, node)
            return text if count <= 1 and label.is_class else f"{text}  [{count}]"
        if role == Qt.FontRole and label.is_class:
            return self._bold
        if role == Qt.ToolTipRole:
            return describe_label(self._labels, node, self._notes)
        if role == LABEL_ID_ROLE:
            return node
        if role == IS_GROUP_ROLE:
            return not label.is_class
        return None

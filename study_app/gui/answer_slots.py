"""The answer area: k ordered guess slots (top-k) or a set of at most k labels (multi-label).

Slots fill in order as classes are chosen; an annotator can reorder them (Alt+Up/Down),
clear one (Delete) or the last (F7). The widget keeps only label ids; names
come from the label set.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QKeyEvent
from PyQt5.QtWidgets import QListWidget, QListWidgetItem

from study_app.protocol.labels import LabelSet


class AnswerSlots(QListWidget):
    """k slots; emits :attr:`changed` (a message for the status line) after every edit."""

    changed = pyqtSignal(str)

    def __init__(self, labels: LabelSet) -> None:
        super().__init__()
        self._labels = labels
        self._slots: list[str | None] = []
        self._multi = False
        self.setFocusPolicy(Qt.StrongFocus)

    def configure(self, answers: int, multi_label: bool) -> None:
        """A fresh, empty answer area for a trial (sized to its rows when their number changes)."""
        resized = answers != len(self._slots)
        self._slots = [None] * answers
        self._multi = multi_label
        self._render()
        self.setCurrentRow(-1)  # the last trial's highlighted slot would look like the active one
        if resized:
            row_height = self.sizeHintForRow(0) if self.count() else 22
            self.setFixedHeight(max(1, min(answers, 5)) * (row_height + 2) + 8)

    @property
    def labels(self) -> tuple[str, ...]:
        """The chosen labels in slot order (empty slots skipped)."""
        return tuple(label for label in self._slots if label is not None)

    def add(self, label_id: str) -> bool:
        """Put ``label_id`` in the first free slot (with one slot: in place of its class);
        False (with a message) if it cannot."""
        if label_id in self._slots:
            self.changed.emit(f"{self._labels[label_id].name} is already in your answer")
            return False
        if len(self._slots) == 1 and self._slots[0] is not None:
            # A single answer: choosing another class means changing one's mind.
            replaced, self._slots[0] = self._slots[0], label_id
            self._render()
            self.changed.emit(f"{self._labels[label_id].name} replaces {self._labels[replaced].name}")
            return True
        if None not in self._slots:
            self.changed.emit("All slots are full: remove one first (F7, or F4 then Delete)")
            return False
        self._slots[self._slots.index(None)] = label_id
        self._compact()
        self.changed.emit(f"added {self._labels[label_id].name}")
        return True

    def remove_last(self) -> None:
        filled = [i for i, label in enumerate(self._slots) if label is not None]
        if filled:
            self.remove_at(filled[-1])

    def remove_at(self, row: int) -> None:
        if 0 <= row < len(self._slots) and self._slots[row] is not None:
            name = self._labels[self._slots[row]].name
            self._slots[row] = None
            self._compact()
            self.changed.emit(f"removed {name}")

    def clear_all(self) -> None:
        self._slots = [None] * len(self._slots)
        self._render()
        self.changed.emit("answer cleared")

    def move(self, row: int, step: int) -> None:
        """Swap slot ``row`` with its neighbour ``row + step`` (filled slots only)."""
        other = row + step
        if self._multi or not (0 <= row < len(self._slots) and 0 <= other < len(self._slots)):
            return
        if self._slots[row] is None or self._slots[other] is None:
            return
        self._slots[row], self._slots[other] = self._slots[other], self._slots[row]
        self._render()
        self.setCurrentRow(other)
        self.changed.emit("reordered")

    def _compact(self) -> None:
        """Filled slots first, in order: guesses are ranks, so no gaps."""
        filled = [label for label in self._slots if label is not None]
        self._slots = filled + [None] * (len(self._slots) - len(filled))
        self._render()

    def _render(self) -> None:
        """Show the slots in the list's rows, reused (rebuilding them relaid out the list each time)."""
        while self.count() > len(self._slots):
            self.takeItem(self.count() - 1)
        while self.count() < len(self._slots):
            self.addItem(QListWidgetItem())
        for row, label_id in enumerate(self._slots):
            name = self._labels[label_id].name if label_id else "—"
            item = self.item(row)
            item.setText(f"• {name}" if self._multi else f"{row + 1}. {name}")
            item.setData(Qt.ForegroundRole, QBrush(Qt.gray) if label_id is None else None)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        row = self.currentRow()
        if event.modifiers() == Qt.AltModifier and event.key() in (Qt.Key_Up, Qt.Key_Down):
            self.move(row, -1 if event.key() == Qt.Key_Up else 1)
        elif event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and event.modifiers() == Qt.NoModifier:
            self.remove_at(row)
        else:
            super().keyPressEvent(event)

"""The parts of the review window that are not already in the annotation window.

The image view, the class details and example thumbnails, the label search and the help
overlay are the annotation window's own widgets; here are only the list of a rater's
guesses, the cause checklist and the line that shows a proposed ground truth.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QListWidget, QListWidgetItem

from study_app.gui.label_picker import LabelText
from study_app.protocol.labels import LabelSet
from study_app.protocol.taxonomy import Cause

#: How a non-answer appears in place of guesses.
NON_ANSWERS = {
    "not_sure": "not sure",
    "none_of_these": "none of these classes",
    "timeout": "no answer in time",
    "skip": "skipped",
}


class GuessList(QListWidget):
    """The rater's guesses in rank order; the highlighted one is described beside the ground truth."""

    highlighted = pyqtSignal(str)

    def __init__(self, labels: LabelSet) -> None:
        super().__init__()
        self._labels = labels
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMaximumHeight(130)
        self.currentItemChanged.connect(
            lambda item, _old: self.highlighted.emit(item.data(Qt.UserRole) or "") if item else None
        )

    def show_guesses(self, guesses: Sequence[str], outcome: str) -> None:
        self.clear()
        if not guesses:
            item = QListWidgetItem(f"({NON_ANSWERS.get(outcome, outcome)})")
            item.setData(Qt.UserRole, "")
            self.addItem(item)
        for rank, label_id in enumerate(guesses, start=1):
            name = self._labels[label_id].name if label_id in self._labels else label_id
            item = QListWidgetItem(f"{rank}. {name}")
            item.setData(Qt.UserRole, label_id)
            self.addItem(item)
        self.setCurrentRow(0)


class CauseList(QListWidget):
    """The causes offered for this error, each with its key; the keys (not the mouse) tick them."""

    #: Rows always shown; a longer list scrolls (to each cause ticked) when the window is small.
    MIN_ROWS = 4

    def __init__(self) -> None:
        super().__init__()
        self.setFocusPolicy(Qt.NoFocus)
        self.setWordWrap(True)  # a long cause name wraps instead of a scroll bar over the last row
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setResizeMode(QListWidget.Adjust)
        self._keys: list[str] = []

    def set_causes(self, causes: Sequence[Cause], checked: Sequence[str] = ()) -> None:
        self.clear()
        self._keys = [cause.key for cause in causes]
        for cause in causes:
            item = QListWidgetItem(f"[{cause.shortcut}]  {cause.name}")
            item.setToolTip(cause.description)
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if cause.key in checked else Qt.Unchecked)
            self.addItem(item)
        rows = [self.sizeHintForRow(row) for row in range(len(causes))]
        frame = 2 * self.frameWidth() + 4
        self.setMaximumHeight(sum(rows) + frame if rows else 24)  # all of them where there is room
        self.setMinimumHeight(sum(rows[: self.MIN_ROWS]) + frame if rows else 24)

    def toggle(self, key: str) -> bool:
        """Tick or untick ``key``; False if that cause is not offered for this error."""
        if key not in self._keys:
            return False
        item = self.item(self._keys.index(key))
        item.setCheckState(Qt.Unchecked if item.checkState() == Qt.Checked else Qt.Checked)
        self.scrollToItem(item)  # the list takes no focus: ticking is how the keyboard scrolls it
        return True

    def checked(self) -> list[str]:
        return [key for row, key in enumerate(self._keys) if self.item(row).checkState() == Qt.Checked]


class ProposalLine(LabelText):
    """The ground truth the reviewer proposes instead of the original (never stored over it)."""

    def __init__(self, labels: LabelSet) -> None:
        super().__init__(labels)
        self.labels: list[str] = []
        self.set_labels([])

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        if not self.labels:
            self.setText("<b>Proposed ground truth:</b> <i>none</i> (F3 to propose one)")
            return
        names = ", ".join(html.escape(self._labels[label].name) for label in self.labels)
        self.setText(f"<b>Proposed ground truth:</b> {names} <span style='color:#555'>(Shift+F3 clears)</span>")

    def toggle(self, label_id: str) -> None:
        self.set_labels(
            [label for label in self.labels if label != label_id]
            if label_id in self.labels
            else [*self.labels, label_id]
        )

"""F1: the keys in force, drawn over the window until F1 or Esc is pressed again."""

from __future__ import annotations

import html

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeyEvent
from PyQt5.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from study_app.protocol.keys import COMMANDS, NAVIGATION


def help_text(keys: dict[str, str], sources: dict[str, str]) -> str:
    """The keys in force; those changed from the defaults are marked with who set them
    (``sources``: command -> "this study" or "your keys file")."""
    rows = "".join(
        f"<tr><td style='padding-right:18px'><b>{html.escape(keys.get(c.name, c.keys))}</b>"
        f"{f' <i>(set by {html.escape(sources[c.name])})</i>' if c.name in sources else ''}</td>"
        f"<td>{html.escape(c.description)}</td></tr>"
        for c in (*COMMANDS, *NAVIGATION)
    )
    return (
        "<h2>Keyboard</h2><p>Type to search for a class: plain letters always go to the search box.</p>"
        f"<table>{rows}</table><p><i>F1 or Esc closes this help.</i></p>"
    )


class HelpOverlay(QFrame):
    """A panel over its parent listing every shortcut; keeps focus while shown."""

    def __init__(self, parent: QWidget, keys: dict[str, str], sources: dict[str, str]) -> None:
        super().__init__(parent)
        self.setObjectName("helpOverlay")
        self.setStyleSheet("#helpOverlay { background: rgba(255,255,255,245); border: 2px solid #444; }")
        self.setFocusPolicy(Qt.StrongFocus)
        self.text = QLabel(help_text(keys, sources))
        self.text.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(self.text)
        self._return_focus: QWidget | None = None
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.close_help()
        else:
            self._return_focus = self.window().focusWidget()
            parent = self.parentWidget()
            self.adjustSize()
            width = min(parent.width() - 40, max(self.sizeHint().width(), 520))
            height = min(parent.height() - 40, self.sizeHint().height())
            self.setGeometry((parent.width() - width) // 2, (parent.height() - height) // 2, width, height)
            self.show()
            self.raise_()
            self.setFocus()

    def close_help(self) -> None:
        self.hide()
        if self._return_focus is not None:
            self._return_focus.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Escape, Qt.Key_F1):
            self.close_help()
        else:
            super().keyPressEvent(event)

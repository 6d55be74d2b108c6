"""Every command's keyboard shortcut, in one table, shown by the F1 help overlay.

Classes never get hotkeys (a thousand classes cannot have them): typing in the search
box is the way to a class. Commands use Ctrl or function keys so that plain letters
always go to the search box.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    keys: str
    description: str


COMMANDS: tuple[Command, ...] = (
    Command("help", "F1", "show or hide this help"),
    Command("focus_search", "F2", "go to the search box"),
    Command("focus_tree", "F3", "browse the class hierarchy (reveals the highlighted class)"),
    Command("focus_slots", "F4", "go to the answer slots (Alt+Up/Down reorder, Delete clears)"),
    Command("add_label", "Return", "put the highlighted class into the next free slot"),
    Command("submit", "Ctrl+Return", "submit the answer"),
    Command("remove_last", "F7", "remove the last filled slot"),
    Command("clear_answer", "Shift+F7", "clear all slots"),
    Command("not_sure", "F5", "answer 'not sure'"),
    Command("none_of_these", "F6", "answer 'none of these classes'"),
    Command("flag", "F8", "flag the image (broken, offensive, ambiguous)"),
    Command("pause", "F9", "pause (the image is hidden; the trial starts again after the pause)"),
    Command("zoom_in", "Ctrl+=", "zoom into the image"),
    Command("zoom_out", "Ctrl+-", "zoom out"),
    Command("zoom_fit", "Ctrl+0", "fit the image to the window"),
    Command("quit", "Ctrl+Q", "save and quit (resume later where you stopped)"),
)

#: Keys inside lists and pages that are not window-wide shortcuts.
NAVIGATION: tuple[Command, ...] = (
    Command("move", "Up / Down / PgUp / PgDn", "move through search results or the hierarchy"),
    Command("expand", "Right / Left", "open or close a group in the hierarchy"),
    Command("continue", "Return / Space", "continue from instructions, feedback and break screens"),
)

KEYS = {command.name: command.keys for command in COMMANDS}


def command_sequences() -> set[str]:
    """Every command key as Qt's portable text (e.g. ``Ctrl+Return``)."""
    from PyQt5.QtGui import QKeySequence

    return {QKeySequence(keys).toString() for keys in (*KEYS.values(), "Ctrl+Enter")}

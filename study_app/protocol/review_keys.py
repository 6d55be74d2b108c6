"""The review window's keys, in one table that the F1 help shows and the taxonomy check uses.

Causes are ticked with plain keys (digits or letters, as the taxonomy defines), so the
window's own commands use function keys and modifiers only; a protocol's cause may not
take one of them. No Qt here: the protocol check uses it.
"""

from __future__ import annotations

from study_app.protocol.keys import PAN_COMMANDS, Command

REVIEW_COMMANDS: tuple[Command, ...] = (
    Command("help", "F1", "show or hide this help"),
    Command("note", "F2", "write a note about this error (Return or Esc goes back)"),
    Command("propose", "F3", "propose a corrected ground truth: type to search, Return adds or removes the class, Esc closes"),
    Command("clear_proposal", "Shift+F3", "clear the proposed ground truth"),
    Command("save", "Ctrl+Return", "save the review and go to the next unreviewed error"),
    Command("next", "Alt+Right", "next error, without saving"),
    Command("previous", "Alt+Left", "previous error (saving it again revises its review; the earlier one is kept)"),
    Command("zoom_in", "Ctrl+=", "zoom into the image"),
    Command("zoom_out", "Ctrl+-", "zoom out"),
    Command("zoom_fit", "Ctrl+0", "fit the image to the window"),
    *PAN_COMMANDS,
    Command("quit", "Ctrl+Q", "quit; the next start resumes at the first unreviewed error"),
)
REVIEW_NAVIGATION: tuple[Command, ...] = (
    Command("move", "Up / Down", "highlight one of the rater's guesses: its definition and examples show beside the ground truth"),
    Command("close", "Esc", "close the class search, or leave the note"),
)
REVIEW_KEYS = {command.name: command.keys for command in REVIEW_COMMANDS}
#: Keys a cause may not take: the commands', and those that move in lists and type text.
RESERVED_KEYS = frozenset(REVIEW_KEYS.values()) | {"Return", "Enter", "Space", "Tab", "Backspace", "Delete", "PgUp", "PgDown", "Home", "End", "Insert"}

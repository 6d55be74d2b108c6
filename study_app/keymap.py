"""Every command's keyboard shortcut, in one table, shown by the F1 help overlay.

Classes never get hotkeys (a thousand classes cannot have them): typing in the search
box is the way to a class. Commands use Ctrl or function keys so that plain letters
always go to the search box. A protocol may rebind commands in its ``[keys]`` table
(e.g. ``submit = "F12"``); :func:`check_overrides` refuses unknown commands, keys that
would type into the search box, and two commands on one key. No Qt here: the protocol
check uses it.
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
MODIFIERS = ("Ctrl", "Shift", "Alt", "Meta")
NAMED_KEYS = {f"F{n}" for n in range(1, 25)} | {"Return", "Enter", "Backspace", "Delete", "Insert", "Home", "End", "PgUp", "PgDown", "Space", "Tab"}


def normalise_keys(text: str) -> str | None:
    """``ctrl+shift+f7`` -> ``Ctrl+Shift+F7``; None if it is not a key combination."""
    parts = [p.strip() for p in text.replace(" ", "").split("+")] if text.strip() != "+" else ["+"]
    if not parts or not all(parts):
        return None
    *mods, key = parts
    canon_mods = []
    for mod in mods:
        match = [m for m in MODIFIERS if m.lower() == mod.lower()]
        if not match or match[0] in canon_mods:
            return None
        canon_mods.append(match[0])
    named = [k for k in NAMED_KEYS if k.lower() == key.lower()]
    if named:
        key = named[0]
    elif len(key) != 1:
        return None
    else:
        key = key.upper()
    return "+".join([m for m in MODIFIERS if m in canon_mods] + [key])


def check_overrides(overrides: dict[str, object]) -> list[tuple[str, str]]:
    """Problems with a protocol's ``[keys]`` table, as (command, message) pairs."""
    import difflib

    problems: list[tuple[str, str]] = []
    effective = dict(KEYS)
    for command, keys in overrides.items():
        if command not in KEYS:
            close = difflib.get_close_matches(command, list(KEYS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; commands: {', '.join(KEYS)}"
            problems.append((command, f"unknown command {command!r}{hint}"))
            continue
        keys_text = keys if isinstance(keys, str) else ""
        canonical = normalise_keys(keys_text)
        if canonical is None:
            problems.append((command, f"{keys!r} is not a key combination such as 'F12' or 'Ctrl+Shift+S'"))
            continue
        if len(canonical.split("+")[-1]) == 1 and not {"Ctrl", "Alt", "Meta"} & set(canonical.split("+")):
            problems.append((command, f"{canonical!r} would type into the search box; use Ctrl, Alt or a function key"))
            continue
        effective[command] = canonical
    owners: dict[str, str] = {}
    for command, keys in effective.items():
        canonical = normalise_keys(keys) or keys
        if canonical in owners:
            first, second = sorted((owners[canonical], command), key=lambda c: c not in overrides)
            problems.append((first, f"{canonical} is bound to both {owners[canonical]!r} and {command!r}"))
        owners[canonical] = command
    return problems


def effective_keys(overrides: dict[str, str]) -> dict[str, str]:
    """The keys in force: the defaults with the protocol's (checked) overrides."""
    return {**KEYS, **{command: normalise_keys(keys) or keys for command, keys in overrides.items()}}


"""Every command's keyboard shortcut in both windows, annotation and review, in one table
that each window's F1 help shows.

Classes never get hotkeys (a thousand classes cannot have them): typing in the search
box is the way to a class. Commands use Ctrl or function keys so that plain letters
always go to the search box (in the review window, to the causes they tick). Two layers
may rebind the annotation window's commands: the annotator's own keys file (``keys.toml``
in the user's configuration folder, e.g. for a keyboard layout or an accessibility need)
and, above it, a protocol's ``[keys]`` table (e.g. ``submit = "F12"``), which a study
fixes for all its annotators. :func:`check_overrides` refuses unknown commands, keys that
would type into the search box, and two commands on one key. No Qt here: the protocol
check uses it."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from study_app.errors import Problem, ProtocolError
from study_app.io.toml_lines import key_lines, line_of

#: The two windows that take commands from the keyboard.
ANNOTATION = "annotation"
REVIEW = "review"
BOTH = (ANNOTATION, REVIEW)


@dataclass(frozen=True)
class Command:
    """One command (or, in a navigation table, one kind of movement) of the windows named."""

    name: str
    keys: str
    description: str
    windows: tuple[str, ...]


#: Moving a zoomed image (the annotation and review windows both have them).
PAN_COMMANDS: tuple[Command, ...] = (
    Command("pan_left", "Ctrl+Left", "zoomed: show more of the image's left side", BOTH),
    Command("pan_right", "Ctrl+Right", "zoomed: show more of the image's right side", BOTH),
    Command("pan_up", "Ctrl+Up", "zoomed: show more of the image's top", BOTH),
    Command("pan_down", "Ctrl+Down", "zoomed: show more of the image's bottom", BOTH),
)

#: Every window command, once, in the order each window's F1 help lists its own. A command
#: both windows have is one row, so its key cannot drift apart between them; one key may
#: mean different commands in the two windows (F2: the search box, or the review's note).
#: The review window keeps off plain keys because its causes are ticked with them (a
#: taxonomy's cause may not take a review command's key: :data:`RESERVED_KEYS`).
COMMAND_TABLE: tuple[Command, ...] = (
    Command("help", "F1", "show or hide this help", BOTH),
    Command("focus_search", "F2", "go to the search box", (ANNOTATION,)),
    Command("focus_tree", "F3", "browse the class hierarchy (reveals the highlighted class)", (ANNOTATION,)),
    Command("focus_slots", "F4", "go to the answer slots (Alt+Up/Down reorder, Delete clears)", (ANNOTATION,)),
    Command("add_label", "Return", "put the highlighted class into the next free slot", (ANNOTATION,)),
    Command("submit", "Ctrl+Return", "submit the answer", (ANNOTATION,)),
    Command("remove_last", "F7", "remove the last filled slot", (ANNOTATION,)),
    Command("clear_answer", "Shift+F7", "clear all slots", (ANNOTATION,)),
    Command("not_sure", "F5", "answer 'not sure'", (ANNOTATION,)),
    Command("none_of_these", "F6", "answer 'none of these classes'", (ANNOTATION,)),
    Command("flag", "F8", "flag the image (broken, offensive, ambiguous)", (ANNOTATION,)),
    Command(
        "examples",
        "F10",
        "show the highlighted class's examples large (or click one; Left/Right: the others; Esc closes)",
        (ANNOTATION,),
    ),
    Command("pause", "F9", "pause (the image is hidden; the trial goes on after it, its classes kept)", (ANNOTATION,)),
    Command("note", "F2", "write a note about this error (Return or Esc goes back)", (REVIEW,)),
    Command(
        "propose",
        "F3",
        "propose a corrected ground truth: type to search, Return adds or removes the class, Esc closes",
        (REVIEW,),
    ),
    Command("clear_proposal", "Shift+F3", "clear the proposed ground truth", (REVIEW,)),
    Command("save", "Ctrl+Return", "save the review and go to the next unreviewed error", (REVIEW,)),
    Command("next", "Alt+Right", "next error, without saving", (REVIEW,)),
    Command(
        "previous",
        "Alt+Left",
        "previous error (saving it again revises its review; the earlier one is kept)",
        (REVIEW,),
    ),
    Command("zoom_in", "Ctrl+=", "zoom into the image", BOTH),
    Command("zoom_out", "Ctrl+-", "zoom out", BOTH),
    Command("zoom_fit", "Ctrl+0", "fit the image to the window", BOTH),
    *PAN_COMMANDS,
    Command(
        "undo",
        "Ctrl+Z",
        "take back the last answer and revise it (same part, not after a break); again, or Esc, cancels the revision",
        (ANNOTATION,),
    ),
    # one key and one name, but each window says what quitting keeps
    Command("quit", "Ctrl+Q", "save and quit (resume later where you stopped)", (ANNOTATION,)),
    Command("quit", "Ctrl+Q", "quit; the next start resumes at the first unreviewed error", (REVIEW,)),
)

#: Keys inside lists, pages and text fields that are not window-wide shortcuts (help text only).
NAVIGATION_TABLE: tuple[Command, ...] = (
    Command("move", "Up / Down / PgUp / PgDn", "move through search results or the hierarchy", (ANNOTATION,)),
    Command("expand", "Right / Left", "open or close a group in the hierarchy", (ANNOTATION,)),
    Command("continue", "Return / Space", "continue from instructions, feedback and break screens", (ANNOTATION,)),
    Command(
        "move",
        "Up / Down",
        "highlight one of the rater's guesses: its definition and examples show beside the ground truth",
        (REVIEW,),
    ),
    Command("close", "Esc", "close the class search, or leave the note", (REVIEW,)),
)


def window_commands(table: tuple[Command, ...], window: str) -> tuple[Command, ...]:
    """The rows of ``table`` that ``window`` has, in the table's order."""
    return tuple(command for command in table if window in command.windows)


COMMANDS = window_commands(COMMAND_TABLE, ANNOTATION)
NAVIGATION = window_commands(NAVIGATION_TABLE, ANNOTATION)
REVIEW_COMMANDS = window_commands(COMMAND_TABLE, REVIEW)
REVIEW_NAVIGATION = window_commands(NAVIGATION_TABLE, REVIEW)
#: The annotation window's default keys, which a study's ``[keys]`` table and an annotator's
#: keys file may rebind.
KEYS = {command.name: command.keys for command in COMMANDS}
#: The review window's keys (not rebindable).
REVIEW_KEYS = {command.name: command.keys for command in REVIEW_COMMANDS}
#: Keys a taxonomy's cause may not take: the review commands', and those that move in lists and type text.
RESERVED_KEYS = frozenset(REVIEW_KEYS.values()) | {
    "Return",
    "Enter",
    "Space",
    "Tab",
    "Backspace",
    "Delete",
    "PgUp",
    "PgDown",
    "Home",
    "End",
    "Insert",
}

MODIFIERS = ("Ctrl", "Shift", "Alt", "Meta")
NAMED_KEYS = {f"F{n}" for n in range(1, 25)} | {
    "Return",
    "Enter",
    "Backspace",
    "Delete",
    "Insert",
    "Home",
    "End",
    "PgUp",
    "PgDown",
    "Space",
    "Tab",
    "Left",
    "Right",
    "Up",
    "Down",
}


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
    """The keys in force: the defaults with the (checked) overrides."""
    return {**KEYS, **{command: normalise_keys(keys) or keys for command, keys in overrides.items()}}


USER_KEYS_FILE = "keys.toml"


def user_keys_path() -> Path:
    """Where an annotator's own key bindings live: ``$XDG_CONFIG_HOME/study-app/keys.toml``
    (``~/.config/study-app/keys.toml`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "study-app" / USER_KEYS_FILE


def read_user_keys(path: Path) -> dict[str, str]:
    """An annotator's keys file (``command = "key"`` lines), checked; {} if there is none.

    Raises :class:`ProtocolError` naming the file and line of every problem.
    """
    if not path.is_file():
        return {}
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProtocolError([Problem(display, f"cannot read the keys file: {exc}")]) from None
    lines = key_lines(text)
    problems = [
        Problem(display, message, line=line_of(lines, command), field=command)
        for command, message in check_overrides(data)
    ]
    if problems:
        raise ProtocolError(problems)
    return {command: normalise_keys(keys) or keys for command, keys in data.items()}


def combine_keys(
    study_keys: dict[str, str], user_keys: dict[str, str], user_file: str = USER_KEYS_FILE
) -> tuple[dict[str, str], dict[str, str]]:
    """(keys in force, command -> who set it) with the study's keys above the annotator's.

    A binding of the annotator's that clashes with the study's keys (or a default) is
    refused with a message naming both, rather than silently dropped.
    """
    mine = {command: keys for command, keys in user_keys.items() if command not in study_keys}
    clashes = check_overrides({**mine, **study_keys})
    if clashes:
        raise ProtocolError([Problem(user_file, message, field=command) for command, message in clashes])
    sources = {**dict.fromkeys(mine, "your keys file"), **dict.fromkeys(study_keys, "this study")}
    return effective_keys({**mine, **study_keys}), sources

"""The causes an error can be sorted into, with the keys that tag them.

The default is the taxonomy of the ILSVRC paper (Russakovsky et al., IJCV 2015, section
6.4): both sides fail on images with multiple objects and on incorrect ground truth;
people fail on fine-grained distinctions, on classes they did not know existed and
on classes with too few examples to learn from; models fail on small or thin objects,
on filtered or distorted images and on abstract representations (drawings, statues,
toys). "Other" catches the rest. A protocol may replace it with its own ``[review]``
table; :func:`read_review_table` checks that table with file:line errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from study_app.io.toml_check import Field, TomlChecker
from study_app.protocol.keys import RESERVED_KEYS, normalise_keys

HUMANS = "humans"
MODELS = "models"
BOTH = "both"
APPLIES_TO = (HUMANS, MODELS, BOTH)
_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

_REVIEW = {"causes": Field(list, True)}
_CAUSE = {
    "key": Field(str, True),
    "name": Field(str, True),
    "applies_to": Field(str, True),
    "shortcut": Field(str, True),
    "description": Field(str),
}


@dataclass(frozen=True)
class Cause:
    """One cause of error; ``key`` is what the store records, ``shortcut`` tags it."""

    key: str
    name: str
    applies_to: str
    shortcut: str
    description: str = ""

    def applies(self, kind: str) -> bool:
        """Whether the cause is offered for an error of ``kind`` (``human`` or ``model``)."""
        return self.applies_to == BOTH or self.applies_to == {"human": HUMANS, "model": MODELS}.get(kind)


@dataclass(frozen=True)
class Taxonomy:
    causes: tuple[Cause, ...]

    def __post_init__(self) -> None:
        if not self.causes:
            raise ValueError("a taxonomy needs at least one cause")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.causes)

    def by_key(self, key: str) -> Cause:
        for cause in self.causes:
            if cause.key == key:
                return cause
        raise KeyError(key)

    def offered(self, kind: str | None) -> tuple[Cause, ...]:
        """The causes shown for an error of ``kind``; all of them when the kind is hidden (blind)."""
        return self.causes if kind is None else tuple(c for c in self.causes if c.applies(kind))

    def to_json(self) -> list[dict[str, str]]:
        """As stored with each review session (so old reviews stay readable if the protocol changes)."""
        return [
            {
                "key": c.key,
                "name": c.name,
                "applies_to": c.applies_to,
                "shortcut": c.shortcut,
                "description": c.description,
            }
            for c in self.causes
        ]

    @classmethod
    def from_json(cls, rows: list[Mapping[str, str]]) -> Taxonomy:
        return cls(
            tuple(Cause(r["key"], r["name"], r["applies_to"], r["shortcut"], r.get("description", "")) for r in rows)
        )


DEFAULT_TAXONOMY = Taxonomy(
    (
        Cause(
            "multiple_objects", "multiple objects", BOTH, "1", "the image shows several objects of different classes"
        ),
        Cause("incorrect_ground_truth", "incorrect ground truth", BOTH, "2", "the ground-truth label is wrong"),
        Cause(
            "fine_grained",
            "fine-grained recognition",
            HUMANS,
            "3",
            "two very similar classes were confused (e.g. dog breeds)",
        ),
        Cause(
            "class_unawareness",
            "class unawareness",
            HUMANS,
            "4",
            "the right class was never considered: the rater did not know it existed",
        ),
        Cause(
            "insufficient_training",
            "insufficient training data",
            HUMANS,
            "5",
            "too few examples of the class to learn it from",
        ),
        Cause("small_thin", "small or thin objects", MODELS, "6", "the object is small or thin in the image"),
        Cause(
            "filters_distortions",
            "image filters or distortions",
            MODELS,
            "7",
            "a filter, distortion, contrast or colour change",
        ),
        Cause(
            "abstract", "abstract representation", MODELS, "8", "a drawing, painting, statue, toy or other depiction"
        ),
        Cause("other", "other", BOTH, "9", "anything else (say what in the note)"),
    )
)


def read_review_table(raw: Any, check: TomlChecker) -> Taxonomy:
    """The taxonomy of a protocol's ``[review]`` table; problems go to ``check`` (file:line [field]).

    Returns the default taxonomy when the table has problems, so that the caller can go
    on collecting the protocol's other problems before it raises.
    """
    if not isinstance(raw, dict):
        check.add("review must be a table ([review] with [[review.causes]] entries)", "review")
        return DEFAULT_TAXONOMY
    before = len(check.problems)
    table = check.table(raw, _REVIEW, ("review",))
    causes: list[Cause] = []
    keys: dict[str, int] = {}
    shortcuts: dict[str, int] = {}
    entries = table.get("causes", [])
    if "causes" in table and not entries:
        check.add("review.causes is empty: give at least one [[review.causes]] entry", "review", "causes")
    for index, entry in enumerate(entries):
        where = ("review", "causes", index)
        if not isinstance(entry, dict):
            check.add("each [[review.causes]] entry must be a table", *where)
            continue
        cfg = check.table(entry, _CAUSE, where)
        key, name, applies_to, shortcut = (cfg.get(f) for f in ("key", "name", "applies_to", "shortcut"))
        if key is not None:
            if not _KEY_PATTERN.match(key):
                check.add(
                    f"key {key!r} must be lower-case letters, digits, '_' or '-', starting with a letter (at most 40)",
                    *where,
                    "key",
                )
            elif key in keys:
                check.add(f"key {key!r} is already used by cause {keys[key] + 1}", *where, "key")
            else:
                keys[key] = index
        if name is not None and not name.strip():
            check.add("name must not be empty", *where, "name")
        if applies_to is not None and applies_to not in APPLIES_TO:
            check.add(f"applies_to must be one of {', '.join(APPLIES_TO)}, not {applies_to!r}", *where, "applies_to")
        canonical = _shortcut(shortcut, check, where) if shortcut is not None else None
        if canonical is not None:
            if canonical in shortcuts:
                check.add(
                    f"shortcut {canonical!r} is already used by cause {shortcuts[canonical] + 1}", *where, "shortcut"
                )
            else:
                shortcuts[canonical] = index
        if key is not None and name is not None and applies_to is not None and canonical is not None:
            causes.append(Cause(key, name.strip(), applies_to, canonical, cfg.get("description", "").strip()))
    if len(check.problems) > before or not causes:
        return DEFAULT_TAXONOMY
    return Taxonomy(tuple(causes))


def _shortcut(text: str, check: TomlChecker, where: tuple[str | int, ...]) -> str | None:
    """A single letter or digit, or a function key, not one of the review window's own keys."""
    canonical = normalise_keys(text)
    if canonical is None or "+" in canonical:
        check.add(
            f"shortcut {text!r} must be one letter, one digit or a function key such as 'F5' (no modifiers)",
            *where,
            "shortcut",
        )
        return None
    if canonical in RESERVED_KEYS:
        check.add(f"shortcut {canonical!r} is a key of the review window itself; choose another", *where, "shortcut")
        return None
    return canonical

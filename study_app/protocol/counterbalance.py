"""Counterbalancing: which conditions, in which order, on which images each annotator gets.

A protocol's ``[counterbalance]`` table names the phases that are the study's conditions
and, optionally, a manifest column that splits their images into blocks::

    [counterbalance]
    phases = ["short", "long"]   # the conditions
    blocks = "block"             # optional manifest column
    order = "latin-square"       # or "williams"

Annotators are put into groups in rotation as they arrive (group = arrival order modulo
the number of groups). Each group has one row of a Latin square, which fixes the order of
the conditions and, with ``blocks``, which block of images each condition shows: with *m*
conditions and *m* blocks every annotator sees every image once, and over *m* annotators
every image is seen once in every condition. With one condition and *b* blocks, the
groups simply take turns over the blocks (image subsets). ``williams`` uses Williams'
design for the order, balanced for first-order carry-over (each condition follows every
other equally often); it needs 2m groups when m is odd.

**Conditions in the manifest** (a degradation experiment: the manifest's ``condition``
column holds each stimulus's level, and a ``source_image_id`` column the source image it was
made from, as ``new-study degrade`` writes them)::

    [counterbalance]
    phases = ["test"]              # the phase(s) whose stimuli carry the conditions
    conditions = "manifest"        # conditions from the manifest's condition column
    source = "source_image_id"     # optional; the column naming each stimulus's source image

An annotator must never see one source image at two levels (the second view would be
primed by the first). With *m* levels, the phase's source images are split into *m* blocks
(in order of first appearance in the manifest, taking turns: source *i* is in block
*i* mod *m*, so block sizes differ by at most one), and group *g* sees block *b* at level
*(g + b) mod m*: each annotator sees every source image exactly once, every level on one
block, and over *m* consecutive annotators every stimulus (source, level) exactly once. Each
stimulus therefore belongs to exactly one group, ``(level index - block) mod m``; the
loader stores that group as the stimulus's ``block``, so a session takes the stimuli of its
group exactly as it takes a block of images (:func:`study_app.protocol.schedule.phase_trials`). The
levels are taken in :func:`level_order` (numerically when every level is a number). Every
source image of the phase must have exactly one stimulus at every level; the trials of a
phase are shuffled as usual, so the levels are interleaved.

The assignment is a pure function of (design, arrival order); the trial order within a
phase still comes from (study seed, annotator id), so an annotator's whole sequence is
reproducible from (study seed, annotator id, arrival order). The store keeps each
session's assignment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ORDERS = ("latin-square", "williams")
#: The one value of ``conditions``: the levels come from the manifest's condition column.
MANIFEST_CONDITIONS = "manifest"
DEFAULT_SOURCE_COLUMN = "source_image_id"


def level_order(levels: Iterable[str]) -> list[str]:
    """Distinct levels, numerically when every one is a number ("0.1" before "0.35" before
    "inf"), else as written; the rule behind the statistics' ``condition_order`` too."""
    distinct = sorted(set(levels))
    try:
        numbers = {level: float(level) for level in distinct}
    except ValueError:
        return distinct
    if any(math.isnan(n) for n in numbers.values()):
        return distinct
    return sorted(distinct, key=lambda level: (numbers[level], level))


@dataclass(frozen=True)
class Design:
    """A checked ``[counterbalance]`` table."""

    phases: tuple[str, ...]
    column: str | None = None
    blocks: tuple[str, ...] = ()
    order: str = "latin-square"
    #: A design over manifest conditions: the levels in order, and the source image column.
    levels: tuple[str, ...] = ()
    source: str | None = None

    @property
    def groups(self) -> int:
        """How many different assignments there are before the rotation repeats."""
        if self.levels:
            return len(self.levels)
        conditions = len(self.phases)
        if conditions == 1:
            return len(self.blocks)
        if self.order == "williams" and conditions % 2:
            return 2 * conditions
        return conditions

    def rows(self) -> list[list[int]]:
        """The order rows: row g lists condition indices in the order group g meets them."""
        m = len(self.phases)
        if self.order == "latin-square" or m < 3:
            return [[(g + j) % m for j in range(m)] for g in range(m)]
        first = [0]
        low, high = 1, m - 1
        while len(first) < m:
            first.append(low)
            low += 1
            if len(first) < m:
                first.append(high)
                high -= 1
        rows = [[(c + g) % m for c in first] for g in range(m)]
        return rows if m % 2 == 0 else rows + [row[::-1] for row in rows]

    def assign(self, arrival: int) -> Assignment:
        """The assignment of the annotator who arrived ``arrival``-th (0-based)."""
        group = arrival % self.groups
        if self.levels:  # each stimulus's block is the group that shows it (stimulus_groups)
            return Assignment(group, arrival, self.phases, {phase: str(group) for phase in self.phases})
        rows = self.rows()
        order = tuple(self.phases[c] for c in rows[group % len(rows)])
        blocks: dict[str, str] = {}
        if self.blocks:
            for condition, phase in enumerate(self.phases):
                blocks[phase] = self.blocks[(group + condition) % len(self.blocks)]
        return Assignment(group, arrival, order, blocks)


@dataclass(frozen=True)
class Assignment:
    """One annotator's place in the design, as stored with the session."""

    group: int
    arrival: int
    phase_order: tuple[str, ...]
    blocks: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(
            {
                "group": self.group,
                "arrival": self.arrival,
                "phase_order": list(self.phase_order),
                "blocks": self.blocks,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Assignment:
        data = json.loads(text)
        return cls(int(data["group"]), int(data["arrival"]), tuple(data["phase_order"]), dict(data["blocks"]))


def stimulus_groups(stimuli: dict[str, tuple[str, str]], levels: tuple[str, ...]) -> dict[str, str]:
    """image id -> the group (as text) that sees it, for one phase's stimuli ``image id ->
    (source, level)`` listed in manifest order: source *i* is in block *i* mod *m*, and group
    *g* sees block *b* at level *(g + b) mod m*, so a stimulus at level *c* goes to *(c - b) mod m*."""
    m = len(levels)
    level_index = {level: n for n, level in enumerate(levels)}
    block: dict[str, int] = {}
    for source, _ in stimuli.values():
        block.setdefault(source, len(block) % m)
    return {image_id: str((level_index[level] - block[source]) % m) for image_id, (source, level) in stimuli.items()}


def check_condition_design(
    cfg: dict[str, Any], phases: list[str], stimuli: dict[str, dict[str, tuple[str, str]]]
) -> tuple[Design | None, list[tuple[str, str]]]:
    """A design over manifest conditions (see the module docstring) and its problems.

    ``stimuli[phase][image_id]`` is each stimulus's (source, condition), "" where empty.
    """
    source = cfg.get("source", DEFAULT_SOURCE_COLUMN)
    if cfg.get("conditions") != MANIFEST_CONDITIONS:
        return None, [
            (
                "conditions",
                f"conditions must be {MANIFEST_CONDITIONS!r} (the levels of the "
                f"manifest's condition column), not {cfg.get('conditions')!r}",
            )
        ]
    problems: list[tuple[str, str]] = [
        (key, f"{key} does not apply with conditions = {MANIFEST_CONDITIONS!r}: the blocks are groups of source images")
        for key in ("blocks", "order")
        if key in cfg
    ]
    levels = tuple(level_order(level for phase in phases for _, level in stimuli.get(phase, {}).values() if level))
    if len(levels) < 2:
        problems.append(
            (
                "conditions",
                f"the condition column of phase(s) {', '.join(phases)} has "
                f"{len(levels)} level(s); a Latin square needs at least 2",
            )
        )
    for phase in phases:
        problems += _incomplete_sources(phase, stimuli.get(phase, {}), levels, source)
    if problems:
        return None, problems
    return Design(tuple(phases), levels=levels, source=source), []


def _incomplete_sources(
    phase: str, stimuli: dict[str, tuple[str, str]], levels: tuple[str, ...], column: str
) -> list[tuple[str, str]]:
    """Every source image of the phase needs exactly one stimulus at every level, or some
    group would miss a stimulus (or see one source twice)."""
    problems = []
    unlabelled = [i for i, (source, level) in stimuli.items() if not source or not level]
    if unlabelled:
        problems.append(
            (
                "source",
                f"{len(unlabelled)} image(s) of phase {phase!r} have no value in "
                f"manifest column {column!r} or condition (e.g. {unlabelled[0]!r})",
            )
        )
    seen: dict[str, list[str]] = {}
    for source, level in stimuli.values():
        if source and level:
            seen.setdefault(source, []).append(level)
    for source, found in seen.items():
        if sorted(found) != sorted(levels):
            missing = [lv for lv in levels if lv not in found]
            twice = sorted({lv for lv in found if found.count(lv) > 1})
            what = (
                (f"no stimulus at level(s) {', '.join(missing)}" if missing else "")
                + ("; " if missing and twice else "")
                + (f"two stimuli at level(s) {', '.join(twice)}" if twice else "")
            )
            problems.append(
                (
                    "source",
                    f"source image {source!r} of phase {phase!r} has {what}; every "
                    f"source needs one stimulus at each level {', '.join(levels)}",
                )
            )
            break  # one example is enough to see the pattern; the rest follow from the same fix
    return problems


def check_design(
    cfg: dict[str, Any],
    phase_names: list[str],
    block_of: dict[str, dict[str, str]],
    stimuli: dict[str, dict[str, tuple[str, str]]] | None = None,
) -> tuple[Design | None, list[tuple[str, str]]]:
    """The design of a ``[counterbalance]`` table and its problems as (field, message).

    ``block_of[phase][image_id]`` is each image's value in the blocks column ("" if empty);
    ``stimuli[phase][image_id]`` its (source, condition), for a design over manifest conditions.
    """
    problems: list[tuple[str, str]] = []
    phases = cfg.get("phases", [])
    if not isinstance(phases, list) or not phases or not all(isinstance(p, str) for p in phases):
        return None, [("phases", "phases must be a non-empty list of phase names")]
    for name in phases:
        if name not in phase_names:
            problems.append(("phases", f"no phase named {name!r} (phases: {', '.join(phase_names)})"))
    if len(set(phases)) != len(phases):
        problems.append(("phases", "a phase is listed twice"))
    if problems:
        return None, problems
    if "conditions" in cfg:
        return check_condition_design(cfg, phases, stimuli or {})
    order = cfg.get("order", "latin-square")
    if order not in ORDERS:
        problems.append(("order", f"order must be one of {', '.join(ORDERS)}, not {order!r}"))
    column = cfg.get("blocks")
    if "source" in cfg:
        problems.append(("source", f"source applies only with conditions = {MANIFEST_CONDITIONS!r}"))
    if problems:
        return None, problems
    if column is None:
        if len(phases) < 2:
            return None, [("phases", "with one phase and no blocks column there is nothing to counterbalance")]
        return Design(tuple(phases), order=order), []
    values: set[str] = set()
    for name in phases:
        missing = [image_id for image_id, value in block_of.get(name, {}).items() if not value]
        if missing:
            problems.append(
                (
                    "blocks",
                    f"{len(missing)} image(s) of phase {name!r} have no value "
                    f"in manifest column {column!r} (e.g. {missing[0]!r})",
                )
            )
        values |= {v for v in block_of.get(name, {}).values() if v}
    blocks = tuple(sorted(values))
    if len(phases) == 1 and len(blocks) < 2:
        problems.append(
            ("blocks", f"manifest column {column!r} needs at least 2 different values to rotate image subsets")
        )
    if len(phases) > 1:
        if len(blocks) != len(phases):
            problems.append(
                (
                    "blocks",
                    f"a Latin square over {len(phases)} conditions needs {len(phases)} blocks; "
                    f"manifest column {column!r} has {len(blocks)} ({', '.join(blocks) or 'none'})",
                )
            )
        for name in phases[1:]:
            if set(block_of.get(name, {})) != set(block_of.get(phases[0], {})):
                problems.append(
                    (
                        "phases",
                        f"phases {phases[0]!r} and {name!r} must show the same "
                        "images (each annotator sees each block in one of them)",
                    )
                )
    if problems:
        return None, problems
    return Design(tuple(phases), column, blocks, order), []

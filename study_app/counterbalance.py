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

The assignment is a pure function of (design, arrival order); the trial order within a
phase still comes from (study seed, annotator id), so an annotator's whole sequence is
reproducible from (study seed, annotator id, arrival order). The store keeps each
session's assignment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ORDERS = ("latin-square", "williams")


@dataclass(frozen=True)
class Design:
    """A checked ``[counterbalance]`` table."""

    phases: tuple[str, ...]
    column: str | None = None
    blocks: tuple[str, ...] = ()
    order: str = "latin-square"

    @property
    def groups(self) -> int:
        """How many different assignments there are before the rotation repeats."""
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
            {"group": self.group, "arrival": self.arrival, "phase_order": list(self.phase_order), "blocks": self.blocks},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Assignment:
        data = json.loads(text)
        return cls(int(data["group"]), int(data["arrival"]), tuple(data["phase_order"]), dict(data["blocks"]))


def check_design(
    cfg: dict, phase_names: list[str], block_of: dict[str, dict[str, str]]
) -> tuple[Design | None, list[tuple[str, str]]]:
    """The design of a ``[counterbalance]`` table and its problems as (field, message).

    ``block_of[phase][image_id]`` is each image's value in the blocks column ("" if empty).
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
    order = cfg.get("order", "latin-square")
    if order not in ORDERS:
        problems.append(("order", f"order must be one of {', '.join(ORDERS)}, not {order!r}"))
    column = cfg.get("blocks")
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
            problems.append(("blocks", f"{len(missing)} image(s) of phase {name!r} have no value in manifest column {column!r} (e.g. {missing[0]!r})"))
        values |= {v for v in block_of.get(name, {}).values() if v}
    blocks = tuple(sorted(values))
    if len(phases) == 1 and len(blocks) < 2:
        problems.append(("blocks", f"manifest column {column!r} needs at least 2 different values to rotate image subsets"))
    if len(phases) > 1:
        if len(blocks) != len(phases):
            problems.append(
                ("blocks", f"a Latin square over {len(phases)} conditions needs {len(phases)} blocks; "
                 f"manifest column {column!r} has {len(blocks)} ({', '.join(blocks) or 'none'})")
            )
        for name in phases[1:]:
            if set(block_of.get(name, {})) != set(block_of.get(phases[0], {})):
                problems.append(("phases", f"phases {phases[0]!r} and {name!r} must show the same images (each annotator sees each block in one of them)"))
    if problems:
        return None, problems
    return Design(tuple(phases), column, blocks, order), []

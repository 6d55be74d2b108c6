"""The label set of a study: answerable classes, their names and the hierarchy above them.

Classes are what annotators and models answer with. The hierarchy (child -> parent, a
forest: many roots allowed, one parent per node) may add inner nodes that are not
answerable, such as WordNet's "domestic cat" above "tabby"; the GUI browses it, and the
statistics use it for error severity (lowest common ancestor, superclass right).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from study_app.errors import Problem
from study_app.io.csvfiles import CsvRow, read_csv, split_list


@dataclass(frozen=True)
class Label:
    """A class or an inner node of the hierarchy.

    ``kinds`` are names of the kinds of thing the label covers ("deck chair" for folding
    chair, "snare drum" for drum): not other names for it, but words an annotator who
    knows only the specific thing types. The search finds the label by them, after every
    name and synonym (:mod:`study_app.session.label_search`).
    """

    label_id: str
    name: str
    synonyms: tuple[str, ...] = ()
    definition: str = ""
    is_class: bool = True
    kinds: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        """The display name first, then every synonym that differs from it."""
        rest = tuple(s for s in self.synonyms if s.casefold() != self.name.casefold())
        return (self.name, *rest)


@dataclass(frozen=True)
class LabelSet:
    """Answerable classes (in file order) plus inner nodes, joined by a forest."""

    classes: tuple[Label, ...]
    inner_nodes: tuple[Label, ...] = ()
    parent_of: dict[str, str] = field(default_factory=dict)
    examples: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)

    @cached_property
    def by_id(self) -> dict[str, Label]:
        return {label.label_id: label for label in (*self.classes, *self.inner_nodes)}

    @cached_property
    def class_ids(self) -> frozenset[str]:
        return frozenset(label.label_id for label in self.classes)

    @cached_property
    def children_of(self) -> dict[str, tuple[str, ...]]:
        """Children of every node, sorted by display name for browsing."""
        kids: dict[str, list[str]] = {}
        for child, parent in self.parent_of.items():
            kids.setdefault(parent, []).append(child)
        return {p: tuple(sorted(c, key=lambda i: self.by_id[i].name.casefold())) for p, c in kids.items()}

    @cached_property
    def roots(self) -> tuple[str, ...]:
        """Nodes without a parent, classes outside the hierarchy included."""
        found = [i for i in self.by_id if i not in self.parent_of]
        return tuple(sorted(found, key=lambda i: self.by_id[i].name.casefold()))

    @cached_property
    def class_count_below(self) -> dict[str, int]:
        """Number of answerable classes in each node's subtree (itself included)."""
        counts = dict.fromkeys(self.by_id, 0)
        for class_id in self.class_ids:
            for node in self.path_to_root(class_id):
                counts[node] += 1
        return counts

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self.class_ids

    def __iter__(self) -> Iterator[Label]:
        return iter(self.classes)

    def __getitem__(self, label_id: str) -> Label:
        return self.by_id[label_id]

    def path_to_root(self, node: str) -> list[str]:
        """``node`` and its ancestors, nearest first."""
        path = [node]
        while path[-1] in self.parent_of:
            path.append(self.parent_of[path[-1]])
        return path

    def depth(self, node: str) -> int:
        """Edges between ``node`` and its root (a root has depth 0)."""
        return len(self.path_to_root(node)) - 1

    def lowest_common_ancestor(self, a: str, b: str) -> str | None:
        """The deepest node above (or equal to) both, or ``None`` in different trees."""
        above_a = set(self.path_to_root(a))
        for node in self.path_to_root(b):
            if node in above_a:
                return node
        return None


def _labels_from_rows(rows: list[CsvRow], display: str, is_class: bool, problems: list[Problem]) -> list[Label]:
    labels: list[Label] = []
    for row in rows:
        label_id = row.get("label_id")
        name = row.get("name")
        if not label_id:
            problems.append(Problem(display, "empty label_id", line=row.line, field="label_id"))
            continue
        if any(ch.isspace() for ch in label_id) or ";" in label_id:
            problems.append(
                Problem(display, f"label_id {label_id!r} contains spaces or ';'", line=row.line, field="label_id")
            )
            continue
        if not name:
            problems.append(Problem(display, f"label {label_id!r} has no name", line=row.line, field="name"))
            name = label_id
        synonyms = _names(row, "synonyms", display, problems)
        kinds = _names(row, "kinds", display, problems)
        own = {n.casefold() for n in (name, *synonyms)}
        for kind in kinds:
            if kind.casefold() in own:
                problems.append(
                    Problem(
                        display,
                        f"kind {kind!r} of {label_id!r} is one of its own names: a kind names something more "
                        "specific (list another name under synonyms)",
                        line=row.line,
                        field="kinds",
                    )
                )
        labels.append(Label(label_id, name, synonyms, row.get("definition"), is_class, kinds))
    return labels


def _names(row: CsvRow, column: str, display: str, problems: list[Problem]) -> tuple[str, ...]:
    """A ``;``-separated list of names (synonyms, kinds); a name without a letter or digit can
    never be typed into the search, so it is a problem."""
    kept = []
    for name in split_list(row.get(column)):
        if any(ch.isalnum() for ch in name):
            kept.append(name)
        else:
            problems.append(
                Problem(display, f"{column[:-1]} {name!r} has no letter or digit", line=row.line, field=column)
            )
    return tuple(kept)


def read_label_rows(path: Path, display: str, is_class: bool, problems: list[Problem]) -> list[Label]:
    """Read a ``label_id,name,synonyms,definition[,kinds]`` CSV; problems are appended, not raised."""
    rows = read_csv(path, ("label_id", "name"), problems, display)
    if rows is None:
        return []
    labels = _labels_from_rows(rows, display, is_class, problems)
    seen: set[str] = set()
    unique: list[Label] = []
    for row, label in zip(rows, labels):
        if label.label_id in seen:
            problems.append(Problem(display, f"duplicate label_id {label.label_id!r}", line=row.line, field="label_id"))
            continue
        seen.add(label.label_id)
        unique.append(label)
    return unique


def read_hierarchy(path: Path, display: str, known: set[str], problems: list[Problem]) -> dict[str, str]:
    """Read a ``child,parent`` CSV into a forest, reporting unknown ids, second parents and cycles."""
    rows = read_csv(path, ("child", "parent"), problems, display)
    if rows is None:
        return {}
    parent_of: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for row in rows:
        child, parent = row.get("child"), row.get("parent")
        bad = False
        for column, value in (("child", child), ("parent", parent)):
            if value not in known:
                problems.append(
                    Problem(
                        display, f"{column} {value!r} is neither a class nor an inner node", line=row.line, field=column
                    )
                )
                bad = True
        if bad:
            continue
        if child == parent:
            problems.append(Problem(display, f"{child!r} is its own parent", line=row.line, field="parent"))
            continue
        if child in parent_of and parent_of[child] != parent:
            problems.append(
                Problem(
                    display,
                    f"{child!r} has a second parent {parent!r} (first: {parent_of[child]!r} on line "
                    f"{line_of[child]}); the hierarchy must be a tree",
                    line=row.line,
                    field="parent",
                )
            )
            continue
        parent_of[child] = parent
        line_of[child] = row.line
    for start in list(parent_of):
        seen = [start]
        node = start
        while node in parent_of:
            node = parent_of[node]
            if node in seen:
                cycle = seen[seen.index(node) :]  # the nodes leading into the cycle are not part of it
                problems.append(
                    Problem(
                        display,
                        f"cycle in the hierarchy: {' -> '.join([*cycle, node])}",
                        line=max(line_of[m] for m in cycle),
                    )
                )
                for member in cycle:
                    parent_of.pop(member, None)
                break
            seen.append(node)
    return parent_of

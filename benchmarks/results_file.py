"""RESULTS.md as data: which module ran when and where, the result rows, the hand-written notes.

The runner replaces one module's rows at a time, so the file must say for each row group
when and on which machine it was measured; a single date in the header would be wrong as
soon as one module is rerun alone. The notes (everything from ``## Notes`` on) are
written by people and are kept byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .common import TABLE_HEADER

INTRO = """# Benchmark results

Written by `python -m benchmarks` (every module) and `python -m benchmarks --only MODULE ...`
(only those modules' rows and their line in the first table change). Each value is
compared with a baseline measured in the same run on the same data (last column:
baseline / value, so > 1 means faster than the baseline). Timings depend on the machine,
so compare rows only with rows measured on the same machine.
"""

RUNS_HEADER = "| module | rows | measured | machine |\n|---|---|---|---|"
NOTES = "## Notes"


@dataclass(frozen=True)
class ModuleRun:
    """When and where one module's rows were measured."""

    module: str
    when: str
    machine: str

    def row(self, group: str) -> str:
        return f"| {self.module} | {group} | {self.when} | {self.machine} |"


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@dataclass
class ResultsFile:
    rows: dict[str, list[str]] = field(default_factory=dict)  # group -> result rows, in file order
    runs: dict[str, ModuleRun] = field(default_factory=dict)  # group -> its run
    notes: str = ""

    @classmethod
    def read(cls, path: Path) -> ResultsFile:
        """Parse a RESULTS.md written by :meth:`write` (a missing file is an empty one)."""
        parsed = cls()
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if NOTES in text:
            text, parsed.notes = text[: text.index(NOTES)], text[text.index(NOTES) :]
        for line in text.splitlines():
            if not line.startswith("| ") or line.startswith(("| benchmark |", "| module |")):
                continue
            if line.count("|") == 8:
                parsed.rows.setdefault(cells(line)[0], []).append(line)
            elif line.count("|") == 5:
                module, group, when, machine = cells(line)
                parsed.runs[group] = ModuleRun(module, when, machine)
        return parsed

    def replace(self, group: str, rows: list[str], run: ModuleRun) -> None:
        """Put ``rows`` in place of the group's old rows."""
        self.rows[group] = list(rows)
        self.runs[group] = run

    def render(self, order: list[str]) -> str:
        groups = [g for g in order if g in self.rows] + [g for g in self.rows if g not in order]
        runs = [self.runs[g].row(g) for g in groups if g in self.runs]
        table = [row for g in groups for row in self.rows[g]]
        notes = self.notes or f"{NOTES}\n"
        return (
            f"{INTRO}\n{RUNS_HEADER}\n" + "\n".join(runs) + f"\n\n{TABLE_HEADER}\n" + "\n".join(table) + f"\n\n{notes}"
        )

    def write(self, path: Path, order: list[str]) -> None:
        """Write atomically: a crash half-way must not lose the other modules' rows."""
        temporary = path.with_suffix(".md.tmp")
        temporary.write_text(self.render(order), encoding="utf-8")
        temporary.replace(path)

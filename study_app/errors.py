"""One exception family for every problem a researcher or annotator can act on.

Each error says what is wrong, where (file, line or row, field) and, where we know it,
how to fix it. The CLI prints these without a traceback and exits non-zero; anything
else escaping is a bug in this program.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return where

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"


def _listed(head: str, problems: list[Problem]) -> str:
    """``<head>N problems:`` and one indented line per problem: a protocol's and a model spec's
    problems read alike."""
    count = len(problems)
    return "\n".join([f"{head}{count} problem{'s' if count != 1 else ''}:", *(f"  - {p}" for p in problems)])


class StudyError(Exception):
    """Base of all errors this program reports to its users."""


class ProtocolError(StudyError):
    """A study protocol folder has one or more problems; all are listed at once."""

    def __init__(self, problems: list[Problem], study: str | Path = "") -> None:
        self.problems = list(problems)
        self.study = str(study)
        super().__init__(_listed(f"study {self.study} has " if self.study else "", self.problems))


class ImageError(StudyError):
    """An image file cannot be used: missing, corrupt, too large or of an odd kind."""


class StudyNotFoundError(StudyError):
    """A study name or path does not lead to a protocol folder."""


class InputFileError(StudyError):
    """A data file (CSV of labels, predictions, answers) cannot be read as declared."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(StudyError):
    """The results store cannot be opened, written or merged as asked."""


class ProtocolChangedError(StoreError):
    """A session was started under another version of the protocol than the one loaded."""


class StoreCorruptError(StoreError):
    """A results file fails SQLite's integrity check or our own invariants."""


class TransformError(StudyError):
    """A stimulus transform's name, level or seed cannot be used as asked; the message lists what can."""


class ModelSpecError(StudyError):
    """A model spec cannot be used; every problem found is listed with file, line, field."""

    def __init__(self, problems: list[Problem], spec: str | Path = "") -> None:
        self.problems = list(problems)
        super().__init__(_listed(f"model spec {spec} has " if spec else "", self.problems))


class ModelRunError(StudyError):
    """A valid model spec cannot run here: a missing runtime or device, or an unusable --out file."""

"""Errors of the model runner, in the app's one exception family (:class:`StudyError`)."""

from __future__ import annotations

from pathlib import Path

from study_app.errors import Problem, StudyError


class ModelSpecError(StudyError):
    """A model spec cannot be used; every problem found is listed with file, line, field."""

    def __init__(self, problems: list[Problem], spec: str | Path = "") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"model spec {spec} has " if spec else ""
        lines = [f"{head}{count} problem{'s' if count != 1 else ''}:", *(f"  - {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


class ModelRunError(StudyError):
    """A valid spec cannot run here: a missing runtime or device, or an unusable --out file."""

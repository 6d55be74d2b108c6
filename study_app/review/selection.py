"""Which errors a review walks through: what the command line must know before any
analysis runs (kept apart from :mod:`study_app.review.items`, which loads pandas and the
statistics, so that starting any command stays quick)."""

from __future__ import annotations

from dataclasses import dataclass

#: ``--raters`` choices besides a list of rater names.
RATER_GROUPS = ("humans", "models", "all")
REVIEW_RULES = ("top-1", "top-k")


@dataclass(frozen=True)
class Selection:
    """Which errors: the raters (a group or names), the correctness rule, k and the phases."""

    raters: tuple[str, ...] = ("all",)
    rule: str = "top-k"
    phases: tuple[str, ...] = ()
    k: int | None = None

    def to_json(self) -> dict:
        return {"raters": list(self.raters), "rule": self.rule, "phases": list(self.phases), "k": self.k}

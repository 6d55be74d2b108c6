"""Which phases an analysis covers, and which rows of a rater table belong to them.

``compare``, ``report`` and ``review`` take the same phases by default (those without
feedback: in a training phase people are taught the answers) and refuse an unknown phase
with the same message, so that a reviewer reviews exactly the errors the error rates count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from study_app.errors import StudyError

if TYPE_CHECKING:  # pandas loads on first use
    import pandas as pd

    from study_app.protocol.study import Study


def default_phases(study: Study) -> list[str]:
    """The phases analysed unless others are named: those without feedback (all, if every phase has feedback)."""
    return [p.name for p in study.phases if not p.feedback] or [p.name for p in study.phases]


def chosen_phases(asked: Sequence[str] | None, default: Sequence[str], known: Sequence[str]) -> list[str]:
    """``asked`` if given (each must be one of ``known``), else ``default``."""
    unknown = [p for p in asked or [] if p not in known]
    if unknown:
        raise StudyError(f"no phase {unknown[0]!r}; phases: {', '.join(known)}")
    return list(asked) if asked else list(default)


def analysed_trials(raters: pd.DataFrame, phases: Sequence[str]) -> pd.DataFrame:
    """The rows of the analysed phases, and the model rows of images that no phase shows
    (phase ""): they count in a model's error on all its images (scope ``all``)."""
    return raters[raters["phase"].isin([*phases, ""])].reset_index(drop=True)

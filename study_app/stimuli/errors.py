"""Errors of stimulus generation, in the app's one exception family (:class:`StudyError`)."""

from __future__ import annotations

from study_app.errors import StudyError


class TransformError(StudyError):
    """A transform name, level or seed cannot be used as asked; the message lists what can."""

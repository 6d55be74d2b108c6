"""Who a participant is, from the link an online panel opens (or a typed pseudonym).

Prolific opens a study's link with ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID``;
MTurk with ``workerId``, ``assignmentId`` and ``hitId``, and with ``assignmentId =
ASSIGNMENT_ID_NOT_AVAILABLE`` while a worker only previews the task. The panel's id
becomes the annotator id (checked as the desktop checks a typed one); the other
parameters are recorded with the session, so that payments can be matched to answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from study_app.protocol.schedule import check_annotator_id

#: The URL parameters each panel sends, the participant's id first.
PANEL_PARAMETERS = {
    "prolific": ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    "mturk": ("workerId", "assignmentId", "hitId", "turkSubmitTo"),
}
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"


@dataclass(frozen=True)
class Participant:
    annotator: str
    panel: str  # prolific, mturk, or "" for a typed pseudonym
    parameters: dict[str, str]  # the panel's parameters, as given (recorded with the session)


def is_preview(params: dict[str, str]) -> bool:
    """An MTurk worker looking at the task before accepting it: may read, not start."""
    return params.get("assignmentId") == MTURK_PREVIEW


def identify(params: dict[str, str], typed: str) -> Participant:
    """The participant the link (or the typed pseudonym) names; raises StudyError for a bad id."""
    for panel, names in PANEL_PARAMETERS.items():
        if params.get(names[0]):
            return Participant(
                check_annotator_id(params[names[0]]), panel, {k: params[k] for k in names if k in params}
            )
    return Participant(check_annotator_id(typed), "", {})

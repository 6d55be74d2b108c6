"""What the page is shown, as JSON: the study's label set, a session's state, feedback.

Built from the study and the session core only, and never with a test image's ground
truth, its id or its file name: the page learns an image's truth only as training
feedback after its answer, and sees images only through opaque per-session URLs.
"""

from __future__ import annotations

from typing import Any

from study_app.protocol.keys import ANNOTATION, COMMAND_TABLE, NAVIGATION_TABLE, effective_keys, window_commands
from study_app.protocol.study import Phase, Study
from study_app.session.controller import Feedback, SessionController
from study_app.session.label_search import distinguishing_notes


def study_config(study: Study) -> dict[str, Any]:
    """``GET /api/config``: the study's texts, key commands and label set (the same for every participant)."""
    labels = study.labels
    keys = effective_keys(dict(study.keys))
    commands = window_commands(COMMAND_TABLE, ANNOTATION)
    return {
        "study": {"name": study.name, "title": study.title, "instructions": study.instructions},
        "keys": {command.name: keys.get(command.name, command.keys) for command in commands},
        "help": [
            {"name": c.name, "keys": keys.get(c.name, c.keys), "description": c.description}
            for c in (*commands, *window_commands(NAVIGATION_TABLE, ANNOTATION))
        ],
        "key_guard_ms": study.key_guard_ms,
        "labels": {
            "classes": [
                {
                    "id": label.label_id,
                    "name": label.name,
                    "synonyms": list(label.synonyms),
                    "definition": label.definition,
                    "kinds": list(label.kinds),
                }
                for label in labels.classes
            ],
            "groups": [
                {"id": node.label_id, "name": node.name, "definition": node.definition} for node in labels.inner_nodes
            ],
            "parent": dict(labels.parent_of),
            "roots": list(labels.roots),
            "notes": distinguishing_notes(labels),
        },
    }


def phase_view(controller: SessionController, phase: Phase, index: int) -> dict[str, Any]:
    presentation = phase.presentation
    return {
        "name": phase.name,
        "feedback": phase.feedback,
        "answers": phase.answers,
        "mode": phase.mode,
        "time_limit_s": phase.time_limit_s,
        "countdown": phase.countdown,
        "undo": phase.undo,
        "index": index,
        "size": controller.phase_size(phase.name),
        "starts": controller.starts_phase(),
        "presentation": None
        if presentation is None
        else {
            "fixation_ms": presentation.fixation_ms,
            "image_ms": presentation.image_ms,
            "mask_ms": presentation.mask_ms,
            "after_pause": presentation.after_pause,
        },
    }


def feedback_view(study: Study, feedback: Feedback) -> dict[str, Any]:
    """Training feedback, sent only after the answer it is about is stored."""
    return {
        "correct": feedback.correct,
        "truth": [{"id": label, "name": study.labels[label].name} for label in feedback.truth],
        "given": list(feedback.given),
        "phase_correct": feedback.phase_correct,
        "phase_answered": feedback.phase_answered,
        "outcome": feedback.outcome,
        "scored": feedback.scored,
    }

"""Which images an annotator sees, in which order: reproducible from (study seed, annotator id).

The order is a pure function of the protocol and the annotator id (and, in a
counterbalanced study, the annotator's assignment; see :mod:`study_app.protocol.counterbalance`),
so a resumed session continues exactly where it stopped and a researcher can recompute
any annotator's sequence later. (Python's ``random.Random`` seeded with a string is stable across
versions and platforms.)
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from study_app.errors import StudyError
from study_app.protocol.counterbalance import Assignment
from study_app.protocol.study import Phase, Study

_ANNOTATOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Trial(NamedTuple):
    """One image to show: ``index`` counts from 0 within its phase.

    A named tuple, not a frozen dataclass: a full-size session makes 50,000 of them
    at start-up, four times faster this way."""

    phase: str
    index: int  # type: ignore[assignment]  # shadows tuple.index: the trial's place is worth the plain name
    image_id: str


def check_annotator_id(text: str) -> str:
    """Return the id stripped, or raise: letters, digits, ``_ . -``, at most 64, no spaces.

    Ids are pseudonyms (``A07``, ``p-12``); the restriction keeps e-mail addresses and
    full names out of result files and makes ids safe in file names.
    """
    annotator = text.strip()
    if not _ANNOTATOR_ID.match(annotator):
        raise StudyError(
            f"annotator id {text!r} is not valid: use 1-64 plain letters (A-Z, no accents), digits, '_', '.' or '-', "
            "starting with a letter or digit (a pseudonym such as A07, not a name or e-mail address)"
        )
    return annotator


def phase_trials(study: Study, phase: Phase, annotator: str, block: str | None = None) -> list[Trial]:
    """The trials of one phase for one annotator (only the images of ``block``, if given)."""
    image_ids = [i for i in phase.image_ids if block is None or study.images[i].block == block]
    if phase.order == "random":
        random.Random(f"{study.seed}:{annotator}:{phase.name}").shuffle(image_ids)
    return [Trial(phase.name, index, image_id) for index, image_id in enumerate(image_ids)]


def phase_sequence(study: Study, assignment: Assignment | None) -> list[Phase]:
    """The phases in the order this annotator meets them.

    The counterbalanced phases keep their places in the protocol, and the assignment's
    order fills those places; the other phases (e.g. training) stay where they are.
    """
    if study.counterbalance is None or assignment is None:
        return list(study.phases)
    slots = iter(assignment.phase_order)
    return [study.phase(next(slots)) if p.name in study.counterbalance.phases else p for p in study.phases]


def session_trials(study: Study, annotator: str, assignment: Assignment | None = None) -> list[Trial]:
    """All trials of a session, phases in protocol order (or the counterbalanced order)."""
    blocks = assignment.blocks if assignment else {}
    return [
        trial
        for phase in phase_sequence(study, assignment)
        for trial in phase_trials(study, phase, annotator, blocks.get(phase.name))
    ]

"""What a reader must know about the inputs but cannot see in the numbers.

The notes travel with the rater table (:class:`~study_app.analysis.raters.RaterInputs`) into
``compare``'s output and the report, so both say the same about the same answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads on first use
    import pandas as pd


def is_pilot(answers: pd.DataFrame) -> bool:
    """Whether every answer comes from a simulated (pilot) session: a dry run, not results."""
    return "pilot" in answers.columns and len(answers) > 0 and bool(answers["pilot"].astype(bool).all())


def input_notes(answers: pd.DataFrame, asked_k: int | None, people_k: int, pilot: bool = False) -> list[str]:
    """What changes the reading of the numbers but is not in them: a pilot store's dry run,
    repeated trials left out, and models scored on more (or fewer) guesses than people could give."""
    from study_app.stats.raters import later_exposures

    notes = ["pilot (simulated) sessions only: a dry run of the analysis, not results"] if pilot else []
    repeats = later_exposures(answers) if "trial_uuid" in answers.columns else {}
    if repeats:
        shown = ", ".join(f"{name} {count}" for name, count in list(repeats.items())[:5]) + (
            ", ..." if len(repeats) > 5 else ""
        )
        notes.append(
            f"{sum(repeats.values())} repeated trial(s) of {len(repeats)} annotator(s) left "
            f"out ({shown}): an image seen again in a phase already answered (a second "
            "session, or two desktops' stores merged) counts with its first answer only"
        )
    if "front_end" in answers.columns and answers["front_end"].nunique() > 1:
        sessions = answers.drop_duplicates("session")["front_end"].value_counts().sort_index()
        notes.append(
            "sessions from more than one front end ("
            + ", ".join(f"{count} {front_end}" for front_end, count in sessions.items())
            + "): the same protocol and store; the export's front_end column says which session is which"
        )
    if asked_k is not None and asked_k != people_k:
        notes.append(
            f"--k {asked_k}: models are scored on their first {asked_k} guesses, while people could give {people_k}: "
            "the two sides are not scored by the same rule"
        )
    return notes

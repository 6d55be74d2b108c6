"""Keeping the names of people and computers out of files that leave the lab.

Reports and provenance files are shared with co-authors and reviewers. A path such as
``/home/alice.smith/studies/...`` names the person who ran the command, so paths under
the home folder are written as ``~/...``. (Exports leave the computer's name out unless
asked: see :func:`study_app.store.export.export_answers`.)
"""

from __future__ import annotations

import os
from pathlib import Path


def without_home(text: str) -> str:
    """``text`` with every occurrence of the user's home folder written as ``~``."""
    try:
        home = Path.home()
    except RuntimeError:  # no home folder known (some service accounts)
        return text
    for form in sorted({str(home), os.path.realpath(home)}, key=len, reverse=True):
        if len(form) > 1:
            text = text.replace(form, "~")
    return text

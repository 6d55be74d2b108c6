"""Where results go: one folder for stores, pilot stores, tables, reports, journals and crash logs.

At the bottom of the layers because the output guard (which must recognise an offline
journal by its folder), the stores and the command line all need it. Read at each call,
not at import: ``--results`` sets :data:`RESULTS_ENV` for one command, and a lab may point
every desktop's results at a shared disk without touching the command lines.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The results folder unless ``$STUDY_APP_RESULTS`` (or the command line's ``--results``) names another.
RESULTS_DIR = Path("results")
RESULTS_ENV = "STUDY_APP_RESULTS"


def results_root() -> Path:
    """The folder every default results path lies in: ``$STUDY_APP_RESULTS``, else ``./results``."""
    return Path(os.environ.get(RESULTS_ENV) or RESULTS_DIR)


def journal_dir() -> Path:
    """``<results>/journal/``: where a server desktop keeps its offline journals, one per server database."""
    return results_root() / "journal"

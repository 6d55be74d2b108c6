"""The results store (SQLite): durable answers, resumable sessions, merge, export, checks.

No Qt here: researchers use it headless. Main entry points: :class:`ResultsStore`,
:func:`answers_frame` (the tidy table for the statistics), :func:`export_answers`,
:func:`merge_stores`, :func:`check_store`. The pandas-based parts load on first use, so
that the annotation app starts without paying for pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from study_app.store.results_store import ResultsStore, Session, default_store_path

_LAZY = {
    "answers_frame": "export",
    "export_answers": "export",
    "import_answers": "export",
    "read_export": "export",
    "run_manifest": "export",
    "check_store": "integrity",
    "recover_store": "integrity",
    "merge_stores": "merge",
}

__all__ = ["ResultsStore", "Session", "default_store_path", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The results store (SQLite): durable answers, resumable sessions, merge, export, checks.

No Qt here: researchers use it headless. Main entry points: :class:`ResultsStore`,
:func:`answers_frame` (the tidy table for the statistics), :func:`export_answers`,
:func:`merge_stores`, :func:`check_store`. The pandas-based parts load on first use, so
that the annotation app starts without paying for pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from study_app.store.results_store import ResultsStore, Session, default_store_path

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.store.export import answers_frame as answers_frame
    from study_app.store.export import export_answers as export_answers
    from study_app.store.export import import_answers as import_answers
    from study_app.store.export import read_export as read_export
    from study_app.store.export import run_manifest as run_manifest
    from study_app.store.integrity import check_store as check_store
    from study_app.store.integrity import recover_store as recover_store
    from study_app.store.merge import merge_stores as merge_stores

_EXPORTS = {
    "answers_frame": "export",
    "export_answers": "export",
    "import_answers": "export",
    "read_export": "export",
    "run_manifest": "export",
    "check_store": "integrity",
    "recover_store": "integrity",
    "merge_stores": "merge",
}

__all__ = ["ResultsStore", "Session", "default_store_path", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)

"""The results store (SQLite): durable answers, resumable sessions, merge, export, checks.

No Qt here: researchers use it headless. Main entry points: :class:`ResultsStore`,
:func:`answers_frame` (the tidy table for the statistics), :func:`export_answers`,
:func:`merge_stores`, :func:`check_store`. The pandas-based parts load on first use, so
that the annotation app starts without paying for pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from study_app.lazy import lazy_attributes, lazy_names
from study_app.store.results_store import ResultsStore, Session, default_store_path

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.store.export import (
        answers_frame as answers_frame,
        export_answers as export_answers,
        import_answers as import_answers,
        read_export as read_export,
        run_manifest as run_manifest,
    )
    from study_app.store.integrity import check_store as check_store, recover_store as recover_store
    from study_app.store.merge import merge_stores as merge_stores

_LAZY = {
    "export": ("answers_frame", "export_answers", "import_answers", "read_export", "run_manifest"),
    "integrity": ("check_store", "recover_store"),
    "merge": ("merge_stores",),
}
__all__ = ["ResultsStore", "Session", "default_store_path", *lazy_names(_LAZY)]
__getattr__ = lazy_attributes(__name__, _LAZY)

"""The comparison report: one HTML page (plus Markdown, figures and CSV tables) per study.

``python main.py report --study NAME`` writes ``results/<study>/report/``; from Python,
:func:`study_app.write_report` does the same. Lower down::

    from study_app.analysis.resampling import Resampling
    from study_app.report import Settings, from_model_vs_human, write_report
    data = from_model_vs_human(Path(".../raw-data"), ["edge"], "notebook").with_models(["resnet50"])
    write_report(data, Settings(Resampling(n_boot=2000)), Path("report"))

Every number is computed by :mod:`study_app.stats` (in :func:`analyse`); this package
only selects, lays out, draws and escapes. Headless: matplotlib's Agg canvas, no Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from study_app.lazy import lazy_attributes, lazy_names

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.report.build import (
        Analysis as Analysis,
        Settings as Settings,
        analyse as analyse,
        build_document as build_document,
        write_document as write_document,
        write_report as write_report,
    )
    from study_app.report.document import Document as Document
    from study_app.report.inputs import (
        ReportData as ReportData,
        from_files as from_files,
        from_model_vs_human as from_model_vs_human,
        from_study_store as from_study_store,
    )

# Loaded on first use: the command line imports report.cli, and the annotation app
# must not pay for matplotlib and the statistics at start-up.
_LAZY = {
    "build": ("Analysis", "Settings", "analyse", "build_document", "write_document", "write_report"),
    "document": ("Document",),
    "inputs": ("ReportData", "from_files", "from_model_vs_human", "from_study_store"),
}
__all__ = lazy_names(_LAZY)
__getattr__ = lazy_attributes(__name__, _LAZY)

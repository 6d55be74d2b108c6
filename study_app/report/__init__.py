"""The comparison report: one HTML page (plus Markdown, figures and CSV tables) per study.

``python main.py report --study NAME`` writes ``results/<study>/report/``. From Python::

    from study_app.report import Settings, from_model_vs_human, write_report
    data = from_model_vs_human(Path(".../raw-data"), ["edge"], "notebook").with_models(["resnet50"])
    write_report(data, Settings(n_boot=2000), Path("report"))

Every number is computed by :mod:`study_app.stats` (in :func:`analyse`); this package
only selects, lays out, draws and escapes. Headless: matplotlib's Agg canvas, no Qt.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use: the command line imports report.cli, and the annotation app
# must not pay for matplotlib and the statistics at start-up.
_LAZY = {
    "Analysis": "build", "Settings": "build", "analyse": "build", "build_document": "build",
    "write_document": "build", "write_report": "build", "Document": "document",
    "ReportData": "inputs", "from_files": "inputs", "from_model_vs_human": "inputs", "from_study_store": "inputs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

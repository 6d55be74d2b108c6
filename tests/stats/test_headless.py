"""The statistics never pull in Qt: researchers use them headless."""

from __future__ import annotations

import subprocess
import sys


def test_stats_importers_and_compare_cli_do_not_import_qt():
    code = (
        "import sys, study_app.stats, study_app.importers, study_app.cli.compare\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'PyQt6', 'PySide2', 'PySide6'))\n"
        "assert not qt, qt\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

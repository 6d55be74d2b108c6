"""How the person started this program, so that the usage line and every hint we print
("next: python main.py compare ...") name a command they can type.

A checkout runs ``python main.py``; an installed package runs the ``study-app`` script or
``python -m study_app``. Anything else (tests, a notebook calling ``main``) gets the
checkout's form, the one the documentation uses.
"""

from __future__ import annotations

import sys
from pathlib import Path


def program() -> str:
    """``study-app``, ``python -m study_app`` or ``python main.py``, as this process was started."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if started.name in ("study-app", "study-app.exe"):
        return "study-app"
    if started.name == "__main__.py" and started.parent.name == "study_app":
        return "python -m study_app"
    return "python main.py"

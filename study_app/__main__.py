"""``python -m study_app [sub-command] ...``: the same command line as the ``study-app`` script.

Useful where the script is not on PATH (``pip install --target``, a venv not activated).
"""

from study_app.cli.main import main

raise SystemExit(main())

"""Entry point: ``python main.py [sub-command] ...`` (see ``python main.py --help``)."""

from study_app.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

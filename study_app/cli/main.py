"""Command line: ``python main.py [--results PATH] [sub-command]``; with no sub-command, annotate demo-imagenet.

This module only assembles the parser from the command groups (one module each: :mod:`.session`,
:mod:`.study`, :mod:`.store`, :mod:`.compare`, :mod:`.report`, :mod:`.models`, :mod:`.review`)
and runs the chosen handler. Every sub-command reports :class:`~study_app.errors.StudyError` as
a plain message on stderr (no traceback) and exits with status 1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from study_app.cli.compare import add_compare_commands
from study_app.cli.models import add_predict_command
from study_app.cli.report import add_report_command
from study_app.cli.review import add_review_command
from study_app.cli.session import add_session_commands
from study_app.cli.store import add_store_commands
from study_app.cli.study import add_study_commands
from study_app.cli.web import add_web_commands
from study_app.errors import StudyError
from study_app.io.program import program
from study_app.io.results_folder import RESULTS_ENV
from study_app.version import __version__

Handler = Callable[[argparse.Namespace], int]

RESULTS_HELP = (
    "folder of the results: stores, compare tables, reports, "
    f"journals, crash logs (default: ${RESULTS_ENV}, else ./results)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program(),
        description="Human-vs-machine accuracy studies on image classification. "
        "With no sub-command: the annotation session on the bundled demo-imagenet study.",
    )
    parser.add_argument("--version", action="version", version=f"study-app {__version__}")
    parser.add_argument("--results", metavar="PATH", help=RESULTS_HELP)
    sub = parser.add_subparsers(title="sub-commands", metavar="COMMAND")
    for add in (
        add_session_commands,
        add_study_commands,
        add_store_commands,
        add_compare_commands,
        add_report_command,
        add_predict_command,
        add_review_command,
        add_web_commands,
    ):
        add(sub)
    for command in sub.choices.values():  # also after the command's name; SUPPRESS keeps a value given before it
        command.add_argument("--results", metavar="PATH", default=argparse.SUPPRESS, help=RESULTS_HELP)
    return parser


#: The status of a program that stopped because its reader went away (``... | head -1``): what
#: a shell reports for one ended by SIGPIPE (128 + 13), so that scripts can tell it from an error.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        # A path that is not UTF-8 (a folder named on another system), or a class name the
        # console's code page lacks, is printed escaped, as Python does on stderr, not a traceback.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # output that fitted the buffer meets a closed pipe here, not at exit
    except BrokenPipeError:
        # Python's recipe (docs: signal, "Note on SIGPIPE"): what is still buffered goes to
        # devnull, so that the exit's flush of stdout does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    given, rest = _leading_results(args_list)
    if not rest or (rest[0].startswith("-") and rest[0] not in ("-h", "--help", "--version")):
        rest = ["annotate", *rest]  # `python main.py --annotator A01` is an annotation session too
    args = parser.parse_args([*given, *rest])
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        with _results_folder(args.results):
            return handler(args)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _leading_results(args_list: list[str]) -> tuple[list[str], list[str]]:
    """``--results PATH`` (or ``--results=PATH``) given before the sub-command, and the rest."""
    given: list[str] = []
    rest = list(args_list)
    while rest and (rest[0] == "--results" or rest[0].startswith("--results=")):
        width = 1 if "=" in rest[0] else 2
        given, rest = given + rest[:width], rest[width:]
    return given, rest


@contextmanager
def _results_folder(path: str | None) -> Iterator[None]:
    """``--results`` for the duration of the command: it wins over ``$STUDY_APP_RESULTS``, and
    every place that derives a results path (and any process started from here) reads it there."""
    if path is None:
        yield
        return
    before = os.environ.get(RESULTS_ENV)
    os.environ[RESULTS_ENV] = path
    try:
        yield
    finally:
        if before is None:
            del os.environ[RESULTS_ENV]
        else:
            os.environ[RESULTS_ENV] = before

"""The ``review`` sub-command (wired into :mod:`study_app.cli.main` with :func:`add_review_command`).

Opens the review window on a study's errors, or with ``--export`` writes every stored
review as a CSV file without opening a window. Handlers return the exit status and raise
:class:`~study_app.errors.StudyError` for anything the user can fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from study_app.cli.options import STORE_HELP, STUDY_HELP, add_command
from study_app.review.selection import RATER_GROUPS, REVIEW_RULES, Selection

HELP = "sort human and model errors into causes (error taxonomy) in a review window; resumable, mergeable"
DESCRIPTION = (
    "Walks through the errors of the chosen raters (image, ground truth with definition and examples, "
    "the rater's guesses in order, a person's response time) and stores the causes, a note and any proposed "
    "ground truth for each. With --blind, nothing shows whether a person or a model erred and the order is "
    "shuffled (the same order for the same study and reviewer). Reviews go to the study's results store."
)


def add_review_command(sub: argparse._SubParsersAction) -> None:
    """Add ``review`` to an argparse sub-parsers object."""
    parser = add_command(sub, "review", cmd_review, HELP, DESCRIPTION)
    parser.add_argument("--study", required=True, help=STUDY_HELP)
    parser.add_argument("--reviewer", help="reviewer id (a pseudonym); asked for when not given")
    parser.add_argument(
        "--blind", action="store_true", help="hide whether a person or a model made each error; shuffled order"
    )
    parser.add_argument(
        "--raters",
        nargs="+",
        default=["all"],
        metavar="WHO",
        help="whose errors: humans, models, all (default), or annotator ids and model names",
    )
    parser.add_argument(
        "--rule",
        choices=REVIEW_RULES,
        default="top-k",
        help="what counts as an error (default top-k: no guess among the first k is right)",
    )
    parser.add_argument(
        "--phase", action="append", help="phase to review (repeatable; default: phases without feedback)"
    )
    parser.add_argument("--store", help=STORE_HELP)
    parser.add_argument("--predictions", nargs="+", metavar="CSV", help="model prediction files (default: the study's)")
    parser.add_argument(
        "--export", metavar="CSV", help="write every stored review (revisions marked) to this CSV file; no window"
    )


def cmd_review(args: argparse.Namespace) -> int:
    """Handler of ``review``."""
    from study_app.errors import StudyError

    if len(args.raters) > 1 and set(RATER_GROUPS) & set(args.raters):
        raise StudyError("--raters takes either one of humans, models, all, or a list of annotator ids and model names")
    if args.export:
        return _export(args)
    from study_app.store.results_store import store_location

    if args.store:  # refused before Qt starts: reviews are written into this store
        from study_app.io.output_guard import check_store_output

        check_store_output(store_location(args.store), args.predictions or ())
    if (
        args.store and not Path(store_location(args.store)).is_file()
    ):  # else a mistyped path becomes a new store no analysis reads
        from study_app.io.store_url import printable_location

        raise StudyError(
            f"{printable_location(args.store)}: no results store there; "
            "review needs the store the annotators filled (--store)"
        )
    from study_app.gui.review_app import run_review

    selection = Selection(tuple(args.raters), args.rule, tuple(args.phase or ()))
    return run_review(args.study, args.reviewer, args.blind, selection, args.store, args.predictions)


def _export(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_output
    from study_app.protocol.study import study_name
    from study_app.store import ResultsStore
    from study_app.store.results_store import STORE_FILE, store_location, study_results_dir
    from study_app.store.reviews import export_reviews

    name = study_name(args.study)
    store_path = store_location(args.store) if args.store else study_results_dir(name) / STORE_FILE
    out = check_output(args.export, [store_path], "--export")
    with ResultsStore(store_path, readonly=True) as store:
        export_reviews(store, out, name)
    print(f"wrote {out}")
    return 0

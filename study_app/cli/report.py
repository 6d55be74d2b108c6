"""The ``report`` sub-command (wired into :mod:`study_app.cli.main` with :func:`add_report_command`).

Inputs are those of ``compare`` (a study's store, or tidy answer and truth files, with
prediction files), or published model-vs-human trials. The options are ``compare``'s
(:mod:`study_app.cli.options`) and so is the rater table: both commands take it from
:mod:`study_app.analysis.raters`, so they always analyse the same answers. The handler
returns the exit status and raises :class:`~study_app.errors.StudyError` for anything the
user can fix.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from study_app.cli.options import (
    BOOTSTRAP_OPTIONS,
    DIRECTION_OPTION,
    INPUT_OPTIONS,
    SCORING_OPTIONS,
    Option,
    add_command,
    add_options,
    check_model_vs_human,
    command_inputs,
    rater_inputs,
)
from study_app.errors import StudyError
from study_app.io.ranges import Range

HELP = "write the comparison report: one self-contained HTML page, Markdown, figures (PNG, SVG) and CSV tables"
DESCRIPTION = (
    "From a study's results store (--study [--store]), tidy files (--answers --truth --predictions) "
    "or model-vs-human raw data (--model-vs-human DIR --dataset NAME): error rates, paired tests, agreement, "
    "per-class errors, confusions, learning, response times and image galleries."
)

#: The options, in the order the command line is written back into the report.
OPTIONS: tuple[Option, ...] = (
    *INPUT_OPTIONS,
    ("--models", {"nargs": "+", "metavar": "MODEL", "help": "report only these models (default: every model)"}),
    *SCORING_OPTIONS,
    *BOOTSTRAP_OPTIONS,
    ("--gallery-size", {"type": Range(0, 1000).option(int), "default": 12, "help": "images per gallery (default 12)"}),
    (
        "--top-rows",
        {
            "type": Range(1, 100_000).option(int),
            "default": 20,
            "help": "rows of long tables shown in the page; CSVs have all (default 20)",
        },
    ),
    DIRECTION_OPTION,
    ("--out", {"help": "report folder (default results/<study>/report/)"}),
)


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` to an argparse sub-parsers object."""
    add_options(add_command(sub, "report", cmd_report, HELP, DESCRIPTION), OPTIONS)


def command_line(args: argparse.Namespace) -> str:
    """The command as it would be typed, rebuilt from the options (how it was invoked does not matter);
    a server URL's password is not part of it (it goes into the report)."""
    from study_app.io.store_url import printable_location

    words = ["python", "main.py", "report"]
    for option, settings in OPTIONS:
        value = getattr(args, option[2:].replace("-", "_"))
        if value is None or value == settings.get("default"):
            continue
        if settings.get("action") == "store_true":
            words.append(option)
            continue
        for item in value if isinstance(value, list) and settings.get("action") == "append" else [value]:
            words += [option, *map(printable_location, item if isinstance(item, list) else [item])]
    return shlex.join(words)


def _check(args: argparse.Namespace) -> None:
    sources = [bool(args.study), bool(args.answers or args.truth), bool(args.model_vs_human)]
    if sum(sources) != 1:
        raise StudyError(
            "report needs exactly one source: --study NAME, --answers FILE "
            "with --truth MANIFEST, or --model-vs-human DIR with --dataset NAME"
        )
    if args.answers and not args.truth or args.truth and not args.answers:
        raise StudyError("--answers and --truth go together: the answers table and the manifest with the ground truth")
    check_model_vs_human(args)
    limits = {
        "--alpha": (args.alpha, 0 < args.alpha < 1),
        "--k": (args.k, args.k is None or args.k >= 1),
        "--n-boot": (args.n_boot, args.n_boot >= 100),
        "--gallery-size": (args.gallery_size, args.gallery_size >= 0),
        "--top-rows": (args.top_rows, args.top_rows >= 1),
    }
    for option, (value, good) in limits.items():
        if not good:
            raise StudyError(
                f"{option} {value} is out of range (alpha in (0, 1), k >= "
                "1, n-boot >= 100, gallery-size >= 0, top-rows >= 1)"
            )


def _data(args: argparse.Namespace):
    """The report's inputs and the folder it goes to unless ``--out`` says otherwise."""
    from study_app.report.inputs import from_model_vs_human, report_data
    from study_app.report.taxonomy_section import with_reviews
    from study_app.store.results_store import study_results_dir

    command = command_line(args)
    if args.model_vs_human:  # the benchmark's own conditions, as published: no rater table of every level needed
        data = from_model_vs_human(Path(args.model_vs_human), args.dataset, command)
        return data, study_results_dir(data.name) / "report"
    inputs = rater_inputs(args)
    data = with_reviews(report_data(inputs, command), inputs, alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)
    return data, inputs.output_folder("report")


def cmd_report(args: argparse.Namespace) -> int:
    """Handler of ``report``."""
    from study_app.report.build import Settings, write_report

    _check(args)
    data, folder = _data(args)
    if args.models:
        data = data.with_models(args.models)
    settings = Settings(
        alpha=args.alpha,
        n_boot=args.n_boot,
        seed=args.seed,
        gallery_size=args.gallery_size,
        top_rows=args.top_rows,
        psychometric_direction=args.psychometric_direction,
    )
    out = Path(args.out) if args.out else folder
    written = write_report(data, settings, out, inputs=command_inputs(args))
    print(f"wrote {written[0]} and {len(written) - 1} more files in {out}/")
    return 0

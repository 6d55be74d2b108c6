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

from study_app.cli import options
from study_app.io.ranges import GALLERY_SIZE, TOP_ROWS

HELP = "write the comparison report: one self-contained HTML page, Markdown, figures (PNG, SVG) and CSV tables"
DESCRIPTION = (
    "From a study's results store (--study [--store]), tidy files (--answers --truth --predictions) "
    "or model-vs-human raw data (--model-vs-human DIR --dataset NAME): error rates, paired tests, agreement, "
    "per-class errors, confusions, learning, response times and image galleries."
)

#: The options, in the order the command line is written back into the report.
OPTIONS: tuple[options.Option, ...] = (
    *options.INPUT_OPTIONS,
    ("--models", {"nargs": "+", "metavar": "MODEL", "help": "report only these models (default: every model)"}),
    *options.SCORING_OPTIONS,
    *options.BOOTSTRAP_OPTIONS,
    ("--gallery-size", {"type": GALLERY_SIZE.option(int), "default": 12, "help": "images per gallery (default 12)"}),
    (
        "--top-rows",
        {
            "type": TOP_ROWS.option(int),
            "default": 20,
            "help": "rows of long tables shown in the page; CSVs have all (default 20)",
        },
    ),
    options.DIRECTION_OPTION,
    ("--out", {"help": "report folder (default results/<study>/report/)"}),
)


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` to an argparse sub-parsers object."""
    options.add_options(options.add_command(sub, "report", cmd_report, HELP, DESCRIPTION), OPTIONS)


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


def cmd_report(args: argparse.Namespace) -> int:
    """Handler of ``report``."""
    from study_app.report.build import Settings, report_of, write_report
    from study_app.report.inputs import from_model_vs_human
    from study_app.store.results_store import study_results_dir

    options.check_source(args, "report", predictions_alone=False)
    settings = Settings(
        options.resampling_of(args),
        gallery_size=args.gallery_size,
        top_rows=args.top_rows,
        psychometric_direction=args.psychometric_direction,
    )
    if args.model_vs_human:  # the benchmark's own conditions, as published: no rater table of every level needed
        data = from_model_vs_human(Path(args.model_vs_human), args.dataset, command_line(args))
        out = Path(args.out) if args.out else study_results_dir(data.name) / "report"
        written = write_report(
            data.with_models(args.models) if args.models else data, settings, out, inputs=options.command_inputs(args)
        )
    else:
        inputs = options.rater_inputs(args)
        out = Path(args.out) if args.out else inputs.output_folder("report")
        written = report_of(
            inputs,
            settings,
            out,
            command=command_line(args),
            models=args.models or (),
            protected=options.command_inputs(args),
        )
    print(f"wrote {written[0]} and {len(written) - 1} more files in {out}/")
    return 0

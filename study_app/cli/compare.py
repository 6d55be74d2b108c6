"""The ``compare`` and ``plan`` sub-commands (wired into :mod:`study_app.cli.main`).

``compare`` takes the rater table of a study's stored answers (or an answers table) and
its model predictions from :mod:`study_app.analysis.raters`, runs
:func:`study_app.stats.compare` and the per-condition analysis on it, prints the readable
report (or JSON) and writes every table as a CSV file. ``plan`` says how many
test images (and annotators) a study needs. Handlers return the exit status and raise
:class:`~study_app.errors.StudyError` for anything the user can fix.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from study_app.cli.options import (
    BOOTSTRAP_OPTIONS,
    DIRECTION_OPTION,
    INPUT_OPTIONS,
    SCORING_OPTIONS,
    add_command,
    add_options,
    check_source,
    command_inputs,
    rater_inputs,
    resampling_of,
)
from study_app.errors import StudyError
from study_app.io.program import program
from study_app.io.ranges import ALPHA, RUN_SEED, Range

COMPARE_HELP = "compare annotators' and models' errors on the same images (rates, intervals, paired tests, agreement)"
COMPARE_DESCRIPTION = (
    "From a study's results store (--study [--store]), from tidy files "
    "(--answers --truth --predictions), or from predictions alone (--truth --predictions): error rates "
    "with intervals (each rater on all its trials, and on the images both sides saw), paired tests on "
    "shared images, error consistency, label agreement, per-class errors, trends and response times."
)


def add_compare_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``plan`` to an argparse sub-parsers object."""
    compare = add_command(sub, "compare", cmd_compare, COMPARE_HELP, COMPARE_DESCRIPTION)
    add_options(compare.add_argument_group("inputs"), INPUT_OPTIONS)
    add_options(compare, [*SCORING_OPTIONS, *BOOTSTRAP_OPTIONS, DIRECTION_OPTION])
    compare.add_argument("--out", help="folder for the CSV tables (default results/<study>/compare/)")
    compare.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the report")
    compare.add_argument(
        "--taxonomy",
        action="store_true",
        help="also the error taxonomy of the study's reviews (see review): causes, tests, "
        "reviewer agreement, error rates with the reviewed ground truth",
    )

    plan = add_command(sub, "plan", cmd_plan, "test images (and annotators) needed to detect an error difference")
    plan.add_argument(
        "--human-error", type=Range(0, 1).option(), required=True, help="expected human top-k error, e.g. 0.051"
    )
    plan.add_argument(
        "--model-error", type=Range(0, 1).option(), required=True, help="expected model top-k error, e.g. 0.068"
    )
    plan.add_argument(
        "--discordance",
        type=Range(0, 1).option(),
        help="expected share of images where exactly one side errs (default: independent errors)",
    )
    plan.add_argument(
        "--annotators",
        type=Range(1, 1000).option(int),
        nargs="+",
        default=[1],
        help="numbers of annotators to plan for (default 1)",
    )
    plan.add_argument(
        "--human-consistency",
        type=Range(0, 1).option(),
        help="expected error consistency (kappa) of two annotators, used for several annotators: a pilot's value, "
        "or about 0.4 for object recognition (default: only what the model implies, which is optimistic)",
    )
    plan.add_argument("--alpha", type=ALPHA.option(), default=0.05, help="two-sided significance level (default 0.05)")
    plan.add_argument("--power", type=Range(0.01, 0.999).option(), default=0.8, help="required power (default 0.8)")
    plan.add_argument(
        "--simulations",
        type=Range(100, 1_000_000).option(int),
        default=2000,
        help="simulated studies per size, several annotators (default 2000)",
    )
    plan.add_argument("--seed", type=RUN_SEED.option(int), default=0, help="seed of the simulation (default 0)")
    plan.add_argument("--json", action="store_true", help="print machine-readable JSON")


def cmd_compare(args: argparse.Namespace) -> int:
    """Handler of ``compare``."""
    from study_app.analysis.condition_outputs import analyse_conditions, condition_table
    from study_app.analysis.tables import write_tables
    from study_app.io.output_guard import check_output_folder
    from study_app.stats import RULES

    _check_settings(args)
    inputs = rater_inputs(args)
    raters = inputs.pooled_raters()
    resampling = resampling_of(args)
    report = inputs.compare(resampling)
    # Every trial of each rater counts here (scope ``all``), not only the images people saw, and
    # model-vs-human data keeps every level of its raw files, including those its benchmark
    # leaves out of the pooled numbers (the uncorrupted level, levels at chance).
    conditions = analyse_conditions(
        inputs.raters,
        inputs.labels,
        correct=RULES[inputs.rule],
        direction=args.psychometric_direction,
        resampling=resampling,
    )
    out = check_output_folder(Path(args.out) if args.out else inputs.output_folder("compare"), command_inputs(args))
    written = {"raters": raters, **report.tables(), **(conditions.tables() if conditions else {})}
    write_tables(written, out, command_inputs(args))
    taxonomy = None
    if args.taxonomy:
        from study_app.analysis.taxonomy_inputs import taxonomy_of

        taxonomy = taxonomy_of(inputs, raters, resampling=resampling)
        if taxonomy is not None:
            write_tables(taxonomy.tables(), out, command_inputs(args))
    if args.json:
        extra = {"taxonomy": taxonomy.to_json() if taxonomy else None} if args.taxonomy else {}
        extra["conditions"] = conditions.to_json() if conditions else None
        print(
            json.dumps(
                {"study": inputs.name, "phases": list(inputs.phases), "out": str(out), **report.to_json(), **extra},
                indent=1,
            )
        )
    else:
        print(f"study {inputs.name}, phase(s) {', '.join(inputs.phases)}")
        print(report.summary())
        if conditions:
            print("\n" + condition_table(conditions))
        print(f"\nwrote {len(written)} tables to {out}/")
        if args.taxonomy:
            print(
                "\n"
                + (
                    taxonomy.summary()
                    if taxonomy
                    else f"error taxonomy: no reviews of this study yet ({program()} review)"
                )
            )
    return 0


def _check_settings(args: argparse.Namespace) -> None:
    check_source(args, "compare", predictions_alone=True)
    if args.taxonomy and not args.study:
        raise StudyError("--taxonomy needs --study: the reviews are in the study's results store")


def cmd_plan(args: argparse.Namespace) -> int:
    """Handler of ``plan``."""
    from study_app.stats import plan_study
    from study_app.stats.results import json_records

    plan = plan_study(
        args.human_error,
        args.model_error,
        discordance=args.discordance,
        annotators=args.annotators,
        alpha=args.alpha,
        power=args.power,
        n_sim=args.simulations,
        seed=args.seed,
        human_consistency=args.human_consistency,
    )
    if args.json:
        fields = {k: v for k, v in vars(plan).items() if k != "table"}
        print(json.dumps({**fields, "table": json_records(plan.table)}, indent=1))
    else:
        print(plan.summary())
        difference = abs(args.human_error - args.model_error)
        print(f"\n(difference to detect: {difference:g}; {args.power:.0%} power at alpha {args.alpha:g}, two-sided)")
    return 0

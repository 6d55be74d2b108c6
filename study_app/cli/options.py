"""Options that several commands share, declared once.

``compare`` and ``report`` read the same inputs with the same choices (:data:`INPUT_OPTIONS`,
:data:`SCORING_OPTIONS`, :data:`BOOTSTRAP_OPTIONS`, :data:`DIRECTION_OPTION`) and hand them
to the same analysis (:mod:`study_app.analysis.raters`) through :func:`rater_inputs`. Each
option is a ``(flag, argparse settings)`` pair, so that a command can both declare it and
write its own command line back from it (the report does).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study_app.analysis.condition_outputs import DIRECTIONS
from study_app.analysis.raters import RULE_NAMES
from study_app.analysis.resampling import Resampling
from study_app.analysis.sources import UNKNOWN_IMAGES
from study_app.errors import StudyError
from study_app.io.ranges import ALPHA, N_BOOT, RUN_SEED, TOP_K

if TYPE_CHECKING:
    from study_app.analysis.raters import RaterInputs

Option = tuple[str, dict[str, Any]]

#: The study of ``annotate``, ``simulate``, ``validate`` and ``export`` when ``--study`` is not given.
DEFAULT_STUDY = "demo-imagenet"

#: The ``--study`` and ``--store`` help of every command that opens a study's store.
STUDY_HELP = "study name (bundled or under ./protocols) or folder"
STORE_HELP = "results store (default results/<study>/results.sqlite)"

#: Where the answers and predictions come from: a study's store, tidy files, or model-vs-human raw data.
INPUT_OPTIONS: tuple[Option, ...] = (
    ("--study", {"help": f"{STUDY_HELP}; answers from its results store"}),
    ("--store", {"help": STORE_HELP}),
    ("--answers", {"help": "answers table (CSV or Parquet, e.g. from export) instead of a store"}),
    (
        "--truth",
        {
            "help": (
                "manifest CSV image_id,path,labels,split: the ground truth "
                "of --answers or --predictions (when there is no --study)"
            )
        },
    ),
    (
        "--predictions",
        {
            "nargs": "+",
            "metavar": "FILE",
            "help": "prediction files: tidy or wide CSV or Parquet, or .npy class indices (default: the study's)",
        },
    ),
    (
        "--unknown-images",
        {
            "choices": list(UNKNOWN_IMAGES),
            "default": "error",
            "help": (
                "predictions of images without ground truth: an error "
                "(default), or skip them with a note giving the count"
            ),
        },
    ),
    ("--image-list", {"metavar": "TXT", "help": ".npy predictions: the image ids of the array's rows, one per line"}),
    (
        "--class-list",
        {"metavar": "TXT", "help": ".npy predictions: the class ids of the indices, one per line (index 0 first)"},
    ),
    (
        "--model-vs-human",
        {"metavar": "RAW_DIR", "help": "model-vs-human raw-data folder (Geirhos et al. 2021) instead of a study"},
    ),
    ("--dataset", {"action": "append", "help": "model-vs-human data set to analyse (repeatable), e.g. uniform-noise"}),
)

#: What is analysed and how an answer is scored.
SCORING_OPTIONS: tuple[Option, ...] = (
    (
        "--k",
        {
            "type": TOP_K.option(int),
            "help": "guesses that count for top-k correctness (default: the answers per trial of the phases compared)",
        },
    ),
    (
        "--rule",
        {"choices": list(RULE_NAMES), "help": "correctness rule (default top-k; all-valid for multi-label phases)"},
    ),
    (
        "--phase",
        {
            "action": "append",
            "help": "phase to analyse (repeatable; default: the study's phases without feedback; "
            "with --answers, every phase in the file)",
        },
    ),
    (
        "--exclude-interrupted",
        {
            "action": "store_true",
            "default": False,
            "help": "leave out trials during which the window lost focus or was minimised",
        },
    ),
)

#: Confidence level and bootstrap.
BOOTSTRAP_OPTIONS: tuple[Option, ...] = (
    ("--alpha", {"type": ALPHA.option(), "default": 0.05, "help": "1 - confidence level (default 0.05)"}),
    ("--n-boot", {"type": N_BOOT.option(int), "default": 10_000, "help": "bootstrap replicates (default 10000)"}),
    ("--seed", {"type": RUN_SEED.option(int), "default": 0, "help": "seed of the bootstrap (default 0)"}),
)

DIRECTION_OPTION: Option = (
    "--psychometric-direction",
    {
        "choices": list(DIRECTIONS),
        "default": "auto",
        "help": "does accuracy rise or fall with the condition level? "
        "(default auto: the sign of the pooled annotators' accuracy "
        "trend; e.g. decreasing for noise width, increasing for contrast)",
    },
)


def resampling_of(args: argparse.Namespace) -> Resampling:
    """The run's :data:`BOOTSTRAP_OPTIONS` as one value (argparse has checked their ranges)."""
    return Resampling(alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Declare the sub-command ``name`` (``summary``: its line in ``--help``) with the handler :mod:`study_app.cli.main`
    calls for it, so that no command can be declared without one."""
    parser = sub.add_parser(name, help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, options: Iterable[Option]) -> None:
    """Declare ``options`` on a parser or an argument group."""
    for flag, settings in options:
        parser.add_argument(flag, **settings)


def store_path(args: argparse.Namespace) -> Path | str:
    """``--store`` if given (a file, or a PostgreSQL server URL), else ``results/<study name>/results.sqlite``."""
    if getattr(args, "store", None):
        from study_app.store.results_store import store_location

        return store_location(args.store)
    from study_app.protocol.study import study_name
    from study_app.store.results_store import STORE_FILE, study_results_dir

    return study_results_dir(study_name(args.study)) / STORE_FILE


def check_source(args: argparse.Namespace, command: str, *, predictions_alone: bool) -> None:
    """Exactly one source of answers: a study's store, tidy files or model-vs-human data
    (:data:`INPUT_OPTIONS`). ``predictions_alone``: the command also takes ``--truth`` with
    ``--predictions`` and no answers (``compare`` does: models only; ``report`` does not)."""
    check_model_vs_human(args)
    if args.study and (args.answers or args.truth):
        raise StudyError("give either --study (answers from its store) or --answers with --truth, not both")
    if sum([bool(args.study), bool(args.answers or args.truth), bool(args.model_vs_human)]) != 1:
        alone = ", --truth MANIFEST with --predictions FILES" if predictions_alone else ""
        raise StudyError(
            f"{command} takes exactly one source; give one source: --study NAME, --answers FILE with "
            f"--truth MANIFEST{alone}, or --model-vs-human DIR with --dataset NAME"
        )
    if args.answers and not args.truth or args.truth and not (args.answers or predictions_alone and args.predictions):
        alone = " (or with --predictions alone: models only)" if predictions_alone else ""
        raise StudyError(
            f"{command} needs --study NAME, or --truth MANIFEST with --answers FILE{alone}: "
            "--answers and --truth go together (the answers table and the manifest with the ground truth)"
        )


def check_model_vs_human(args: argparse.Namespace) -> None:
    """``--model-vs-human`` needs ``--dataset`` and takes no option of a study's own."""
    if not args.model_vs_human:
        return
    if not args.dataset:
        raise StudyError(
            "--model-vs-human needs --dataset NAME (e.g. uniform-noise); "
            "one data set at a time keeps the output readable"
        )
    if args.predictions or args.phase or args.rule:
        raise StudyError(
            "model-vs-human data is top-1 with its models included: --predictions, --phase and --rule do not apply"
        )


def rater_inputs(args: argparse.Namespace) -> RaterInputs:
    """The rater table of whichever source the options name (a study, tidy files, model-vs-human)."""
    from study_app.analysis.raters import Reading, file_raters, model_vs_human_raters, study_raters

    if args.model_vs_human:
        return model_vs_human_raters(Path(args.model_vs_human), args.dataset, k=args.k)
    reading = Reading(
        predictions=args.predictions or (),
        phases=args.phase,
        k=args.k,
        rule=args.rule,
        include_interrupted=not args.exclude_interrupted,
        unknown_images=args.unknown_images,
        image_list=args.image_list,
        class_list=args.class_list,
    )
    if args.study:
        from study_app.protocol.study import load_study

        return study_raters(load_study(args.study, check_images=False), store=args.store, reading=reading)
    return file_raters(truth=Path(args.truth), answers=Path(args.answers) if args.answers else None, reading=reading)


def command_inputs(args: argparse.Namespace) -> list[str | None]:
    """The files ``compare`` and ``report`` read, which their outputs must never replace."""
    return [args.store, args.answers, args.truth, *(args.predictions or ()), args.image_list, args.class_list]

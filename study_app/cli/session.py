"""The ``annotate`` and ``simulate`` sub-commands: a person's session, and a pilot run of
scripted annotators through the same session core.

Handlers return the exit status and raise :class:`~study_app.errors.StudyError` for
anything the user can fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from study_app.cli.options import DEFAULT_STUDY, STORE_HELP, STUDY_HELP, add_command, store_path
from study_app.errors import StudyError
from study_app.io.program import program
from study_app.io.ranges import RUN_SEED, Range
from study_app.session.simulated_raters import DEFAULT_ABILITY_SD, DEFAULT_DIFFICULTY_SD, MAX_LOGIT_SD

if TYPE_CHECKING:
    from study_app.protocol.study import Study

_RT_MEAN_MS = Range(1, 600_000)
_LOGIT_SD = Range(0, MAX_LOGIT_SD)
_RT_SD_MS = Range(0, 600_000)


def add_session_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``annotate`` and ``simulate`` to an argparse sub-parsers object."""
    annotate = add_command(
        sub, "annotate", _cmd_annotate, "the annotation session (default when no sub-command is given)"
    )
    annotate.add_argument("--study", default=DEFAULT_STUDY, help=STUDY_HELP)
    annotate.add_argument("--annotator", help="annotator id (a pseudonym); asked for when not given")
    annotate.add_argument("--store", help=STORE_HELP)
    annotate.add_argument(
        "--force-new",
        action="store_true",
        help="start a new session even if this annotator has one (e.g. after a protocol change)",
    )
    annotate.add_argument("--keys", help="the annotator's own key bindings (default ~/.config/study-app/keys.toml)")
    annotate.add_argument(
        "--arrival",
        type=int,
        help="counterbalancing: this annotator's place in the rotation (0-based; default: the next one in this store)",
    )

    parser = add_command(
        sub, "simulate", _cmd_simulate, "pilot run: scripted annotators go through the whole study into a pilot store"
    )
    parser.add_argument("--study", default=DEFAULT_STUDY, help=STUDY_HELP)
    parser.add_argument(
        "--annotators", type=Range(1, 10_000).option(int), default=3, help="simulated annotators (default 3)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--accuracy",
        type=Range(0, 1).option(),
        default=0.8,
        help="mean chance that an answer is right (top-k; default 0.8)",
    )
    source.add_argument("--from-predictions", help="answer as a model did: a tidy predictions CSV")
    rasch = "Rasch model P(right) = expit(mu + ability - difficulty), mu set by --accuracy"
    parser.add_argument(
        "--ability-sd",
        type=_LOGIT_SD.option(),
        default=DEFAULT_ABILITY_SD,
        help=f"{rasch}: SD of the annotators' abilities in logits (default {DEFAULT_ABILITY_SD:g})",
    )
    parser.add_argument(
        "--difficulty-sd",
        type=_LOGIT_SD.option(),
        default=DEFAULT_DIFFICULTY_SD,
        help=f"SD of the images' difficulties in logits, shared by all annotators (default {DEFAULT_DIFFICULTY_SD:g}: "
        "human-human error consistency about 0.4 at accuracy 0.8; 0 with --ability-sd 0: independent answers)",
    )
    parser.add_argument("--model", help="which model of --from-predictions (default: the first)")
    parser.add_argument(
        "--rt-ms", type=_rt_pair, default=(2500.0, 800.0), help="response time MEAN,SD in ms (default 2500,800)"
    )
    parser.add_argument("--seed", type=RUN_SEED.option(int), default=0, help="seed of the scripted answers (default 0)")
    parser.add_argument(
        "--interruptions",
        type=Range(0, 1).option(),
        default=0.0,
        help="chance per trial that a scripted annotator pauses (F9), and that it takes back its previous answer "
        "(Ctrl+Z) where undo is allowed, after choosing its first guess (default 0)",
    )
    parser.add_argument(
        "--store",
        help="pilot store (default results/<study>/pilot.sqlite; never the real store), or a postgresql:// server URL",
    )
    parser.add_argument(
        "--journal", help="with a server store: this desktop's offline journal (default results/journal/...)"
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--gui", action="store_true", help="show the real window and type the answers into it, to watch the pilot"
    )
    pace.add_argument(
        "--web",
        action="store_true",
        help="the online study: the scripted annotators answer over HTTP through a web server started here "
        "on the pilot store (as browsers do through serve)",
    )
    pace.add_argument(
        "--url",
        help="the online study at this address: a running 'serve --pilot' server, driven over HTTP "
        "(its store is the server's)",
    )
    parser.add_argument(
        "--concurrent",
        type=Range(1, 1000).option(int),
        default=1,
        help="with --web or --url: scripted annotators answering at the same time (default 1)",
    )
    pace.add_argument(
        "--real-time",
        action="store_true",
        help=(
            "take each response time for real before answering (a load "
            "test of a results server at people's pace; --gui always does)"
        ),
    )


def _cmd_annotate(args: argparse.Namespace) -> int:
    from study_app.gui.app import run_annotation
    from study_app.io.output_guard import check_store_output
    from study_app.store.results_store import store_location

    store = store_location(args.store) if args.store else None  # refused before a window waits on a message box
    if store is not None:  # and before Qt starts: a store's -wal or a protocol folder must not become a store
        check_store_output(store)
    return run_annotation(args.study, args.annotator, store, args.force_new, args.keys, args.arrival)


def _rt_pair(text: str) -> tuple[float, float]:
    try:
        mean, sd = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEAN,SD in milliseconds (e.g. 2500,800), not {text!r}") from None
    if mean not in _RT_MEAN_MS or sd not in _RT_SD_MS:
        raise argparse.ArgumentTypeError(
            f"the mean must be {_RT_MEAN_MS.describe()} ms and the SD {_RT_SD_MS.describe()} ms, not {text!r}"
        )
    return mean, sd


def _cmd_simulate(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.io.store_url import printable_location
    from study_app.protocol.study import load_study
    from study_app.session.pilot import run_pilot

    study = load_study(args.study)
    if args.web or args.url:
        return _simulate_web(args, study)
    drive = {}
    if args.gui:
        from study_app.gui.app import application
        from study_app.gui.pilot_driver import drive_window

        application()
        drive = {"drive": drive_window}
    store = check_store_output(store_path(args), [args.from_predictions], "--store") if args.store else None
    summary = run_pilot(
        study,
        args.annotators,
        store,
        accuracy=args.accuracy,
        ability_sd=args.ability_sd,
        difficulty_sd=args.difficulty_sd,
        from_predictions=Path(args.from_predictions) if args.from_predictions else None,
        model=args.model,
        rt_ms=args.rt_ms,
        seed=args.seed,
        journal=Path(args.journal) if args.journal else None,
        real_time=args.real_time,
        interruptions=args.interruptions,
        **drive,
    )
    print(summary.summary())
    print(f"next: {program()} compare --study {args.study} --store {printable_location(summary.store)}")
    return 0


def _simulate_web(args: argparse.Namespace, study: Study) -> int:
    """``simulate --web`` / ``--url``: the pilot over HTTP (the Rasch answers only)."""
    from study_app.io.output_guard import check_store_output
    from study_app.io.store_url import printable_location
    from study_app.web.pilot import run_web_pilot

    if args.from_predictions or args.journal or args.interruptions or args.real_time:
        raise StudyError(
            "--web and --url take the Rasch answers only: not with --from-predictions, --journal, "
            "--interruptions or --real-time"
        )
    if args.url and args.store:
        raise StudyError("--url drives a running server, whose store is its own: leave out --store")
    store = check_store_output(store_path(args), [], "--store") if args.store else None
    summary, runs = run_web_pilot(
        study,
        args.annotators,
        url=args.url,
        store=store,
        accuracy=args.accuracy,
        ability_sd=args.ability_sd,
        difficulty_sd=args.difficulty_sd,
        rt_ms=args.rt_ms,
        seed=args.seed,
        concurrent=args.concurrent,
    )
    print(summary.summary())
    resent = sum(run.resent for run in runs)
    if resent:
        print(f"  {resent} answer(s) sent again after a lost connection or a busy server (each stored once)")
    if args.url:
        print(f"next: {program()} compare --study {args.study} --store <the server's store>")
    else:
        print(f"next: {program()} compare --study {args.study} --store {printable_location(summary.store)}")
    return 0

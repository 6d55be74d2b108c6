"""Command line: ``python main.py [sub-command]``; with no sub-command, annotate demo-imagenet.

Every sub-command reports :class:`~study_app.errors.StudyError` as a plain message on
stderr (no traceback) and exits with status 1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from study_app import __version__
from study_app.cli.compare import add_compare_commands
from study_app.errors import StudyError
from study_app.io.ranges import EXAMPLES_PER_CLASS, RUN_SEED, SEED, Range
from study_app.cli.models import add_predict_command
from study_app.cli.report import add_report_command
from study_app.cli.review import add_review_command
from study_app.session.simulated_raters import DEFAULT_ABILITY_SD, DEFAULT_DIFFICULTY_SD, MAX_LOGIT_SD

DEFAULT_STUDY = "demo-imagenet"

Handler = Callable[[argparse.Namespace], int]


def _cmd_validate(args: argparse.Namespace) -> int:
    from study_app.protocol.study import load_study
    from study_app.protocol.summary import describe_study

    study = load_study(args.study, check_images=not args.quick, rehash=args.rehash)
    print(describe_study(study))
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from study_app.gui.app import run_annotation
    from study_app.io.output_guard import check_store_output
    from study_app.store.results_store import store_location

    store = store_location(args.store) if args.store else None  # refused before a window waits on a message box
    if store is not None:  # and before Qt starts: a store's -wal or a protocol folder must not become a store
        check_store_output(store)
    return run_annotation(args.study, args.annotator, store, args.force_new, args.keys, args.arrival)


def _add_annotate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("annotate", help="the annotation session (default when no sub-command is given)")
    parser.add_argument("--study", default=DEFAULT_STUDY, help="study name (bundled or under ./protocols) or folder")
    parser.add_argument("--annotator", help="annotator id (a pseudonym); asked for when not given")
    parser.add_argument("--store", help="results store (default results/<study>/results.sqlite)")
    parser.add_argument(
        "--force-new", action="store_true", help="start a new session even if this annotator has one (e.g. after a protocol change)"
    )
    parser.add_argument("--keys", help="the annotator's own key bindings (default ~/.config/study-app/keys.toml)")
    parser.add_argument(
        "--arrival",
        type=int,
        help="counterbalancing: this annotator's place in the rotation (0-based; default: the next one in this store)",
    )
    parser.set_defaults(handler=_cmd_annotate)


def _cmd_new_study(args: argparse.Namespace) -> int:
    if args.template == "degrade":
        return _cmd_new_degraded_study(args)
    from study_app.authoring.ilsvrc import write_ilsvrc_study

    missing = [option for option, value in (("--val-dir", args.val_dir),) if not value]
    if missing:
        raise StudyError("new-study ilsvrc2012 needs --val-dir (the ILSVRC2012 validation images)")
    if args.examples_per_class is not None and not args.train_dir:
        raise StudyError("--examples-per-class needs --train-dir: the example images come from the training folders")
    folder = write_ilsvrc_study(
        out=args.out or "protocols/ilsvrc2012",
        val_dir=args.val_dir,
        train_dir=args.train_dir,
        train_images=args.train_images,
        test_images=args.test_images,
        examples_per_class=13 if args.examples_per_class is None else args.examples_per_class,
        seed=args.seed,
    )
    print(f"wrote {folder}; check it with: python main.py validate --study {folder}")
    return 0


def _cmd_new_degraded_study(args: argparse.Namespace) -> int:
    from study_app.authoring.degraded import write_degraded_study

    missing = [option for option, value in (("--from", args.source), ("--transform", args.transform), ("--levels", args.levels), ("--out", args.out)) if not value]
    if missing:
        raise StudyError(f"new-study degrade needs {', '.join(missing)}")
    folder, notes = write_degraded_study(args.source, args.transform, args.levels, args.seed, args.out, args.presentation_ms)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {folder}; check it with: python main.py validate --study {folder}")
    return 0


def _store_path(args: argparse.Namespace) -> Path | str:
    """``--store`` if given (a file, or a PostgreSQL server URL), else ``results/<study name>/results.sqlite``."""
    if getattr(args, "store", None):
        from study_app.store.results_store import store_location

        return store_location(args.store)
    from study_app.protocol.study import study_name
    from study_app.store.results_store import STORE_FILE, study_results_dir

    return study_results_dir(study_name(args.study)) / STORE_FILE


def _cmd_merge(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.store import merge_stores
    from study_app.store.results_store import store_location

    inputs = [store_location(p) for p in args.inputs]
    out = check_store_output(store_location(args.out), inputs, "merge output")
    report = merge_stores(out, inputs)
    print(report.summary())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_output
    from study_app.store import ResultsStore, export_answers
    from study_app.store.export import manifest_path

    store_path = _store_path(args)
    if args.out:
        out = Path(args.out)
    else:  # beside the store file; for a server store, in results/<study>/
        from study_app.protocol.study import study_name
        from study_app.store.results_store import study_results_dir

        folder = store_path.parent if isinstance(store_path, Path) else study_results_dir(study_name(args.study))
        out = folder / "export" / f"answers.{args.format}"
    check_output(out, [store_path])
    check_output(manifest_path(out), [store_path], "--out's manifest")
    with ResultsStore(store_path, readonly=True) as store:
        export_answers(store, out, args.format, include_machine=args.include_machine)
    print(f"wrote {out} and {manifest_path(out)}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.store.export import import_loaded, load_export, manifest_path
    from study_app.store.results_store import store_location
    from study_app.store.target import open_target
    from study_app.io.store_url import printable_location

    table = Path(args.table)
    store_path = check_store_output(store_location(args.store), [table, manifest_path(table)])
    exported = load_export(table)  # a bad table is refused before a store is created
    with open_target(store_path) as store:  # a new store is removed again if the import fails
        added = import_loaded(store, *exported, name=args.table)
    print(f"imported {added} new trial(s) into {printable_location(args.store)}")
    return 0


def _cmd_check_store(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.store import check_store, recover_store
    from study_app.store.results_store import store_location
    from study_app.io.store_url import is_url, printable_location

    if is_url(args.path):  # as a Path its '//' would become '/', and the redaction would miss it
        raise StudyError(f"{printable_location(args.path)}: check-store checks a results file; a server's database is checked by PostgreSQL")
    store_location(args.path)  # a key=value connection string is refused, not taken for a file name
    report = check_store(Path(args.path))
    print(report.summary())
    if report.ok:
        return 0
    if args.recover:
        check_store_output(args.recover, [args.path], "--recover")  # a new store: one that exists is refused too
        counts = recover_store(Path(args.path), Path(args.recover))
        print(f"recovered into {args.recover} (original untouched): " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        recovered = check_store(Path(args.recover))
        if not recovered.ok:  # e.g. answers whose session row was lost: they cannot be put to an annotator
            print("what the recovered file still lacks:\n" + "\n".join(f"  - {p}" for p in recovered.problems))
    else:
        print(f"to copy every readable row into a new file (the original is never changed): "
              f"python main.py check-store {args.path} --recover NEW.sqlite")
    return 1


def _add_store_commands(sub: argparse._SubParsersAction) -> None:
    merge = sub.add_parser("merge", help="merge results stores from several desktops into one (idempotent)")
    merge.add_argument("out", help="merged store (created if missing)")
    merge.add_argument("inputs", nargs="+", help="stores to merge in")
    merge.set_defaults(handler=_cmd_merge)

    export = sub.add_parser("export", help="write the tidy answers table (CSV or Parquet) and its run manifest")
    export.add_argument("--study", default=DEFAULT_STUDY, help="study name or folder (for the default store path)")
    export.add_argument("--store", help="results store (default results/<study>/results.sqlite)")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("--out", help="output file (default results/<study>/export/answers.<format>)")
    export.add_argument("--include-machine", action="store_true", help="name each session's computer in the manifest (left out by default)")
    export.set_defaults(handler=_cmd_export)

    imp = sub.add_parser("import", help="load an answers export (with its manifest) into a results store")
    imp.add_argument("table", help="answers.csv or answers.parquet written by export")
    imp.add_argument("--store", required=True, help="results store to add the answers to (created if missing)")
    imp.set_defaults(handler=_cmd_import)

    check = sub.add_parser("check-store", help="check a results file's integrity; optionally recover what is readable")
    check.add_argument("path", help="results store file")
    check.add_argument("--recover", metavar="NEW", help="copy every readable row into this new file")
    check.set_defaults(handler=_cmd_check_store)


def _rt_pair(text: str) -> tuple[float, float]:
    try:
        mean, sd = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEAN,SD in milliseconds (e.g. 2500,800), not {text!r}") from None
    if mean not in _RT_MEAN_MS or sd not in _RT_SD_MS:
        raise argparse.ArgumentTypeError(f"the mean must be {_RT_MEAN_MS.describe()} ms and the SD {_RT_SD_MS.describe()} ms, not {text!r}")
    return mean, sd


_RT_MEAN_MS = Range(1, 600_000)
_LOGIT_SD = Range(0, MAX_LOGIT_SD)
_RT_SD_MS = Range(0, 600_000)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.session.pilot import run_pilot
    from study_app.protocol.study import load_study
    from study_app.io.store_url import printable_location

    study = load_study(args.study)
    drive = {}
    if args.gui:
        from study_app.gui.app import application
        from study_app.gui.pilot_driver import drive_window

        application()
        drive = {"drive": drive_window}
    store = check_store_output(_store_path(args), [args.from_predictions], "--store") if args.store else None
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
        **drive,
    )
    print(summary.summary())
    print(f"next: python main.py compare --study {args.study} --store {printable_location(summary.store)}")
    return 0


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("simulate", help="pilot run: scripted annotators go through the whole study into a pilot store")
    parser.add_argument("--study", default=DEFAULT_STUDY, help="study name or folder")
    parser.add_argument("--annotators", type=Range(1, 10_000).option(int), default=3, help="simulated annotators (default 3)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--accuracy", type=Range(0, 1).option(), default=0.8, help="mean chance that an answer is right (top-k; default 0.8)")
    source.add_argument("--from-predictions", help="answer as a model did: a tidy predictions CSV")
    rasch = "Rasch model P(right) = expit(mu + ability - difficulty), mu set by --accuracy"
    parser.add_argument(
        "--ability-sd", type=_LOGIT_SD.option(), default=DEFAULT_ABILITY_SD,
        help=f"{rasch}: SD of the annotators' abilities in logits (default {DEFAULT_ABILITY_SD:g})",
    )
    parser.add_argument(
        "--difficulty-sd", type=_LOGIT_SD.option(), default=DEFAULT_DIFFICULTY_SD,
        help=f"SD of the images' difficulties in logits, shared by all annotators (default {DEFAULT_DIFFICULTY_SD:g}: "
        "human-human error consistency about 0.4 at accuracy 0.8; 0 with --ability-sd 0: independent answers)",
    )
    parser.add_argument("--model", help="which model of --from-predictions (default: the first)")
    parser.add_argument("--rt-ms", type=_rt_pair, default=(2500.0, 800.0), help="response time MEAN,SD in ms (default 2500,800)")
    parser.add_argument("--seed", type=RUN_SEED.option(int), default=0, help="seed of the scripted answers (default 0)")
    parser.add_argument(
        "--store", help="pilot store (default results/<study>/pilot.sqlite; never the real store), or a postgresql:// server URL"
    )
    parser.add_argument("--journal", help="with a server store: this desktop's offline journal (default results/journal/...)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--gui", action="store_true", help="show the real window and type the answers into it, to watch the pilot")
    pace.add_argument(
        "--real-time",
        action="store_true",
        help="take each response time for real before answering (a load test of a results server at people's pace; --gui always does)",
    )
    parser.set_defaults(handler=_cmd_simulate)


def _cmd_progress(args: argparse.Namespace) -> int:
    import time

    from study_app.store.progress import format_progress, study_progress
    from study_app.store import ResultsStore

    while True:
        with ResultsStore(_store_path(args), readonly=True) as store:
            text = format_progress(study_progress(store, _named_study(args.study_name)), images=args.images)
        if not args.watch:
            print(text)
            return 0
        print("\033[2J\033[H" + time.strftime("%H:%M:%S ") + text, flush=True)
        time.sleep(args.watch)


def _named_study(name_or_folder: str | None) -> str | None:
    """The study's name in its protocol when ``--study`` names a protocol here; else as given
    (a lab's server may be watched from a computer without the protocol folder)."""
    from study_app.protocol.study import study_name

    if not name_or_folder:
        return None
    try:
        return study_name(name_or_folder)
    except StudyError:
        return name_or_folder


def _cmd_sync(args: argparse.Namespace) -> int:
    from study_app.store.journal import JournaledStore
    from study_app.io.store_url import is_server_url, printable_location

    if not is_server_url(args.store):
        raise StudyError(f"--store must be the postgresql:// URL of the results server, not {printable_location(args.store)!r}")
    with JournaledStore(args.store, Path(args.journal) if args.journal else None, pilot=args.pilot) as store:
        status = store.sync(force=True)
    print(status.text())
    if status.problem:
        print(f"why: {status.problem}")
    return 0 if status.online and not status.waiting else 1


def _add_lab_commands(sub: argparse._SubParsersAction) -> None:
    progress = sub.add_parser("progress", help="live progress of a study per annotator and per image (file or server store)")
    progress.add_argument("--store", required=True, help="results store: a file or a postgresql:// server URL")
    progress.add_argument("--study", dest="study_name", help="only this study (its name, or its protocol folder)")
    progress.add_argument("--images", action="store_true", help="also list every image with its answers and held slots")
    progress.add_argument("--watch", type=Range(0.1, 86_400).option(), metavar="SECONDS", help="refresh every SECONDS until Ctrl+C")
    progress.set_defaults(handler=_cmd_progress)

    sync = sub.add_parser("sync", help="send the answers a desktop saved while the results server was unreachable")
    sync.add_argument("--store", required=True, help="the postgresql:// server URL the desktop annotates into")
    sync.add_argument("--journal", help="the desktop's journal (default results/journal/<host>-<port>-<database>.sqlite)")
    sync.add_argument("--pilot", action="store_true", help="the journal of simulate (pilot sessions)")
    sync.set_defaults(handler=_cmd_sync)


def _add_validate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("validate", help="check a study protocol and print its summary or all its problems")
    parser.add_argument("--study", default=DEFAULT_STUDY, help="study name (bundled or under ./protocols) or folder")
    parser.add_argument("--quick", action="store_true", help="do not decode every image (files are still hashed)")
    parser.add_argument(
        "--rehash", action="store_true", help="ignore the validation cache: decode and hash every file again (and refresh the cache)"
    )
    parser.set_defaults(handler=_cmd_validate)


def _add_new_study(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("new-study", help="write a protocol folder for a study on a local data set")
    parser.add_argument(
        "template", choices=["ilsvrc2012", "degrade"],
        help="which kind of study to write: ilsvrc2012 from a local ILSVRC2012 copy, or degrade: another study's images at several levels of a transform",
    )
    parser.add_argument("--val-dir", help="ilsvrc2012: ILSVRC2012 validation images (flat, or one folder per WordNet id)")
    parser.add_argument("--train-dir", help="ILSVRC2012 training images (one folder per WordNet id), for example images")
    parser.add_argument("--train-images", type=Range(0, 10_000_000).option(int), default=500, help="images in the training phase (with feedback)")
    parser.add_argument("--test-images", type=Range(1, 10_000_000).option(int), default=1500, help="images in the test phase")
    parser.add_argument("--examples-per-class", type=EXAMPLES_PER_CLASS.option(int), help="example images per class (default 13; needs --train-dir)")
    parser.add_argument(
        "--seed", type=SEED.option(int), default=2015,
        help="ilsvrc2012: seed for choosing images and trial orders; degrade: seed of the noise (same seed: byte-identical stimuli)",
    )
    parser.add_argument("--out", help="protocol folder to write (must not exist; ilsvrc2012 default: protocols/ilsvrc2012)")
    parser.add_argument("--from", dest="source", metavar="STUDY_OR_FOLDER", help="degrade: the study whose images are degraded")
    parser.add_argument("--transform", help="degrade: uniform_noise, contrast, grey_scale, low_pass, high_pass or phase_noise")
    parser.add_argument(
        "--levels", nargs="+", type=float, metavar="LEVEL",
        help="degrade: the levels (conditions), the easiest first: the training phase shows the first",
    )
    parser.add_argument(
        "--presentation-ms", type=Range(1, 60_000).option(int),
        help="degrade: show each test image this long, then a noise mask (psychophysics presentation)",
    )
    parser.set_defaults(handler=_cmd_new_study)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Human-vs-machine accuracy studies on image classification. "
        "With no sub-command: the annotation session on the bundled demo-imagenet study.",
    )
    parser.add_argument("--version", action="version", version=f"study-app {__version__}")
    sub = parser.add_subparsers(title="sub-commands", metavar="COMMAND")
    for add in (_add_annotate, _add_simulate, _add_validate, _add_new_study, _add_store_commands, _add_lab_commands, add_compare_commands, add_report_command, add_predict_command, add_review_command):
        add(sub)
    return parser


#: The status of a program that stopped because its reader went away (``... | head -1``): what
#: a shell reports for one ended by SIGPIPE (128 + 13), so that scripts can tell it from an error.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    if getattr(sys.stdout, "errors", None) == "strict":
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
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version")):
        args_list = ["annotate", *args_list]  # `python main.py --annotator A01` is an annotation session too
    args = parser.parse_args(args_list)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

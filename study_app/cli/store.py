"""The results-store sub-commands: ``merge``, ``export``, ``import``, ``check-store``, and the
lab's ``progress`` and ``sync`` (file stores and a PostgreSQL results server alike).

Handlers return the exit status and raise :class:`~study_app.errors.StudyError` for
anything the user can fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from study_app.cli.options import DEFAULT_STUDY, STORE_HELP, add_command, store_path
from study_app.errors import StudyError
from study_app.io.program import program
from study_app.io.ranges import Range


def add_store_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``merge``, ``export``, ``import``, ``check-store``, ``progress`` and ``sync``."""
    merge = add_command(sub, "merge", _cmd_merge, "merge results stores from several desktops into one (idempotent)")
    merge.add_argument("out", help="merged store (created if missing)")
    merge.add_argument("inputs", nargs="+", help="stores to merge in")

    export = add_command(
        sub, "export", _cmd_export, "write the tidy answers table (CSV or Parquet) and its run manifest"
    )
    export.add_argument("--study", default=DEFAULT_STUDY, help="study name or folder (for the default store path)")
    export.add_argument("--store", help=STORE_HELP)
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("--out", help="output file (default results/<study>/export/answers.<format>)")
    export.add_argument(
        "--include-machine",
        action="store_true",
        help="name each session's computer in the manifest (left out by default)",
    )

    imp = add_command(sub, "import", _cmd_import, "load an answers export (with its manifest) into a results store")
    imp.add_argument("table", help="answers.csv or answers.parquet written by export")
    imp.add_argument("--store", required=True, help="results store to add the answers to (created if missing)")

    check = add_command(
        sub, "check-store", _cmd_check_store, "check a results file's integrity; optionally recover what is readable"
    )
    check.add_argument("path", help="results store file")
    check.add_argument("--recover", metavar="NEW", help="copy every readable row into this new file")

    progress = add_command(
        sub, "progress", _cmd_progress, "live progress of a study per annotator and per image (file or server store)"
    )
    progress.add_argument(
        "--store", help="results store: a file or a postgresql:// server URL (default: the --study's results.sqlite)"
    )
    progress.add_argument("--study", help="only this study (its name, or its protocol folder)")
    progress.add_argument("--images", action="store_true", help="also list every image with its answers and held slots")
    progress.add_argument(
        "--watch", type=Range(0.1, 86_400).option(), metavar="SECONDS", help="refresh every SECONDS until Ctrl+C"
    )

    sync = add_command(
        sub, "sync", _cmd_sync, "send the answers a desktop saved while the results server was unreachable"
    )
    sync.add_argument("--store", required=True, help="the postgresql:// server URL the desktop annotates into")
    sync.add_argument(
        "--journal", help="the desktop's journal (default results/journal/<host>-<port>-<database>.sqlite)"
    )
    sync.add_argument("--pilot", action="store_true", help="the journal of simulate (pilot sessions)")


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

    location = store_path(args)
    if args.out:
        out = Path(args.out)
    else:  # beside the store file; for a server store, in results/<study>/
        from study_app.protocol.study import study_name
        from study_app.store.results_store import study_results_dir

        folder = location.parent if isinstance(location, Path) else study_results_dir(study_name(args.study))
        out = folder / "export" / f"answers.{args.format}"
    check_output(out, [location])
    check_output(manifest_path(out), [location], "--out's manifest")
    with ResultsStore(location, readonly=True) as store:
        export_answers(store, out, args.format, include_machine=args.include_machine)
    print(f"wrote {out} and {manifest_path(out)}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.io.store_url import printable_location
    from study_app.store.export import import_loaded, load_export, manifest_path
    from study_app.store.results_store import store_location
    from study_app.store.target import open_target

    table = Path(args.table)
    location = check_store_output(store_location(args.store), [table, manifest_path(table)])
    exported = load_export(table)  # a bad table is refused before a store is created
    with open_target(location) as store:  # a new store is removed again if the import fails
        added = import_loaded(store, *exported, name=args.table)
    print(f"imported {added} new trial(s) into {printable_location(args.store)}")
    return 0


def _cmd_check_store(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import check_store_output
    from study_app.io.store_url import is_url, printable_location
    from study_app.store import check_store, recover_store
    from study_app.store.results_store import store_location

    if is_url(args.path):  # as a Path its '//' would become '/', and the redaction would miss it
        raise StudyError(
            f"{printable_location(args.path)}: check-store checks a "
            "results file; a server's database is checked by PostgreSQL"
        )
    store_location(args.path)  # a key=value connection string is refused, not taken for a file name
    report = check_store(Path(args.path))
    print(report.summary())
    if report.ok:
        return 0
    if args.recover:
        check_store_output(args.recover, [args.path], "--recover")  # a new store: one that exists is refused too
        counts = recover_store(Path(args.path), Path(args.recover))
        print(
            f"recovered into {args.recover} (original untouched): " + ", ".join(f"{t} {n}" for t, n in counts.items())
        )
        recovered = check_store(Path(args.recover))
        if not recovered.ok:  # e.g. answers whose session row was lost: they cannot be put to an annotator
            print("what the recovered file still lacks:\n" + "\n".join(f"  - {p}" for p in recovered.problems))
    else:
        print(
            f"to copy every readable row into a new file (the original is never changed): "
            f"{program()} check-store {args.path} --recover NEW.sqlite"
        )
    return 1


def _cmd_progress(args: argparse.Namespace) -> int:
    import time

    from study_app.store import ResultsStore
    from study_app.store.progress import format_progress, study_progress

    if not args.store and not args.study:
        raise StudyError(
            "progress needs the study (--study NAME, which reads results/<study>/results.sqlite) or a --store"
        )
    location = store_path(args)  # with --study alone, that study's default store, as for export and compare
    while True:
        with ResultsStore(location, readonly=True) as store:
            text = format_progress(study_progress(store, _named_study(args.study)), images=args.images)
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
    from study_app.io.store_url import is_server_url, printable_location
    from study_app.store.journal import JournaledStore

    if not is_server_url(args.store):
        raise StudyError(
            f"--store must be the postgresql:// URL of the results server, not {printable_location(args.store)!r}"
        )
    with JournaledStore(args.store, Path(args.journal) if args.journal else None, pilot=args.pilot) as store:
        status = store.sync(force=True)
    print(status.text())
    if status.problem:
        print(f"why: {status.problem}")
    return 0 if status.online and not status.waiting else 1

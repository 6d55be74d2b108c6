"""The ``validate`` and ``new-study`` sub-commands: checking and writing study protocols.

Handlers return the exit status and raise :class:`~study_app.errors.StudyError` for
anything the user can fix.
"""

from __future__ import annotations

import argparse

from study_app.cli.options import DEFAULT_STUDY, STUDY_HELP, add_command
from study_app.errors import StudyError
from study_app.io.program import program
from study_app.io.ranges import EXAMPLES_PER_CLASS, SEED, Range


def add_study_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``validate`` and ``new-study`` to an argparse sub-parsers object."""
    validate = add_command(
        sub, "validate", _cmd_validate, "check a study protocol and print its summary or all its problems"
    )
    validate.add_argument("--study", default=DEFAULT_STUDY, help=STUDY_HELP)
    validate.add_argument("--quick", action="store_true", help="do not decode every image (files are still hashed)")
    validate.add_argument(
        "--rehash",
        action="store_true",
        help="ignore the validation cache: decode and hash every file again (and refresh the cache)",
    )

    parser = add_command(sub, "new-study", _cmd_new_study, "write a protocol folder for a study on a local data set")
    parser.add_argument(
        "template",
        choices=["ilsvrc2012", "degrade"],
        help=(
            "which kind of study to write: ilsvrc2012 from a local ILSVRC2012 copy, "
            "or degrade: another study's images at several levels of a transform"
        ),
    )
    parser.add_argument(
        "--val-dir", help="ilsvrc2012: ILSVRC2012 validation images (flat, or one folder per WordNet id)"
    )
    parser.add_argument(
        "--train-dir", help="ILSVRC2012 training images (one folder per WordNet id), for example images"
    )
    parser.add_argument(
        "--train-images",
        type=Range(0, 10_000_000).option(int),
        default=500,
        help="images in the training phase (with feedback)",
    )
    parser.add_argument(
        "--test-images", type=Range(1, 10_000_000).option(int), default=1500, help="images in the test phase"
    )
    parser.add_argument(
        "--examples-per-class",
        type=EXAMPLES_PER_CLASS.option(int),
        help="example images per class (default 13; needs --train-dir)",
    )
    parser.add_argument(
        "--seed",
        type=SEED.option(int),
        default=2015,
        help=(
            "ilsvrc2012: seed for choosing images and trial orders; "
            "degrade: seed of the noise (same seed: byte-identical stimuli)"
        ),
    )
    parser.add_argument(
        "--out", help="protocol folder to write (must not exist; ilsvrc2012 default: protocols/ilsvrc2012)"
    )
    parser.add_argument(
        "--from", dest="source", metavar="STUDY_OR_FOLDER", help="degrade: the study whose images are degraded"
    )
    parser.add_argument(
        "--transform", help="degrade: uniform_noise, contrast, grey_scale, low_pass, high_pass or phase_noise"
    )
    parser.add_argument(
        "--levels",
        nargs="+",
        type=float,
        metavar="LEVEL",
        help="degrade: the levels (conditions), the easiest first: the training phase shows the first",
    )
    parser.add_argument(
        "--presentation-ms",
        type=Range(1, 60_000).option(int),
        help="degrade: show each test image this long, then a noise mask (psychophysics presentation)",
    )


def _cmd_validate(args: argparse.Namespace) -> int:
    from study_app.protocol.study import load_study
    from study_app.protocol.summary import describe_study

    study = load_study(args.study, check_images=not args.quick, rehash=args.rehash)
    print(describe_study(study))
    return 0


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
    print(f"wrote {folder}; check it with: {program()} validate --study {folder}")
    return 0


def _cmd_new_degraded_study(args: argparse.Namespace) -> int:
    from study_app.authoring.degraded import write_degraded_study

    missing = [
        option
        for option, value in (
            ("--from", args.source),
            ("--transform", args.transform),
            ("--levels", args.levels),
            ("--out", args.out),
        )
        if not value
    ]
    if missing:
        raise StudyError(f"new-study degrade needs {', '.join(missing)}")
    folder, notes = write_degraded_study(
        args.source, args.transform, args.levels, args.seed, args.out, args.presentation_ms
    )
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {folder}; check it with: {program()} validate --study {folder}")
    return 0

"""The ``predict`` sub-command: run a model spec over a study's images.

``study_app.cli.main`` adds it with :func:`add_predict_command`; the handler returns the exit
status (130 after Ctrl-C, with a valid partial file that a rerun completes) and raises
:class:`~study_app.errors.StudyError` subclasses for anything the user can fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from study_app.cli.options import STUDY_HELP, add_command
from study_app.io.ranges import Range
from study_app.models.backends import BACKENDS, DEVICES


def add_predict_command(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` to a sub-parsers object."""
    parser = add_command(
        sub,
        "predict",
        _cmd_predict,
        "predict a study's images with a model; write a tidy predictions CSV and a provenance JSON",
        description="Run a model spec over a study's images (sorted by image id) and append the top-k guesses "
        "to a predictions CSV. Images already in --out are skipped, so an interrupted run continues.",
    )
    parser.add_argument("--study", required=True, help=STUDY_HELP)
    parser.add_argument(
        "--model",
        required=True,
        help="model spec file, or the name of a spec in <study>/models/ or a bundled study's models/",
    )
    parser.add_argument("--backend", choices=BACKENDS, default="onnxruntime", help="runtime (default: %(default)s)")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="(default: %(default)s)")
    parser.add_argument(
        "--batch-size", type=Range(1, 4096).option(int), default=32, help="images per model call (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="predictions CSV, or Parquet if it ends in .parquet (default: results/<study>/predictions/<model>.csv); "
        "provenance goes beside it as .json",
    )
    parser.add_argument(
        "--split", action="append", help="only images of this manifest split (repeatable; default: all images)"
    )
    parser.add_argument(
        "--workers",
        type=Range(1, 256).option(int),
        help="image decoding threads (default: the number of cores, at most 8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--trust-model-code",
        action="store_true",
        help="let a spec run code from its own folder: a builder file (architecture = file:<file>.py:<function>) "
        "or TorchScript weights (format = torchscript), which are programs too; read them first, as they run "
        "with your rights. No other code can be named by a spec",
    )


def _cmd_predict(args: argparse.Namespace) -> int:
    from study_app.io.output_guard import OutputRefusedError, check_output
    from study_app.models.provenance import write_sidecar
    from study_app.models.runner import predict_study
    from study_app.models.spec import find_spec, load_spec
    from study_app.protocol.study import load_study
    from study_app.store.results_store import study_results_dir

    study = load_study(args.study, check_images=False)  # every image is decoded (and checked) by the run itself
    spec = load_spec(find_spec(args.model, study.root), trust_model_code=args.trust_model_code)
    code = spec.weights.code_to_run()
    if code is not None and spec.weights.code_trusted:
        print(f"--trust-model-code: to build {spec.name}'s network this run may {code}", flush=True)
    out: Path = args.out or study_results_dir(study.name) / "predictions" / f"{spec.name}.csv"
    sidecar = out.with_suffix(".json")
    if out.suffix.lower() == ".json":  # the provenance file would be written over the predictions
        raise OutputRefusedError(
            f"--out {out}: the provenance file goes beside the predictions as <name>.json, here {sidecar} "
            "itself; name the predictions file .csv"
        )
    check_output(out, [spec.path, spec.weights.path], "--out")
    check_output(
        sidecar, [spec.path, spec.weights.path, out], "--out's provenance file"
    )  # out: read to resume, and a link may join them
    result = predict_study(
        study,
        spec,
        out,
        backend=args.backend,
        device=args.device,
        batch_size=args.batch_size,
        splits=set(args.split) if args.split else None,
        workers=args.workers,
        progress=not args.no_progress,
    )
    write_sidecar(sidecar, result.provenance)
    done = result.already_done + result.predicted
    if result.interrupted:
        print(
            f"interrupted: {done} of {result.selected} images are in {out} "
            "(whole images only); run the same command again to continue"
        )
        return 130
    print(
        f"{spec.name}: predicted {result.predicted} image(s) in {result.seconds:.1f} s"
        + (f", {result.already_done} were already in the file" if result.already_done else "")
        + f"; wrote {out} and {sidecar}"
    )
    return 0

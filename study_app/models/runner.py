"""Predicting a study's images with one model: decode in parallel, batch, run, append.

The one code path for every model and runtime (the CLI's ``predict``, the script that
made the bundled predictions, the tests): images are decoded and preprocessed by a
thread pool (Pillow releases the GIL) a batch or two ahead of the model, each batch's
top-k guesses are appended to the predictions file, and images already there are
skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Collection, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from study_app.errors import ModelRunError, ModelSpecError
from study_app.models.backends import Backend, open_backend
from study_app.models.labelmap import LabelMap, build_label_map
from study_app.models.output import PredictionsWriter
from study_app.models.preprocess import Preprocessing
from study_app.models.provenance import cpu_description, spec_record, utc_now, versions
from study_app.models.run_progress import Progress
from study_app.models.scores import ranked_guesses
from study_app.models.spec import ModelSpec, refuse_untrusted_code, spec_problem
from study_app.protocol.study import ImageRecord, Study

MAX_WORKERS = 8


@dataclass
class RunResult:
    """What a run did; ``provenance`` is the sidecar record."""

    out: Path
    predicted: int
    already_done: int
    selected: int
    seconds: float
    interrupted: bool = False
    provenance: dict = field(default_factory=dict)


def predict_study(
    study: Study,
    spec: ModelSpec,
    out: Path,
    *,
    backend: str = "onnxruntime",
    device: str = "cpu",
    batch_size: int = 32,
    splits: Collection[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Append ``spec``'s top-k guesses for the study's images (sorted by id) to ``out``.

    Images of this model already in ``out`` are skipped. Ctrl-C ends the run after the
    current batch is written and returns with ``interrupted=True``.
    """
    if batch_size < 1:
        raise ModelRunError(f"--batch-size must be at least 1, not {batch_size}")
    refuse_untrusted_code(spec)  # before anything is written, even when every image is done
    records = [study.images[i] for i in sorted(study.images) if splits is None or study.images[i].split in splits]
    if not records:
        known = sorted({r.split for r in study.images.values()})
        raise ModelRunError(
            f"no image of study {study.name} is in split(s) "
            f"{', '.join(sorted(splits or ()))} (splits: {', '.join(known)})"
        )
    label_map = build_label_map(spec.labels, study.labels, str(spec.path))
    writer = PredictionsWriter(out, spec.name, min(spec.top_k, len(label_map.label_ids)))
    todo = [r for r in records if r.image_id not in writer.done]
    started, clock = utc_now(), time.monotonic()
    runtime: dict = {}
    interrupted = False
    try:
        if todo:
            engine = open_backend(spec, backend, device)
            _check_input_shape(spec, engine)
            runtime = engine.describe()
            bar = Progress(len(todo), f"predict {spec.name}", enabled=progress)
            try:
                with closing(_decoded_batches(todo, spec.preprocess, study.max_pixels, batch_size, workers)) as batches:
                    for batch_records, batch in batches:
                        scores = _scores(engine.run(batch, spec.activation == "softmax"), spec, label_map)
                        guesses = ranked_guesses(scores, label_map.label_ids, spec.top_k)
                        writer.write([(r.image_id, g) for r, g in zip(batch_records, guesses)])
                        bar.advance(len(batch_records))
            except KeyboardInterrupt:
                interrupted = True
            finally:
                bar.close()
    finally:
        writer.close()
    predicted = len(todo) - sum(r.image_id not in writer.done for r in todo)
    provenance = {
        **spec_record(spec),
        "study": {"name": study.name, "folder": str(study.root), "protocol_hash": study.protocol_hash},
        "splits": sorted(splits) if splits is not None else "all",
        "label_map": label_map.describe(),
        "runtime": runtime,
        "device": device if device == "cuda" else f"cpu ({cpu_description()})",
        "batch_size": batch_size,
        "versions": versions(),
        "images": {
            "selected": len(records),
            "predicted_this_run": predicted,
            "already_in_file": len(records) - len(todo),
        },
        "complete": not interrupted,
        "started_at": started,
        "finished_at": utc_now(),
    }
    return RunResult(
        out, predicted, len(records) - len(todo), len(records), time.monotonic() - clock, interrupted, provenance
    )


def _scores(outputs: np.ndarray, spec: ModelSpec, label_map: LabelMap) -> np.ndarray:
    """Checked model outputs -> scores of study classes."""
    if outputs.ndim != 2 or outputs.shape[1] != label_map.n_outputs:
        raise ModelSpecError(
            [
                spec_problem(
                    spec,
                    f"the model gives outputs of shape {outputs.shape[1:]} per "
                    f"image, but the labels name {label_map.n_outputs} outputs",
                    "labels",
                )
            ],
            spec.path,
        )
    return label_map.apply(outputs)


def _check_input_shape(spec: ModelSpec, engine: Backend) -> None:
    """Compare the model's declared input with what the preprocessing makes."""
    declared = engine.input_shape
    made = spec.preprocess.input_shape()
    if declared is None:
        return
    if len(declared) != len(made) or any(d is not None and d != m for d, m in zip(declared, made)):
        shown = tuple("?" if d is None else d for d in declared)
        raise ModelSpecError(
            [
                spec_problem(
                    spec,
                    f"wrong input size: the model takes {shown} per image but "
                    f"[preprocess] makes {made} ({spec.preprocess.layout})",
                    "preprocess",
                    "input_size",
                )
            ],
            spec.path,
        )


def _decoded_batches(
    records: Sequence[ImageRecord], prep: Preprocessing, max_pixels: int, batch_size: int, workers: int | None
) -> Generator[tuple[list[ImageRecord], np.ndarray], None, None]:
    """Batches of preprocessed images, decoded by a thread pool up to two batches ahead."""
    pool = ThreadPoolExecutor(workers or min(MAX_WORKERS, os.cpu_count() or 1), thread_name_prefix="decode")
    pending: deque[tuple[ImageRecord, Future[np.ndarray]]] = deque()
    upcoming = iter(records)

    def fill() -> None:
        while len(pending) < 2 * batch_size and (record := next(upcoming, None)) is not None:
            pending.append((record, pool.submit(prep.load, record.path, max_pixels)))

    try:
        fill()
        while pending:
            chunk = [pending.popleft() for _ in range(min(batch_size, len(pending)))]
            fill()
            yield [record for record, _ in chunk], np.stack([future.result() for _, future in chunk])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

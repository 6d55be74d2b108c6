"""A full-size study for tests and benchmarks: ``python -m benchmarks.make_fixture OUT``.

The label set is the real demo-imagenet one (1000 ILSVRC classes, WordNet hierarchy);
the images are *generated* (smooth random colour fields with fine grain, JPEG-encoded at
realistic sizes: about 500x375 for test images, 40-80 KB each), because no real image set
of that size can be bundled. Defaults: 13 example images per class (13,000), 50,000 test
images, and predictions of 3 synthetic models (top-5, accuracies 0.75/0.85/0.9).

For the data-path benchmarks (``bench_scale``) the same study grows where real data sets
grow and drops what they do not read: ``--models 67`` (a model zoo's prediction dumps),
``--annotators 2 --annotated-images 1500`` (an answers table, ``answers.csv``), ``--no-images``
(the manifest still names every image, but no JPEG is written: ``compare`` and ``report`` on
files never open them) and ``--parquet`` (the predictions also as ``predictions.parquet``).
The predictions are drawn with whole-array operations, so 16.75 million rows take seconds.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from study_app.io.csvfiles import write_csv
from study_app.protocol.study import BUNDLED_PROTOCOLS

LABEL_FILES = ("labels.csv", "hierarchy.csv", "hierarchy_nodes.csv", "LICENSE-WordNet.txt")
MODEL_ACCURACY = {"model-a": 0.75, "model-b": 0.85, "model-c": 0.90}
K = 5


def synthetic_jpeg(path: Path, size: tuple[int, int], rng: np.random.Generator) -> None:
    """A photo-like JPEG: a smooth colour field plus grain, so it compresses like a photo."""
    width, height = size
    coarse = rng.integers(0, 256, (height // 32 + 2, width // 32 + 2, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    Image.fromarray(np.clip(field + grain, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=88)


def make_fixture(
    out: Path,
    classes: int = 1000,
    examples_per_class: int = 13,
    test_images: int = 50_000,
    train_images: int = 500,
    seed: int = 11,
    *,
    models: int = len(MODEL_ACCURACY),
    annotators: int = 0,
    annotated_images: int = 1500,
    images: bool = True,
    parquet: bool = False,
) -> Path:
    """Write the study folder ``out`` (replacing it) and return it.

    ``models``: how many models' top-5 predictions of every image (``model-a`` .. ``model-c``
    up to three, else ``model-001`` ...); ``annotators``: people whose top-5 answers to the first
    ``annotated_images`` test images go into ``answers.csv`` (none: no file); ``images=False``
    writes no JPEG (examples included); ``parquet`` adds ``predictions.parquet``.
    """
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "examples").mkdir()
    source = BUNDLED_PROTOCOLS / "demo-imagenet"
    for name in LABEL_FILES:
        shutil.copyfile(source / name, out / name)
    with open(source / "labels.csv", encoding="utf-8") as handle:
        label_rows = list(csv.reader(handle))
    label_ids = [row[0] for row in label_rows[1 : classes + 1]]
    if classes < len(label_rows) - 1:
        # The classes left out become inner nodes, so every hierarchy row stays valid.
        with open(source / "hierarchy_nodes.csv", encoding="utf-8") as handle:
            nodes = list(csv.reader(handle))
        write_csv(out / "labels.csv", label_rows[0], label_rows[1 : classes + 1])
        left_out = [row[: len(nodes[0])] for row in label_rows[classes + 1 :]]  # a node has no kinds column
        write_csv(out / "hierarchy_nodes.csv", nodes[0], nodes[1:] + left_out)

    examples = []
    for label_id in label_ids:
        for j in range(examples_per_class):
            name = f"examples/{label_id}-{j:02d}.jpg"
            if images:
                synthetic_jpeg(out / name, (int(rng.integers(160, 320)), int(rng.integers(120, 240))), rng)
            examples.append([label_id, name])
    manifest = []
    truth = rng.integers(0, len(label_ids), train_images + test_images)
    for i in range(train_images + test_images):
        image_id = f"img-{i:06d}"
        if images:
            size = (500, 375) if rng.random() < 0.7 else (375, 500)
            synthetic_jpeg(out / "images" / f"{image_id}.jpg", size, rng)
        manifest.append(
            [image_id, f"images/{image_id}.jpg", label_ids[truth[i]], "train" if i < train_images else "test"]
        )
    image_ids = np.array([row[0] for row in manifest], dtype=object)
    names = np.asarray(label_ids, dtype=object)
    write_predictions(out, model_accuracies(models), image_ids, truth, names, rng, parquet=parquet)
    if annotators:
        first_test = slice(train_images, train_images + min(annotated_images, test_images))
        write_answers(out / "answers.csv", annotators, image_ids[first_test], truth[first_test], names, rng)
    write_csv(out / "examples.csv", ["label_id", "path"], examples)
    write_csv(out / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)
    (out / "instructions.md").write_text("Benchmark study with generated images.\n", encoding="utf-8")
    training = (
        '[[phases]]\nname = "training"\nsplit = "train"\nfeedback = true\nanswers = 5\n\n' if train_images else ""
    )
    (out / "study.toml").write_text(
        f'format = 1\nname = "fullsize"\nversion = "1"\ntitle = "Full-size benchmark study (generated images)"\n'
        f'seed = {seed}\ninstructions = "instructions.md"\n\n'
        '[labels]\nfile = "labels.csv"\nhierarchy = "hierarchy.csv"\nnodes = "hierarchy_nodes.csv"\n'
        f'examples = "examples.csv"\nexamples_per_class = {examples_per_class}\n\n'
        '[images]\nmanifest = "manifest.csv"\n\n'
        f'{training}[[phases]]\nname = "test"\nsplit = "test"\nanswers = 5\nbreak_every = 100\n\n'
        '[models]\npredictions = ["predictions.csv"]\n',
        encoding="utf-8",
    )
    return out


def model_accuracies(models: int) -> dict[str, float]:
    """Top-1 accuracy of each model: the three named ones, or ``models`` spread from 0.55 to 0.92."""
    if models <= len(MODEL_ACCURACY):
        return dict(list(MODEL_ACCURACY.items())[:models])
    return {f"model-{m + 1:03d}": float(a) for m, a in enumerate(np.linspace(0.55, 0.92, models))}


def ranked_guesses(truth: np.ndarray, classes: int, top1: float, rng: np.random.Generator, k: int = K) -> np.ndarray:
    """``k`` distinct class codes per image, best first: the true class first with probability
    ``top1``, otherwise at rank 2..k for half of the rest, otherwise absent (a top-k miss)."""
    n = len(truth)
    # k distinct offsets in 1..classes-1 from the true class: sorted draws made strictly increasing
    offsets = np.sort(rng.integers(0, classes - k, size=(n, k)), axis=1) + np.arange(1, k + 1)
    guesses = (truth[:, None] + rng.permuted(offsets, axis=1)) % classes
    draw = rng.random(n)
    at = np.where(draw < top1, 0, np.where(draw < top1 + (1 - top1) / 2, rng.integers(1, k, size=n), -1))
    hit = at >= 0
    guesses[np.flatnonzero(hit), at[hit]] = truth[hit]
    return guesses


def write_predictions(
    out: Path,
    accuracy: dict[str, float],
    image_ids: np.ndarray,
    truth: np.ndarray,
    names: np.ndarray,
    rng: np.random.Generator,
    *,
    parquet: bool,
) -> None:
    """``predictions.csv`` (tidy, top-5 with scores, sorted by model and image) and optionally
    ``predictions.parquet``, written with pyarrow: 67 models x 50,000 images are 16.75 million rows."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    n = len(image_ids)
    image_codes = np.repeat(np.arange(n, dtype=np.int32), K)
    parts = []
    for model_code, top1 in enumerate(accuracy.values()):
        guesses = ranked_guesses(truth, len(names), top1, rng)
        scores = np.round(-np.sort(-rng.dirichlet(np.ones(K), size=n), axis=1), 6)
        parts.append(
            pa.table(
                {
                    "model": pa.DictionaryArray.from_arrays(np.full(n * K, model_code, dtype=np.int32), list(accuracy)),
                    "image_id": pa.DictionaryArray.from_arrays(image_codes, list(image_ids)),
                    "rank": np.tile(np.arange(1, K + 1, dtype=np.int8), n),
                    "label_id": pa.DictionaryArray.from_arrays(guesses.ravel().astype(np.int32), list(names)),
                    "score": scores.ravel(),
                }
            )
        )
    table = pa.concat_tables(parts)
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    pa_csv.write_csv(table, out / "predictions.csv", options)
    if parquet:
        pq.write_table(table, out / "predictions.parquet")


def write_answers(
    path: Path, annotators: int, image_ids: np.ndarray, truth: np.ndarray, names: np.ndarray, rng: np.random.Generator
) -> None:
    """An answers table in the public columns (``annotator, phase, trial, image_id, rank, label_id,
    rt_ms, outcome``): each annotator answers every image with top-5 guesses, in a shuffled order."""
    rows = []
    for a in range(annotators):
        guesses = ranked_guesses(truth, len(names), 0.8, rng)
        order = rng.permutation(len(image_ids))
        times = rng.gamma(4, 400, size=len(image_ids))
        for trial, i in enumerate(order, start=1):
            rows.extend(
                [f"annotator-{a + 1}", "test", trial, image_ids[i], rank, names[g], f"{times[i]:.0f}", "answer"]
                for rank, g in enumerate(guesses[i], start=1)
            )
    write_csv(path, ["annotator", "phase", "trial", "image_id", "rank", "label_id", "rt_ms", "outcome"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--examples-per-class", type=int, default=13)
    parser.add_argument("--test-images", type=int, default=50_000)
    parser.add_argument("--train-images", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--models", type=int, default=len(MODEL_ACCURACY), help="models predicting every image")
    parser.add_argument("--annotators", type=int, default=0, help="annotators in answers.csv (default: no file)")
    parser.add_argument("--annotated-images", type=int, default=1500, help="test images each annotator answers")
    parser.add_argument("--no-images", action="store_true", help="write no JPEG files (the manifest still names them)")
    parser.add_argument("--parquet", action="store_true", help="also write predictions.parquet")
    args = parser.parse_args()
    folder = make_fixture(
        args.out,
        args.classes,
        args.examples_per_class,
        args.test_images,
        args.train_images,
        args.seed,
        models=args.models,
        annotators=args.annotators,
        annotated_images=args.annotated_images,
        images=not args.no_images,
        parquet=args.parquet,
    )
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()

"""A full-size study for tests and benchmarks: ``python -m benchmarks.make_fixture OUT``.

The label set is the real demo-imagenet one (1000 ILSVRC classes, WordNet hierarchy);
the images are *generated* (smooth random colour fields with fine grain, JPEG-encoded at
realistic sizes: about 500x375 for test images, 40-80 KB each), because no real image set
of that size can be bundled. Defaults: 13 example images per class (13,000), 50,000 test
images, and predictions of 3 synthetic models (top-5, accuracies 0.75/0.85/0.9).
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
) -> Path:
    """Write the study folder ``out`` (replacing it) and return it."""
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
            synthetic_jpeg(out / name, (int(rng.integers(160, 320)), int(rng.integers(120, 240))), rng)
            examples.append([label_id, name])
    manifest = []
    truth = rng.integers(0, len(label_ids), train_images + test_images)
    for i in range(train_images + test_images):
        image_id = f"img-{i:06d}"
        size = (500, 375) if rng.random() < 0.7 else (375, 500)
        synthetic_jpeg(out / "images" / f"{image_id}.jpg", size, rng)
        manifest.append(
            [image_id, f"images/{image_id}.jpg", label_ids[truth[i]], "train" if i < train_images else "test"]
        )
    predictions = []
    for model, accuracy in MODEL_ACCURACY.items():
        for image_id, _, label, _ in manifest:
            guesses = [label_ids[k] for k in rng.choice(len(label_ids), 6, replace=False) if label_ids[k] != label][:5]
            if rng.random() < accuracy:
                guesses = [label, *guesses[:4]]
            scores = np.sort(rng.dirichlet(np.ones(5)))[::-1]
            predictions.extend(
                [model, image_id, rank, g, f"{s:.6f}"] for rank, (g, s) in enumerate(zip(guesses, scores), start=1)
            )
    write_csv(out / "examples.csv", ["label_id", "path"], examples)
    write_csv(out / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)
    write_csv(out / "predictions.csv", ["model", "image_id", "rank", "label_id", "score"], predictions)
    (out / "instructions.md").write_text("Benchmark study with generated images.\n", encoding="utf-8")
    (out / "study.toml").write_text(
        f'format = 1\nname = "fullsize"\nversion = "1"\ntitle = "Full-size benchmark study (generated images)"\n'
        f'seed = {seed}\ninstructions = "instructions.md"\n\n'
        '[labels]\nfile = "labels.csv"\nhierarchy = "hierarchy.csv"\nnodes = "hierarchy_nodes.csv"\n'
        f'examples = "examples.csv"\nexamples_per_class = {examples_per_class}\n\n'
        '[images]\nmanifest = "manifest.csv"\n\n'
        '[[phases]]\nname = "training"\nsplit = "train"\nfeedback = true\nanswers = 5\n\n'
        '[[phases]]\nname = "test"\nsplit = "test"\nanswers = 5\nbreak_every = 100\n\n'
        '[models]\npredictions = ["predictions.csv"]\n',
        encoding="utf-8",
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--examples-per-class", type=int, default=13)
    parser.add_argument("--test-images", type=int, default=50_000)
    parser.add_argument("--train-images", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    folder = make_fixture(
        args.out, args.classes, args.examples_per_class, args.test_images, args.train_images, args.seed
    )
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()

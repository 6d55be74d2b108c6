"""Builds small but real study folders (PNG files, CSVs, study.toml) for tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from study_app.io.csvfiles import write_csv

CLASSES = [
    ("cat", "cat", "cat;house cat;kitty", "a small domesticated feline"),
    ("dog", "dog", "dog;domestic dog", "a domesticated canid"),
    ("car", "car", "car;automobile", "a motor vehicle with four wheels"),
    ("bus", "bus", "bus;coach", "a vehicle carrying many passengers"),
]
NODES = [
    ("animal", "animal", "animal;beast", "a living organism"),
    ("vehicle", "vehicle", "vehicle", "a conveyance"),
]
HIERARCHY = [("cat", "animal"), ("dog", "animal"), ("car", "vehicle"), ("bus", "vehicle")]
COLOURS = {"cat": (200, 80, 40), "dog": (90, 160, 60), "car": (40, 90, 200), "bus": (220, 200, 30)}

STUDY_TOML = """format = 1
name = "tiny"
version = "1"
title = "Tiny test study"
description = "Four classes, coloured squares."
seed = 7
instructions = "instructions.md"

[labels]
file = "labels.csv"
hierarchy = "hierarchy.csv"
nodes = "nodes.csv"
examples = "examples.csv"
examples_per_class = 2

[images]
manifest = "manifest.csv"

[[phases]]
name = "training"
split = "train"
feedback = true
answers = 1

[[phases]]
name = "test"
split = "test"
feedback = false
answers = 3
break_every = 4

[models]
predictions = ["predictions.csv"]
"""


def make_study(root: Path, per_class_train: int = 1, per_class_test: int = 3, name: str = "tiny") -> Path:
    """Write a valid study: 4 classes, 2 examples each, train and test images, 2 models
    (``name``: its name in study.toml, for stores that hold two studies)."""
    images = root / "images"
    images.mkdir(parents=True)
    manifest, examples, predictions = [], [], []
    counter = 0
    for label_id, *_ in CLASSES:
        for split, count in (("example", 2), ("train", per_class_train), ("test", per_class_test)):
            for _ in range(count):
                counter += 1
                image = f"img-{counter:03d}"
                shade = tuple(min(255, c + 7 * counter % 40) for c in COLOURS[label_id])
                Image.new("RGB", (48, 32), shade).save(images / f"{image}.png")
                if split == "example":
                    examples.append([label_id, f"images/{image}.png"])
                else:
                    manifest.append([image, f"images/{image}.png", label_id, split])
    wrong = {"cat": "dog", "dog": "cat", "car": "bus", "bus": "car"}
    for model, accurate in (("model-a", True), ("model-b", False)):
        for image_id, _, truth, _ in manifest:
            first = truth if accurate or image_id.endswith(("1", "3", "5")) else wrong[truth]
            second = wrong[truth] if first == truth else truth
            predictions.append([model, image_id, "1", first, "0.7"])
            predictions.append([model, image_id, "2", second, "0.2"])
    write_csv(root / "labels.csv", ["label_id", "name", "synonyms", "definition"], CLASSES)
    write_csv(root / "nodes.csv", ["label_id", "name", "synonyms", "definition"], NODES)
    write_csv(root / "hierarchy.csv", ["child", "parent"], HIERARCHY)
    write_csv(root / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)
    write_csv(root / "examples.csv", ["label_id", "path"], examples)
    write_csv(root / "predictions.csv", ["model", "image_id", "rank", "label_id", "score"], predictions)
    (root / "instructions.md").write_text("Pick the class of the coloured square.\n", encoding="utf-8")
    (root / "study.toml").write_text(STUDY_TOML.replace('name = "tiny"', f'name = "{name}"'), encoding="utf-8")
    return root

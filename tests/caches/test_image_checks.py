"""Images checked in parallel: the same problems, in manifest order, as one by one."""

from __future__ import annotations

import pytest

from study_app.errors import ProtocolError
from study_app.io.images import sha256_file
from study_app.protocol.image_checks import PARALLEL_FROM, check_image_file, check_image_files
from study_app.protocol.study import load_study
from tests.factory import make_study


def test_parallel_check_reports_broken_images_in_manifest_order(tmp_path):
    root = make_study(tmp_path / "many", per_class_train=1, per_class_test=20)
    rows = (root / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) >= PARALLEL_FROM
    broken = [rows[50].split(",")[1], rows[10].split(",")[1], rows[70].split(",")[1]]
    (root / broken[0]).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / broken[1]).unlink()
    (root / broken[2]).write_bytes(b"not an image at all")
    with pytest.raises(ProtocolError) as caught:
        load_study(root)
    problems = [p for p in caught.value.problems if p.file == "manifest.csv"]
    assert [p.line for p in problems] == [12, 52, 72]
    assert "image file not found" in problems[0].message and broken[1] in problems[0].message
    assert broken[0] in problems[1].message and broken[2] in problems[2].message


def test_parallel_results_equal_serial_ones(tmp_path):
    root = make_study(tmp_path / "many", per_class_train=1, per_class_test=20)
    paths = sorted((root / "images").glob("*.png"))
    assert len(paths) >= PARALLEL_FROM
    parallel = check_image_files(paths, True, 10_000)
    assert [c.sha256 for c in parallel] == [sha256_file(p) for p in paths]
    assert [c.sha256 for c in parallel] == [check_image_file(p, True, 10_000).sha256 for p in paths]
    study = load_study(root)
    assert all(record.sha256 == sha256_file(record.path) for record in study.images.values())


def test_an_image_over_the_pixel_limit_is_refused(tmp_path):
    root = make_study(tmp_path / "tiny")
    path = sorted((root / "images").glob("*.png"))[0]
    found = check_image_file(path, True, 100)
    assert found.sha256 == "" and "over the limit of 100" in found.error
    assert check_image_file(path, False, 100).sha256 == sha256_file(path)  # not decoded: only hashed

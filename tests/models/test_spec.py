"""Bad model specs get errors that name the file, the line and the field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from study_app.errors import StudyError
from study_app.models import ModelSpecError, find_spec, load_spec, predict_study
from study_app.protocol import BUNDLED_PROTOCOLS, load_study

DIGITS_MODELS = BUNDLED_PROTOCOLS / "demo-digits" / "models"
GOOD = (DIGITS_MODELS / "logistic-regression.toml").read_text(encoding="utf-8")


def spec_file(tmp_path: Path, text: str) -> Path:
    """A spec beside a copy of the digits ONNX file, so relative paths resolve."""
    shutil.copy(DIGITS_MODELS / "logistic-regression.onnx", tmp_path / "logistic-regression.onnx")
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_with(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def problems(path: Path) -> list[str]:
    with pytest.raises(ModelSpecError) as caught:
        load_spec(path)
    return [str(p) for p in caught.value.problems]


def test_bundled_specs_load() -> None:
    for path in sorted(BUNDLED_PROTOCOLS.glob("*/models/*.toml")):
        assert load_spec(path).name == path.stem


def test_missing_weights_file(tmp_path: Path) -> None:
    path = spec_file(tmp_path, GOOD.replace('file = "logistic-regression.onnx"', 'file = "missing.onnx"'))
    [problem] = problems(path)
    assert problem.startswith(f"{path}:{line_with(path, 'missing.onnx')} [weights.file]: file not found")


def test_weights_that_do_not_match_their_hash(tmp_path: Path) -> None:
    path = spec_file(tmp_path, re.sub(r'sha256 = "[0-9a-f]+"', 'sha256 = "' + "0" * 64 + '"', GOOD))
    [problem] = problems(path)
    assert "[weights.sha256]" in problem and "wrong or changed weights file" in problem


def test_unknown_keys_suggest_the_right_one(tmp_path: Path) -> None:
    path = spec_file(tmp_path, GOOD.replace("resize = 8", "resize = 8\ncrop_size = 8").replace("top_k = 3", "top_k = 3\ncolor = 1"))
    found = problems(path)
    assert any(f":{line_with(path, 'crop_size')} [preprocess.crop_size]: unknown key 'crop_size'; did you mean 'crop'?" in p for p in found)
    assert any("[color]: unknown key 'color'" in p for p in found)


def test_crop_that_contradicts_the_input_size(tmp_path: Path) -> None:
    path = spec_file(tmp_path, GOOD.replace("resize = 8", "resize = 8\ncrop = 6"))
    [problem] = problems(path)
    assert f":{line_with(path, 'input_size')} [preprocess.input_size]: wrong input size: crop [6, 6]" in problem


def test_input_size_the_model_does_not_take(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = spec_file(tmp_path, GOOD.replace("input_size = [8, 8]", "input_size = [8, 9]").replace("resize = 8", "resize = 9\ncrop = [8, 9]"))
    with pytest.raises(ModelSpecError) as caught:
        predict_study(load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False)
    assert f"model.toml:{line_with(path, 'input_size')} [preprocess.input_size]: wrong input size: the model takes (64,)" in str(caught.value)


def test_labels_the_study_does_not_know(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# digits\n" + "\n".join(f"digit-{d}" for d in range(9)) + "\ndigit-X\n", encoding="utf-8")
    path = spec_file(tmp_path, GOOD.replace('from = "study"', 'file = "ids.txt"'))
    with pytest.raises(ModelSpecError) as caught:
        predict_study(load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False)
    assert f"{ids}:11 [labels.file]: output 9 is 'digit-X', which is not in the study's label set" in str(caught.value)


def test_label_count_that_does_not_match_the_outputs(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "ids.txt").write_text("\n".join(f"digit-{d}" for d in range(9)), encoding="utf-8")
    path = spec_file(tmp_path, GOOD.replace('from = "study"', 'file = "ids.txt"'))
    with pytest.raises(ModelSpecError, match=r"\[labels\]: the model gives outputs of shape \(10,\) per image, but the labels name 9"):
        predict_study(load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False)


def test_code_references_outside_model_packages_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace('format = "onnx"\nfile = "logistic-regression.onnx"', 'format = "pytorch-state-dict"\npackage = "os"\nlocate = "getcwd"\narchitecture = "os:system"')
    path = spec_file(tmp_path, text)
    found = problems(path)
    assert any("[weights.locate]" in p and "'os:getcwd' is not a known weights package" in p for p in found)
    assert any("[weights.architecture]" in p and "'os:system' is not an allowed architecture" in p for p in found)


def test_syntax_errors_and_missing_tables(tmp_path: Path) -> None:
    assert "TOML syntax error" in problems(spec_file(tmp_path, "format = 1\nname = \n"))[0]
    found = problems(spec_file(tmp_path, 'format = 1\nname = "x"\n'))
    assert {"missing required key 'weights'", "missing required key 'labels'"} <= {p.split(": ", 1)[1] for p in found}


def test_unknown_spec_name_lists_the_bundled_ones() -> None:
    with pytest.raises(StudyError, match="bundled: .*efficientnet-lite0.*knn-5"):
        find_spec("resnet-9000")

"""Bad model specs get errors that name the file, the line and the field."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from study_app.errors import StudyError
from study_app.models import ModelSpecError, find_spec, load_spec, predict_study
from study_app.protocol.study import BUNDLED_PROTOCOLS, Study, load_study

ROOT = Path(__file__).resolve().parents[2]

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
    path = spec_file(
        tmp_path, GOOD.replace("resize = 8", "resize = 8\ncrop_size = 8").replace("top_k = 3", "top_k = 3\ncolor = 1")
    )
    found = problems(path)
    assert any(
        f":{line_with(path, 'crop_size')} [preprocess.crop_size]: unknown key 'crop_size'; did you mean 'crop'?" in p
        for p in found
    )
    assert any("[color]: unknown key 'color'" in p for p in found)


def test_crop_that_contradicts_the_input_size(tmp_path: Path) -> None:
    path = spec_file(tmp_path, GOOD.replace("resize = 8", "resize = 8\ncrop = 6"))
    [problem] = problems(path)
    assert f":{line_with(path, 'input_size')} [preprocess.input_size]: wrong input size: crop [6, 6]" in problem


def test_input_size_the_model_does_not_take(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = spec_file(
        tmp_path,
        GOOD.replace("input_size = [8, 8]", "input_size = [8, 9]").replace("resize = 8", "resize = 9\ncrop = [8, 9]"),
    )
    with pytest.raises(ModelSpecError) as caught:
        predict_study(
            load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False
        )
    assert (
        f"model.toml:{line_with(path, 'input_size')} [preprocess.input_size]: wrong input size: the model takes (64,)"
        in str(caught.value)
    )


def test_labels_the_study_does_not_know(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# digits\n" + "\n".join(f"digit-{d}" for d in range(9)) + "\ndigit-X\n", encoding="utf-8")
    path = spec_file(tmp_path, GOOD.replace('from = "study"', 'file = "ids.txt"'))
    with pytest.raises(ModelSpecError) as caught:
        predict_study(
            load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False
        )
    assert f"{ids}:11 [labels.file]: output 9 is 'digit-X', which is not in the study's label set" in str(caught.value)


def test_label_count_that_does_not_match_the_outputs(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "ids.txt").write_text("\n".join(f"digit-{d}" for d in range(9)), encoding="utf-8")
    path = spec_file(tmp_path, GOOD.replace('from = "study"', 'file = "ids.txt"'))
    with pytest.raises(
        ModelSpecError, match=r"\[labels\]: the model gives outputs of shape \(10,\) per image, but the labels name 9"
    ):
        predict_study(
            load_study("demo-digits", check_images=False), load_spec(path), tmp_path / "out.csv", progress=False
        )


def test_code_references_outside_model_packages_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        'format = "onnx"\nfile = "logistic-regression.onnx"',
        'format = "pytorch-state-dict"\npackage = "os"\nlocate = "getcwd"\narchitecture = "os:system"',
    )
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


# --- every number in a spec has a documented range (review of issue #27, finding 8) ---

KNN = (DIGITS_MODELS / "knn-5.toml").read_text(encoding="utf-8")


def knn_spec(folder: Path, text: str) -> Path:
    """A copy of the bundled knn-5 spec (its ONNX file beside it) with ``text`` as the spec."""
    folder.mkdir(exist_ok=True)
    if not (folder / "knn-5.onnx").exists():
        shutil.copy(DIGITS_MODELS / "knn-5.onnx", folder / "knn-5.onnx")
    path = folder / "knn-5.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "old, new, field, expected",
    [
        (
            "resize = 8",
            "resize = 2000000000",
            "preprocess.resize",
            "resize must be between 1 and 2,048 (pixels per side of the model's input), not 2000000000",
        ),
        (
            "std = [255.0]",
            "std = [nan]",
            "preprocess.std",
            "std must be between 0.01 and 1,000 (255 maps pixel values 0..255 to 0..1), not [nan]",
        ),
        ("std = [255.0]", "std = 0", "preprocess.std", "not 0"),
        ("std = [255.0]", "std = -255", "preprocess.std", "not -255"),
        (
            "mean = [0.0]",
            "mean = inf",
            "preprocess.mean",
            "mean must be between 0 and 255 (pixel values are 0..255), not inf",
        ),
        ("mean = [0.0]", "mean = [1e300]", "preprocess.mean", "not [1e+300]"),
        (
            "input_size = [8, 8]",
            "input_size = [100000, 8]",
            "preprocess.input_size",
            "input_size must be between 1 and 2,048",
        ),
        ("input_size = [8, 8]", "input_size = [0, 8]", "preprocess.input_size", "not [0, 8]"),
        ("resize = 8", "resize = 8\ncrop = 9999", "preprocess.crop", "crop must be between 1 and 2,048"),
        ("levels = 16", "levels = 256", "preprocess.levels", "levels must be between 1 and 255, not 256"),
        ("top_k = 3", "top_k = 11", "top_k", "top_k must be between 1 and 10, not 11"),
        (
            "resize = 8",
            "resize = 9",
            "preprocess.resize",
            "resizing the short side to 9 cannot give input_size [8, 8]; set resize = 8 or add a crop",
        ),
    ],
    ids=[
        "resize-2e9",
        "std-nan",
        "std-0",
        "std-negative",
        "mean-inf",
        "mean-1e300",
        "input-100000",
        "input-0",
        "crop-9999",
        "levels-256",
        "top-k-11",
        "resize-without-crop",
    ],
)
def test_a_spec_number_out_of_its_range_is_refused_with_line_field_and_range(
    tmp_path: Path, old: str, new: str, field: str, expected: str
) -> None:
    assert old in KNN
    path = knn_spec(tmp_path, KNN.replace(old, new))
    with pytest.raises(ModelSpecError) as caught:
        load_spec(path)
    [problem] = caught.value.problems
    assert problem.file == str(path) and problem.field == field and expected in problem.message
    assert problem.line == line_with(path, new.splitlines()[-1])


def test_the_review_spec_with_a_huge_resize_is_a_message_not_a_memory_error(tmp_path: Path) -> None:
    """The review's reproduction: ``resize = 2000000000`` ended in Pillow's MemoryError."""
    path = knn_spec(tmp_path / "models", KNN.replace("resize = 8", "resize = 2000000000"))
    out = tmp_path / "out.csv"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "predict",
            "--study",
            "demo-digits",
            "--model",
            str(path),
            "--out",
            str(out),
            "--no-progress",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        f"{path}:{line_with(path, 'resize = ')} [preprocess.resize]: resize must be between 1 and 2,048" in done.stderr
    )
    assert not out.exists()


NASTY = [
    0,
    -1,
    1,
    2,
    3,
    8,
    10,
    11,
    16,
    255,
    256,
    0.5,
    0.01,
    0.001,
    -0.0,
    1000,
    1001,
    2048,
    2049,
    2**31,
    2**63,
    10**30,
    1e300,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
]
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 300),
    st.floats(0, 300),
)
#: Where each number goes in knn-5.toml. ``size`` sets input_size, resize and crop together,
#: since they are checked against each other (and against the model's input when it runs).
NUMERIC_KEYS = {
    "top_k": lambda text, v: text.replace("top_k = 3", f"top_k = {v}"),
    "levels": lambda text, v: text.replace("levels = 16", f"levels = {v}"),
    "mean": lambda text, v: text.replace("mean = [0.0]", f"mean = [{v}]"),
    "std": lambda text, v: text.replace("std = [255.0]", f"std = {v}"),
    "size": lambda text, v: text.replace("input_size = [8, 8]", f"input_size = [{v}, {v}]").replace(
        "resize = 8", f"resize = {v}\ncrop = {v}"
    ),
    "resize": lambda text, v: text.replace("resize = 8", f"resize = {v}"),
    "crop": lambda text, v: text.replace("resize = 8", f"resize = 8\ncrop = [8, {v}]"),
}
NAMED_BY = {"size": ("input_size", "resize", "crop"), "resize": ("resize",), "crop": ("input_size", "crop")}


def _toml(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)


@pytest.fixture(scope="module")
def few_digits() -> Study:
    """demo-digits with its first 6 images: enough for a real run, quick enough for a property test."""
    study = load_study("demo-digits", check_images=False)
    return dataclasses.replace(study, images={i: study.images[i] for i in sorted(study.images)[:6]})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(NUMERIC_KEYS)), value=VALUES)
def test_any_spec_number_is_refused_naming_its_field_or_predict_runs(
    tmp_path_factory, few_digits: Study, key: str, value: int | float
) -> None:
    """Property: for any value of any number of a spec, the spec is refused naming the field
    (when it is loaded, or when the model's input is compared with it), or predict runs
    through and writes finite scores."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("spec")
    path = knn_spec(folder, NUMERIC_KEYS[key](KNN, _toml(value)))
    named = {f"preprocess.{k}" for k in NAMED_BY.get(key, (key,))} | {key}
    try:
        spec = load_spec(path)
        out = folder / "out.csv"
        predict_study(few_digits, spec, out, progress=False, workers=1)
    except ModelSpecError as refused:
        assert named & {p.field for p in refused.problems}, [str(p) for p in refused.problems]
        event("refused")
        return
    event("ran")
    first = few_digits.images[min(few_digits.images)].path
    assert np.isfinite(spec.preprocess.load(first)).all()  # the model saw numbers, not nan or inf
    table = pd.read_csv(out)
    assert len(table) == len(few_digits.images) * spec.top_k
    assert table["score"].between(0, 1).all()


# --- a spec reads only files in its own folder (review of issue #27, finding 9) ---


@pytest.mark.parametrize("key", ["labels.file", "weights.file"])
@pytest.mark.parametrize("reference", ["absolute", "dot-dot", "link-out", "home"])
def test_a_spec_reads_no_file_outside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, reference: str
) -> None:
    """The review's ``[labels] file = "/…/.pgpass"`` printed the password as an unknown label id."""
    monkeypatch.setenv("HOME", str(tmp_path))  # so "~/.pgpass" names the planted secret
    secret = tmp_path / ".pgpass"
    secret.write_text("localhost:5432:lab:study:SECRETPW\n", encoding="utf-8")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "link.txt").symlink_to(secret)
    name = {"absolute": str(secret), "dot-dot": "../.pgpass", "link-out": "link.txt", "home": "~/.pgpass"}[reference]
    text = (
        KNN.replace('from = "study"', f'file = "{name}"')
        if key == "labels.file"
        else KNN.replace('file = "knn-5.onnx"', f'file = "{name}"')
    )
    path = knn_spec(folder, text)
    with pytest.raises(ModelSpecError) as caught:
        load_spec(path)
    [problem] = caught.value.problems
    assert problem.field == key and problem.line == line_with(path, f'file = "{name}"')
    expected = (
        "file not found" if reference == "home" else "a spec reads only files in its own folder"
    )  # "~" is a folder name here
    assert expected in problem.message and "SECRETPW" not in str(caught.value)


def test_label_and_weights_files_in_the_spec_folder_and_below_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    (folder / "data").mkdir(parents=True)
    shutil.copy(DIGITS_MODELS / "knn-5.onnx", folder / "data" / "knn-5.onnx")
    (folder / "data" / "ids.txt").write_text("\n".join(f"digit-{d}" for d in range(10)) + "\n", encoding="utf-8")
    (folder / "ids-link.txt").symlink_to(folder / "data" / "ids.txt")  # a link that stays inside is fine
    spec = load_spec(
        knn_spec(
            folder,
            KNN.replace('file = "knn-5.onnx"', 'file = "data/knn-5.onnx"').replace(
                'from = "study"', 'file = "ids-link.txt"'
            ),
        )
    )
    assert spec.weights.path == (folder / "data" / "knn-5.onnx").resolve() and spec.labels.ids == tuple(
        f"digit-{d}" for d in range(10)
    )

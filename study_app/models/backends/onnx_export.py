"""PyTorch -> ONNX, once per model, cached in the user's cache folder.

Exporting takes seconds and needs torch; running the cached file needs neither. The file
name holds the weights' SHA-256 and a hash of everything else that shapes the graph
(format, architecture, arguments, input shape, torch version), so changed weights or a
changed spec never reuse a stale export. It is written through :mod:`study_app.io.output_guard`
(a temporary file, renamed), so a crash or two runs at once never leave a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from study_app.caches.files import cache_root
from study_app.errors import ModelRunError
from study_app.io.output_guard import replacing
from study_app.models.backends.common import require, torch_module
from study_app.models.spec import ModelSpec

OPSET = 17


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/study-app/models``: exported models are kept even when the start-up
    caches are switched off (``STUDY_APP_NO_CACHE``), since running a model needs its file."""
    return cache_root() / "models"


def onnx_file(spec: ModelSpec) -> Path:
    """The spec's own ``.onnx`` file, or the cached export of its PyTorch model."""
    if spec.weights.format == "onnx":
        return spec.weights.path
    torch = require("torch", f"exporting {spec.name} to ONNX (once; then cached)")
    graph = {
        "format": spec.weights.format,
        "architecture": spec.weights.architecture,
        "arguments": list(spec.weights.arguments),
        **({"code_sha256": spec.weights.code.sha256} if spec.weights.code else {}),  # a changed builder file
        "input_shape": list(spec.preprocess.input_shape()),
        "torch": torch.__version__,
        "opset": OPSET,
    }
    graph_hash = hashlib.sha256(json.dumps(graph, sort_keys=True).encode()).hexdigest()
    target = cache_dir() / f"{spec.name}-{spec.weights.sha256[:16]}-{graph_hash[:16]}.onnx"
    if not target.is_file():
        _export(spec, target)
    return target


def _export(spec: ModelSpec, target: Path) -> None:
    import torch

    module = torch_module(spec)
    example = torch.zeros((1, *spec.preprocess.input_shape()))
    try:
        with replacing(target) as (temporary,), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's notes are not the user's business
            torch.onnx.export(
                module,
                (example,),
                str(temporary),
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:
        raise ModelRunError(f"exporting {spec.name} to ONNX failed ({exc}); try --backend torch") from None

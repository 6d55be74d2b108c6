"""What the runtimes share: the :class:`Backend` protocol the runner drives, opening the
chosen runtime with a spec's model (:func:`open_backend`), a spec's PyTorch network (also
what the ONNX export starts from) and importing an optional dependency with a hint how to
install it (:func:`require`).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from study_app.errors import ModelRunError, ModelSpecError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from study_app.models.spec import ModelSpec

BACKENDS = ("onnxruntime", "torch")
DEVICES = ("cpu", "cuda")


class Backend(Protocol):
    """What the runner needs of a runtime."""

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """Declared shape of one input without the batch axis (``None`` entries: any size),
        or ``None`` when the runtime does not declare one."""
        ...

    def run(self, batch: np.ndarray, softmax: bool) -> np.ndarray:
        """Outputs (N, outputs) for a float32 batch, with the softmax done by this runtime.

        Each framework computes softmax to slightly different last bits; doing it in the
        framework that made the logits lets ``--backend torch`` reproduce a plain
        PyTorch script's probabilities bit for bit.
        """
        ...

    def describe(self) -> dict:
        """Runtime, versions and device, for the provenance file."""
        ...


def require(module: str, purpose: str, install: str = "-e '.[models]'") -> ModuleType:
    """Import an optional dependency or say how to install it (``pip install <install>``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModelRunError(
            f"{purpose} needs the Python package {module!r}; install it with: pip install {install}"
        ) from None


def open_backend(spec: ModelSpec, backend: str, device: str) -> Backend:
    """The chosen runtime loaded with the spec's model on ``device``."""
    if backend == "onnxruntime":
        from study_app.models.backends.onnx_backend import OnnxBackend
        from study_app.models.backends.onnx_export import onnx_file

        return OnnxBackend(onnx_file(spec), spec.output_name, device)
    if spec.weights.format == "onnx":
        raise ModelRunError(f"{spec.name}: ONNX weights run only with --backend onnxruntime")
    from study_app.models.backends.torch_backend import TorchBackend

    return TorchBackend(torch_module(spec), device)


def torch_module(spec: ModelSpec) -> torch.nn.Module:
    """The spec's PyTorch network with its weights loaded, eval mode, on the CPU."""
    from study_app.models.spec import refuse_untrusted_code, spec_problem
    from study_app.models.weights import WeightsFileError, load_torch_module

    require("torch", f"running {spec.name} with PyTorch")
    refuse_untrusted_code(spec)
    try:
        return load_torch_module(spec.weights)
    except WeightsFileError as exc:
        field = "file" if spec.weights.origin == "file" else "locate"
        raise ModelSpecError([spec_problem(spec, str(exc), "weights", field)], spec.path) from None
    except ValueError as exc:
        raise ModelSpecError([spec_problem(spec, str(exc), "weights", "architecture")], spec.path) from None

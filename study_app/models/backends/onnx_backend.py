"""onnxruntime: the default runtime (CPU, or CUDA when onnxruntime-gpu provides it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from study_app.errors import ModelRunError
from study_app.models.backends.common import require
from study_app.models.scores import softmax as softmax_rows

_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


class OnnxBackend:
    """One inference session with a single input and the chosen output."""

    def __init__(self, model: Path, output_name: str | None, device: str) -> None:
        ort = require("onnxruntime", "--backend onnxruntime")
        self.version = ort.__version__
        self.model = model
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ModelRunError(
                    "--device cuda: this onnxruntime has no CUDA provider; install onnxruntime-gpu or use --device cpu"
                )
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(model), providers=providers)
        except Exception as exc:  # onnxruntime raises its own unexported exception classes
            raise ModelRunError(f"{model}: onnxruntime cannot load this model: {exc}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].type not in _DTYPES:
            found = ", ".join(f"{i.name} {i.type}" for i in inputs)
            raise ModelRunError(f"{model}: expected one float tensor input, found {found or 'none'}")
        self.input_name = inputs[0].name
        self.dtype = _DTYPES[inputs[0].type]
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape[1:])
        names = [o.name for o in self.session.get_outputs()]
        if output_name is not None and output_name not in names:
            raise ModelRunError(
                f"{model}: no output named {output_name!r} (outputs: {', '.join(names)}); fix [output] name in the spec"
            )
        self.output_name = output_name or names[0]

    def run(self, batch: np.ndarray, softmax: bool) -> np.ndarray:
        outputs = self.session.run([self.output_name], {self.input_name: batch.astype(self.dtype, copy=False)})[0]
        return softmax_rows(outputs) if softmax else outputs

    def describe(self) -> dict:
        return {
            "backend": "onnxruntime",
            "onnxruntime_version": self.version,
            "providers": self.session.get_providers(),
            "onnx_file": str(self.model),
            "input_dtype": np.dtype(self.dtype).name,
            "output": self.output_name,
        }

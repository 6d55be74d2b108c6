"""PyTorch eager mode on the CPU or a CUDA device."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from study_app.errors import ModelRunError

if TYPE_CHECKING:
    import torch


class TorchBackend:
    """An eval-mode module; inputs are copied to the device, outputs back as float32."""

    input_shape = None

    def __init__(self, module: torch.nn.Module, device: str) -> None:
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise ModelRunError("--device cuda: PyTorch sees no CUDA device here; use --device cpu")
        self.torch = torch
        self.device = torch.device(device)
        self.module = module.to(self.device)

    def run(self, batch: np.ndarray, softmax: bool) -> np.ndarray:
        with self.torch.inference_mode():
            out = self.module(self.torch.from_numpy(batch).to(self.device))
            if not isinstance(out, self.torch.Tensor):
                raise ModelRunError(
                    f"the model returned {type(out).__name__}; the torch backend needs one output tensor"
                )
            if softmax and out.ndim == 2:
                out = self.torch.softmax(out, dim=1)
        return out.float().cpu().numpy()

    def describe(self) -> dict:
        torch = self.torch
        info = {"backend": "torch", "torch_version": torch.__version__, "threads": torch.get_num_threads()}
        if self.device.type == "cuda":
            info["cuda_device"] = torch.cuda.get_device_name(self.device)
        return info

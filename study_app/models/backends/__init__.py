"""Runtimes that turn a batch of inputs into a batch of raw outputs.

onnxruntime is the default: on a CPU it runs these networks several times faster than
PyTorch eager mode, and the same ``.onnx`` file runs wherever onnxruntime does. PyTorch
runs state dicts and TorchScript directly (and checks the export). Both are optional
dependencies, imported only when chosen: :mod:`.onnx_backend`, :mod:`.onnx_export` and
:mod:`.torch_backend` load only from :func:`open_backend`; what they share is in :mod:`.common`.
"""

from study_app.models.backends.common import BACKENDS, DEVICES, Backend, open_backend, require

__all__ = ["BACKENDS", "DEVICES", "Backend", "open_backend", "require"]

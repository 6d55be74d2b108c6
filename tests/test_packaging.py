"""A non-editable install as a user gets it: the wheel is built with pip, installed into a
folder of its own and run from an empty working directory.

The bundled studies are package data (``study_app/protocols/``); before they were, a
``pip install .`` found no bundled study because they sat beside the package. An editable
install or a run from the repository cannot show that, so these tests import only the
installed copy (``PYTHONPATH`` names nothing else; the venv still provides the dependencies).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import study_app.web
from study_app.protocol.study import BUNDLED_PROTOCOLS
from study_app.store import ResultsStore, answers_frame

ROOT = Path(__file__).resolve().parents[1]
#: What setuptools reads to build the wheel (pyproject names README.md as the long description).
SOURCES = ("pyproject.toml", "README.md", "study_app")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    site: Path


def pip(*args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, and the folder it was installed into with ``pip install --target``.

    It is built from a copy of the sources: building in the repository would leave
    ``build/`` there, whose leftovers (a module since removed) setuptools puts into the next wheel.
    """
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source))
    (wheel,) = wheels.glob("*.whl")
    site = tmp_path_factory.mktemp("site")
    pip("install", "--no-deps", "-q", "--target", str(site), str(wheel))
    return Installed(wheel, site)


def _read(wheel_path: Path, prefix: str) -> dict[str, bytes]:
    """The wheel's files under ``prefix`` (names as in the wheel)."""
    with zipfile.ZipFile(wheel_path) as wheel:
        return {name: wheel.read(name) for name in wheel.namelist() if name.startswith(prefix)}


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_wheel_carries_every_file_of_the_bundled_studies(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        prefix = "study_app/protocols/"
        shipped = {name[len(prefix) :]: wheel.read(name) for name in names if name.startswith(prefix)}
    bundled = files_under(BUNDLED_PROTOCOLS)
    assert {"demo-digits/study.toml", "demo-imagenet/study.toml", "demo-imagenet/LICENSE-WordNet.txt"} <= set(bundled)
    assert any(name.endswith(".onnx") for name in bundled) and any(name.endswith(".png") for name in bundled)
    # images, CSVs, ONNX models, READMEs and licences: all of them, byte for byte
    assert sorted(shipped) == sorted(bundled)
    assert shipped == bundled
    assert "study_app/__main__.py" in names
    # the browser page that `serve` sends, every file of it
    prefix = "study_app/web/static/"
    static = {name.removeprefix(prefix): content for name, content in _read(installed.wheel, prefix).items()}
    assert {"trial.html", "trial.js", "start.html", "style.css", "mask.png"} <= set(static)
    assert static == files_under(Path(study_app.web.__file__).parent / "static")
    # only the package and its metadata: no tests, tools or benchmarks
    assert {name.split("/")[0] for name in names} == {"study_app", f"{installed.wheel.name.split('-py')[0]}.dist-info"}


def test_installed_wheel_runs_the_bundled_study_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed.site), "QT_QPA_PLATFORM": "offscreen"}
    package_files = files_under(installed.site / "study_app" / "protocols")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), cwd=empty, capture_output=True, text=True, timeout=300, env=env)

    validated = run(sys.executable, "-m", "study_app", "validate", "--study", "demo-digits")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "OK: no problems found" in validated.stdout
    # the installed copy of the study, not the repository's
    assert f"folder: {installed.site / 'study_app' / 'protocols' / 'demo-digits'}" in validated.stdout

    # the console script that pip wrote, as a user runs it after `pip install .`
    script = installed.site / "bin" / "study-app"
    simulated = run(str(script), "simulate", "--study", "demo-digits", "--annotators", "2")
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert "2 simulated annotator(s)" in simulated.stdout
    # the hints name the command the user typed, not a main.py the installed package lacks
    assert "next: study-app compare --study demo-digits" in simulated.stdout
    usage = run(sys.executable, "-m", "study_app", "--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: python -m study_app"), usage.stdout

    store = empty / "results" / "demo-digits" / "pilot.sqlite"
    written = sorted(p.relative_to(empty).as_posix() for p in empty.rglob("*") if p.is_file())
    assert written == ["results/demo-digits/pilot.sqlite"]
    with ResultsStore(store, readonly=True) as opened:
        answers = answers_frame(opened)
    assert answers["annotator"].nunique() == 2
    assert len(answers.drop_duplicates(["annotator", "phase", "trial"])) == 2 * (30 + 200)  # both phases, every trial
    # nothing is written into the installed package (site-packages may be read-only)
    assert files_under(installed.site / "study_app" / "protocols") == package_files

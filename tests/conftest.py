"""Shared fixtures: small real study folders in temporary directories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Property tests draw the same examples on every run, so that a red run can be rerun and a
# green CI run is not luck; HYPOTHESIS_PROFILE=explore draws new ones (and remembers failures).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

from study_app.protocol.study import BUNDLED_PROTOCOLS  # noqa: E402
from tests.factory import make_study  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """XDG_CACHE_HOME for the whole test session (inherited by subprocesses): the tests'
    thumbnails, validations and exported models never land in the user's cache folder."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
def tiny_study(tmp_path: Path) -> Path:
    """A valid 4-class study with real PNG images, two phases and a predictions file."""
    return make_study(tmp_path / "tiny")


@pytest.fixture
def demo_imagenet_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled demo-imagenet protocol."""
    target = tmp_path / "demo-imagenet"
    shutil.copytree(BUNDLED_PROTOCOLS / "demo-imagenet", target)
    return target

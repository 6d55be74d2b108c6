"""Every cache test gets its own empty cache folder (``XDG_CACHE_HOME``), caches switched on."""

from __future__ import annotations

from pathlib import Path

import pytest

from study_app.caches.files import NO_CACHE_VARIABLE


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(NO_CACHE_VARIABLE, raising=False)
    return home / "study-app"

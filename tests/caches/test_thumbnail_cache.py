"""Example thumbnails on disk: made once, read back by the next window, rebuilt when damaged."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt5.QtCore import QSettings

from study_app.caches.thumbnails import ThumbnailCache
from study_app.gui.examples_pane import THUMBNAIL
from study_app.gui.image_loader import ImageLoader, make_thumbnail
from study_app.gui.main_window import AnnotationWindow
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from tests.factory import make_study


@pytest.fixture
def study(tmp_path: Path):
    return load_study(make_study(tmp_path / "tiny"))


def open_window(qtbot, study, store: ResultsStore, annotator: str, folder: Path) -> AnnotationWindow:
    controller = SessionController(study, store, annotator, force_new=True)
    window = AnnotationWindow(controller, QSettings(str(folder / f"{annotator}.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    return window


def show_examples(qtbot, window: AnnotationWindow, label_id: str):
    pane = window.trial.picker.examples
    pane.show_class(label_id)
    qtbot.waitUntil(lambda: pane.count() == 2 and pane.loaded_count() == 2, timeout=10_000)
    return pane


def thumbnail_files(cache_home: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (cache_home / "thumbnails").rglob("*.thumb")}


def test_second_window_reads_the_thumbnails_the_first_one_made(qtbot, study, tmp_path, cache_home):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        first = open_window(qtbot, study, store, "a", tmp_path)
        show_examples(qtbot, first, "cat")
        made = thumbnail_files(cache_home)
        assert len(made) == 2
        first.close()
        second = open_window(qtbot, study, store, "b", tmp_path)
        assert second.thumbnails is not first.thumbnails
        show_examples(qtbot, second, "cat")
        assert thumbnail_files(cache_home) == made  # read back, not decoded and written again
        second.close()


def test_cached_thumbnail_equals_a_fresh_one(study, cache_home):
    source = study.labels.examples["dog"][0]
    disk = ThumbnailCache()
    fresh = make_thumbnail(source, THUMBNAIL, study.max_pixels)
    target = disk.file_for(source, THUMBNAIL)
    disk.store(target, fresh)
    assert disk.load(target, THUMBNAIL).tobytes() == fresh.tobytes()  # few colours: kept lossless (PNG)


def test_a_damaged_thumbnail_is_made_again(qtbot, study, tmp_path, cache_home):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        window = open_window(qtbot, study, store, "a", tmp_path)
        show_examples(qtbot, window, "bus")
        window.close()
        damaged = sorted(thumbnail_files(cache_home))[0]
        damaged.write_bytes(b"\x89PNG not really")
        again = open_window(qtbot, study, store, "b", tmp_path)
        show_examples(qtbot, again, "bus")
        assert ThumbnailCache().load(damaged, THUMBNAIL) is not None
        again.close()


def test_a_changed_example_gets_a_new_thumbnail(study, cache_home):
    source = study.labels.examples["car"][0]
    disk = ThumbnailCache()
    before = disk.file_for(source, THUMBNAIL)
    source.write_bytes(study.labels.examples["cat"][0].read_bytes())
    assert disk.file_for(source, THUMBNAIL) != before


def test_prebuild_fills_the_disk_cache_in_the_background(qtbot, study, cache_home):
    loader = ImageLoader(1 << 20, study.max_pixels)
    paths = [path for label in study.labels.classes for path in study.labels.examples[label.label_id]]
    thread = loader.prebuild(paths, THUMBNAIL)
    thread.join(timeout=30)
    assert not thread.is_alive()
    disk = ThumbnailCache()
    assert all(disk.load(disk.file_for(path, THUMBNAIL), THUMBNAIL) is not None for path in paths)
    assert loader.prebuild(paths, THUMBNAIL) is thread  # once per loader


def test_no_thumbnails_on_disk_when_caches_are_off(qtbot, study, tmp_path, cache_home, monkeypatch):
    monkeypatch.setenv("STUDY_APP_NO_CACHE", "1")
    with ResultsStore(tmp_path / "results.sqlite") as store:
        window = open_window(qtbot, study, store, "a", tmp_path)
        show_examples(qtbot, window, "cat")
        assert window.thumbnails.prebuild([], THUMBNAIL) is None
        window.close()
    assert not (cache_home / "thumbnails").exists()


def test_the_first_trial_on_screen_starts_the_prebuild(qtbot, study, tmp_path, cache_home):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        window = open_window(qtbot, study, store, "a", tmp_path)
        assert not window.thumbnails.prebuild_requested  # not while the instructions are read

        def on_trial() -> bool:
            page = window.pages.currentWidget()
            if page is not window.trial:
                page.continued.emit()
            return window.trial.picker.isVisible()

        qtbot.waitUntil(on_trial, timeout=10_000)
        qtbot.waitUntil(lambda: window.thumbnails.prebuild_requested, timeout=10_000)
        window.thumbnails.prebuild([], THUMBNAIL).join(timeout=30)  # the running thread (it acts once)
        disk = ThumbnailCache()
        paths = [path for label in study.labels.classes for path in study.labels.examples[label.label_id]]
        assert all(disk.file_for(path, THUMBNAIL).is_file() for path in paths)
        window.close()

"""The checked study kept between starts, and the checks a session leaves to the background.

Real study folders, real image files (a PNG cut short keeps a valid header and hash but
does not decode), real cache files; the background check runs on the calling thread.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from study_app.caches.validation import ValidationCache
from study_app.errors import ImageError, ProtocolError
from study_app.io.images import load_image
from study_app.protocol.study import load_study
from study_app.session.study_cache import _snapshot_path, load_study_for_session, read_snapshot
from tests.factory import make_study


def aged(folder: Path) -> Path:
    """Files last modified a minute ago (a snapshot is never made of files modified just now)."""
    then = time.time() - 60
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))
    return folder


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    return aged(make_study(tmp_path / "tiny"))


def trial_ids(study) -> set[str]:
    return {i for phase in study.phases for i in phase.image_ids}


def run_check(check) -> None:
    check.run(threading.Event())


def cut_short(path: Path) -> None:
    """A PNG whose header is intact but whose pixels are missing: hashes fine, cannot decode."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_first_start_hashes_only_and_the_background_decodes_the_rest(study_dir):
    study, check = load_study_for_session(study_dir)
    assert study.undecoded == trial_ids(study) and not check.verify_files
    run_check(check)
    assert check.done and not check.broken
    cache = ValidationCache(study_dir)
    assert all(cache.decoded(str(study.images[i].path)) for i in trial_ids(study))
    again, second = load_study_for_session(study_dir)
    assert second.verify_files  # taken from the snapshot ...
    assert again.undecoded == frozenset()  # ... which the finished check rewrote
    assert again.protocol_hash == study.protocol_hash == load_study(study_dir).protocol_hash
    assert again.images[sorted(trial_ids(study))[0]] == study.images[sorted(trial_ids(study))[0]]
    assert dict(again.labels.examples) == dict(study.labels.examples)
    run_check(second)
    assert second.done and not second.changed


def test_any_changed_study_file_means_a_full_check(study_dir):
    load_study_for_session(study_dir)
    assert read_snapshot(study_dir) is not None
    manifest = study_dir / "manifest.csv"
    manifest.write_bytes(manifest.read_bytes())  # same bytes, a new modification time
    assert read_snapshot(study_dir) is None
    study, check = load_study_for_session(study_dir)
    assert not check.verify_files and study.name == "tiny"


def test_a_file_edited_while_it_was_read_is_never_kept_in_a_snapshot(tmp_path):
    fresh = make_study(tmp_path / "fresh")  # written just now: within the timestamp margin
    load_study_for_session(fresh)
    assert read_snapshot(fresh) is None


@pytest.mark.parametrize("damage", ["bytes", "program", "group-writable"])
def test_a_damaged_foreign_or_outdated_snapshot_is_not_used(study_dir, damage):
    load_study_for_session(study_dir)
    path = _snapshot_path(study_dir)
    if damage == "bytes":
        path.write_bytes(b"\x80\x05not a pickle")
    elif damage == "program":
        payload = pickle.loads(path.read_bytes())
        payload["program"] = "0.0.1"
        path.write_bytes(pickle.dumps(payload))
    else:
        path.chmod(0o664)
    assert read_snapshot(study_dir) is None
    study, check = load_study_for_session(study_dir)
    assert not check.verify_files and study.name == "tiny"


def test_an_image_that_does_not_decode_is_found_in_the_background_and_refused_at_the_next_start(study_dir):
    first = load_study(study_dir)  # validated once, as a researcher does
    image_id = sorted(i for i, r in first.images.items() if r.split == "test")[0]
    cut_short(first.images[image_id].path)
    study, check = load_study_for_session(study_dir)  # hashed only: the session starts
    assert image_id in study.undecoded
    run_check(check)
    assert check.broken == [str(first.images[image_id].path)] and read_snapshot(study_dir) is None
    with pytest.raises(ProtocolError) as caught:
        load_study_for_session(study_dir)
    (problem,) = caught.value.problems
    assert problem.file == "manifest.csv" and problem.line and "truncated" in problem.message
    with pytest.raises(ProtocolError, match="truncated"):
        load_study(study_dir)  # validate says so too, from the cache


def test_an_image_replaced_after_the_snapshot_is_refused_when_shown_and_drops_the_snapshot(study_dir):
    study, check = load_study_for_session(study_dir)
    run_check(check)
    again, check = load_study_for_session(study_dir)
    record = again.images[sorted(trial_ids(again))[0]]
    assert load_image(record.path, sha256=record.sha256).size == (48, 32)
    Image.new("RGB", (48, 32), (1, 2, 3)).save(record.path)  # another picture under the same name
    with pytest.raises(ImageError, match="changed since the study was checked"):
        load_image(record.path, sha256=record.sha256)
    run_check(check)
    assert check.changed == [str(record.path)] and read_snapshot(study_dir) is None
    assert load_study_for_session(study_dir)[0].images[record.image_id].sha256 != record.sha256


def test_a_stopped_check_keeps_what_it_decoded(study_dir):
    study, check = load_study_for_session(study_dir)
    stop = threading.Event()
    stop.set()
    check.run(stop)
    assert not check.done
    again, second = load_study_for_session(study_dir)
    assert again.undecoded == study.undecoded  # nothing was decoded: the next session goes on with it


def test_without_caches_a_session_decodes_everything_before_it_starts(study_dir, monkeypatch):
    monkeypatch.setenv("STUDY_APP_NO_CACHE", "1")
    image = sorted(p for p in (study_dir / "images").glob("*.png"))[-1]
    study = load_study(study_dir)
    assert study.undecoded == frozenset()
    cut_short(image)
    with pytest.raises(ProtocolError, match="truncated"):
        load_study_for_session(study_dir)


def test_a_session_does_not_read_model_predictions(study_dir):
    predictions = study_dir / "predictions.csv"
    predictions.write_text("this is not a predictions file\n", encoding="utf-8")
    aged(study_dir)
    study, _ = load_study_for_session(study_dir)  # annotators never see them
    assert study.prediction_files == (predictions.resolve(),)
    with pytest.raises(ProtocolError, match="predictions.csv"):
        load_study(study_dir)  # validate, compare and report do


def test_a_labels_file_given_kinds_is_read_again_and_its_kinds_kept_in_the_snapshot(study_dir):
    """Issue #22: kinds added to labels.csv ("deck chair" below folding chair) must reach the
    session's search at the next start, and a start from the snapshot must keep them."""
    study, _ = load_study_for_session(study_dir)
    assert study.labels["cat"].kinds == () and read_snapshot(study_dir) is not None
    labels = study_dir / "labels.csv"
    rows = labels.read_text().splitlines()
    rows = [rows[0] + ",kinds", rows[1] + ",tabby;Siamese cat", *(row + "," for row in rows[2:])]
    labels.write_text("\n".join(rows) + "\n")
    assert read_snapshot(study_dir) is None  # the file changed: no snapshot of the old one
    aged(study_dir)
    changed, check = load_study_for_session(study_dir)
    assert not check.verify_files and changed.labels["cat"].kinds == ("tabby", "Siamese cat")
    assert changed.protocol_hash != study.protocol_hash
    again, second = load_study_for_session(study_dir)
    assert second.verify_files and again.labels["cat"].kinds == ("tabby", "Siamese cat")

"""The label search index: built in steps, kept on disk, rebuilt when the cache is damaged."""

from __future__ import annotations

import json

import pytest

from study_app.protocol.labels import Label
from study_app.protocol.study import load_study
from study_app.session.label_search import LabelSearchIndex

QUERIES = ("tabb", "cat", "garbage truck", "maillot", "tabyy", "ruck", "x")


@pytest.fixture(scope="module")
def classes():
    return load_study("demo-imagenet", check_images=False).labels.classes


def results(index: LabelSearchIndex) -> list:
    return [index.search(query) for query in QUERIES]


def index_files(cache_home):
    return sorted((cache_home / "search-index").glob("*.json"))


def test_stepwise_build_equals_a_build_without_cache(classes, cache_home):
    reference = results(LabelSearchIndex(classes, use_cache=False))
    stepped = LabelSearchIndex(classes)
    steps = 0
    while not stepped.build_step(40):
        steps += 1
    assert steps == len(classes) // 40 - (len(classes) % 40 == 0)
    assert results(stepped) == reference
    assert len(index_files(cache_home)) == 1


def test_a_search_before_the_build_is_done_finishes_it(classes, cache_home):
    index = LabelSearchIndex(classes)
    index.build_step(10)
    assert not index.complete
    assert index.search("tabb")[0].label_id == "n02123045"
    assert index.complete


def test_second_index_comes_from_the_cache_and_ranks_the_same(classes, cache_home):
    first = LabelSearchIndex(classes)
    expected = results(first)
    (cached_file,) = index_files(cache_home)
    before = cached_file.stat().st_mtime_ns
    second = LabelSearchIndex(classes)
    assert results(second) == expected
    assert cached_file.stat().st_mtime_ns == before  # read, not written again


def test_other_labels_get_their_own_cache(classes, cache_home):
    LabelSearchIndex(classes).search("cat")
    renamed = (Label(classes[0].label_id, "zebra finch"), *classes[1:])
    index = LabelSearchIndex(renamed)
    assert index.search("zebra finch")[0].label_id == classes[0].label_id
    assert len(index_files(cache_home)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        b"not json",
        b'{"version": 1, "payload": {"entries": [[5000, 0, "x", "x"]]}}',
        b'{"version": 1, "payload": {"entries": [[3, 0, "x", "x"], [1, 0, "y", "y"]]}}',
        b'{"version": 1, "payload": {"entries": "abc"}}',
        b'{"version": 1, "payload": {"entries": [[0, 0, "x", ""]]}}',
    ],
)
def test_a_damaged_cache_is_ignored_and_rewritten(classes, cache_home, damage):
    expected = results(LabelSearchIndex(classes, use_cache=False))
    LabelSearchIndex(classes).search("cat")
    (cached_file,) = index_files(cache_home)
    cached_file.write_bytes(damage)
    assert results(LabelSearchIndex(classes)) == expected
    assert cached_file.read_bytes() != damage


def test_valid_json_with_a_wrong_checksum_is_ignored(classes, cache_home):
    """A cache that parses but lost entries (say, a class) must not shrink the results."""
    expected = results(LabelSearchIndex(classes, use_cache=False))
    LabelSearchIndex(classes).search("cat")
    (cached_file,) = index_files(cache_home)
    data = json.loads(cached_file.read_text())
    data["payload"]["entries"] = [row for row in data["payload"]["entries"] if row[0] != 281]  # tabby
    cached_file.write_text(json.dumps(data))
    assert results(LabelSearchIndex(classes)) == expected


def test_switched_off(classes, cache_home, monkeypatch):
    monkeypatch.setenv("STUDY_APP_NO_CACHE", "1")
    LabelSearchIndex(classes).search("cat")
    assert not (cache_home / "search-index").exists()

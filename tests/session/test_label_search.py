"""Label search ranking on the real 1000 ILSVRC classes and on hand-made cases."""

from __future__ import annotations

import pytest

from study_app.protocol.labels import Label
from study_app.protocol.study import load_study
from study_app.session.label_search import (
    EXACT,
    FUZZY,
    PHRASE_PREFIX,
    SUBSTRING,
    WHOLE_WORDS,
    WORD_PREFIX,
    LabelSearchIndex,
    normalise,
)


@pytest.fixture(scope="module")
def imagenet():
    study = load_study("demo-imagenet", check_images=False)
    return study.labels, LabelSearchIndex(study.labels.classes)


def names(labels, hits, n=5):
    return [labels[h.label_id].name for h in hits[:n]]


def test_prefix_ranks_tabby_first(imagenet):
    labels, index = imagenet
    hits = index.search("tabb")
    assert hits[0].label_id == "n02123045"
    assert labels["n02123045"].synonyms == ("tabby", "tabby cat")


def test_maillot_finds_both_classes(imagenet):
    labels, index = imagenet
    top_two = {h.label_id for h in index.search("maillot")[:2]}
    assert top_two == {"n03710637", "n03710721"}
    assert all(h.tier == EXACT for h in index.search("maillot")[:2])


def test_garbage_truck_finds_dustcart(imagenet):
    labels, index = imagenet
    hit = index.search("garbage truck")[0]
    assert hit.label_id == "n03417042" and "dustcart" in labels[hit.label_id].synonyms
    assert index.search("dustcart")[0].label_id == "n03417042"


def test_whole_words_before_longer_words(imagenet):
    labels, index = imagenet
    top = [labels[h.label_id].name for h in index.search("cat")[:5]]
    assert "catamaran" not in top and all("cat" in name.split() for name in top)


def test_words_in_any_order_and_typos(imagenet):
    labels, index = imagenet
    assert index.search("cat tab")[0].label_id == "n02123045"
    typo = index.search("tabyy")
    assert typo[0].label_id == "n02123045" and typo[0].tier == FUZZY


def test_every_class_is_found_by_its_own_name(imagenet):
    labels, index = imagenet
    for label in labels.classes:
        assert index.search(label.name, limit=3)[0].label_id == label.label_id, label.name


def test_tiers_order_exact_whole_word_prefix_word_prefix_substring():
    labels = [
        Label("a", "sea lion"),
        Label("b", "lionfish"),
        Label("c", "lion"),
        Label("d", "dandelion"),
        Label("e", "mountain lion", ("cougar", "puma")),
        Label("f", "lionhearted knight"),
    ]
    hits = LabelSearchIndex(labels).search("lion")
    assert [h.label_id for h in hits] == ["c", "a", "e", "b", "f", "d"]
    assert [h.tier for h in hits] == [EXACT, WHOLE_WORDS, WHOLE_WORDS, PHRASE_PREFIX, PHRASE_PREFIX, SUBSTRING]
    assert LabelSearchIndex(labels).search("knig lion")[0].tier == WORD_PREFIX


def test_name_beats_synonym_and_accents_are_ignored():
    labels = [Label("x", "cafe table", ("bistro",)), Label("y", "bistro chair", ())]
    index = LabelSearchIndex(labels)
    assert [h.label_id for h in index.search("bistro")] == ["x", "y"]
    assert index.search("CAFÉ")[0].label_id == "x"
    assert normalise("Café-au-lait!") == "cafe au lait"


def test_empty_and_punctuation_queries_give_nothing():
    index = LabelSearchIndex([Label("a", "ant")])
    assert index.search("") == [] and index.search("  ,; ") == []

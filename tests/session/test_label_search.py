"""Label search ranking on the real 1000 ILSVRC classes and on hand-made cases."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

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
    SearchHit,
    distinguishing_notes,
    normalise,
    searchable_labels,
)

RANKING_SET = Path(__file__).parent / "data" / "search_ranking.csv"


@pytest.fixture(scope="module")
def imagenet():
    study = load_study("demo-imagenet", check_images=False)
    return study.labels, LabelSearchIndex(study.labels.classes)


@pytest.fixture(scope="module")
def with_groups():
    """The index the annotation window searches: the 1000 classes and the WordNet groups above them."""
    labels = load_study("demo-imagenet", check_images=False).labels
    return labels, LabelSearchIndex.for_label_set(labels)


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


def test_spaces_and_hyphens_do_not_matter_for_a_whole_name(with_groups):
    """Issue #22 item 6: "bottle cap" ranked five bottles and a corkscrew above bottlecap."""
    labels, index = with_groups
    for query in ("bottle cap", "bottle-cap", "Bottlecap", "bottle c"):
        assert names(labels, index.search(query), 1) == ["bottlecap"], query
    assert index.search("bottle cap")[0].tier == EXACT
    assert index.search("tabbycat")[0].label_id == "n02123045"  # written together, "tabby cat" apart
    assert index.search("tabbycat")[0].tier == EXACT
    assert names(labels, index.search("shih tzu"), 1) == ["Shih-Tzu"]


def test_one_edit_typos_rank_first(with_groups):
    labels, index = with_groups
    assert names(labels, index.search("jagaur"), 1) == ["jaguar"]  # two letters swapped: few trigrams shared
    assert "bagel" in names(labels, index.search("bagle"), 3)
    assert index.search("jagaur")[0].tier == FUZZY


def test_groups_are_found_and_marked(with_groups):
    """Issue #22 item 5: "musical instrument" gave "No class matches", "insect" only walking stick."""
    labels, index = with_groups
    for query, group in (
        ("musical instrument", "n03800933"),
        ("insect", "n02159955"),
        ("dog", "n02084071"),
        ("domestic dog", "n02084071"),
        ("shoe", "n04199027"),
    ):
        top = index.search(query)[0]
        assert (top.label_id, top.is_group, top.tier) == (group, True, EXACT), query
    shoes = {labels[c].name for c in labels.children_of["n04199027"]}
    assert {"Loafer", "sandal"} <= shoes  # what the group opens onto; WordNet puts clog under footwear
    footwear = [hit.label_id for hit in index.search("footwear")[:2]]
    assert "n03047690" in labels.children_of[footwear[0]] + labels.children_of[footwear[1]]
    assert index.search("tabby")[0] == SearchHit("n02123045", "tabby", EXACT, is_group=False)


def test_a_class_comes_before_a_group_of_the_same_standing(with_groups):
    labels, index = with_groups
    hits = index.search("brass")  # the memorial brass (a class) and the brass instruments (a group)
    assert [(h.label_id, h.is_group) for h in hits[:2]] == [("n02892201", False), ("n02891788", True)]


def test_searchable_labels_are_the_classes_then_groups_with_classes_below():
    labels = load_study("demo-imagenet", check_images=False).labels
    searchable = searchable_labels(labels)
    assert searchable[: len(labels.classes)] == labels.classes
    groups = searchable[len(labels.classes) :]
    assert len(groups) == len(labels.inner_nodes) and not any(g.is_class for g in groups)


def test_ranking_set_top_three():
    """The ranking test set (see data/README.md): WordNet synonyms, compounds written together
    or apart, misspellings, British and American spellings, and names of kinds below a
    class (WordNet hyponyms: "deck chair" -> folding chair), each with the class meant.

    Measured when written (issue #22): 245 of 245 pairs (1.000) have the expected class
    in the top 3; before (classes only, no compact or one-edit matching) 241 of 245. Every
    compound ranks its class first (78/78; before: 69/78). With the 20 kinds added: 265 of
    265 (1.000) in the top 3, 262 first, every kind's class first (20/20; before the labels
    had kinds: 6/20 in the top 3, 3 first; "deck chair" gave barber chair and "snare" snail).
    """
    labels = load_study("demo-imagenet", check_images=False).labels
    index = LabelSearchIndex.for_label_set(labels)
    by_name = {label.name: label.label_id for label in labels.classes}
    with RANKING_SET.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 150
    assert len({row["query"] for row in rows}) == len(rows)
    assert Counter(row["kind"] for row in rows).keys() == {"synonym", "compound", "misspelling", "spelling", "kind"}
    top_three = first = 0
    compounds_first = []
    kinds_first = []
    for row in rows:
        expected = by_name[row["expected"]]
        assert normalise(row["query"]) != normalise(row["expected"]), row  # not the display name itself
        ranked = [hit.label_id for hit in index.search(row["query"], limit=3)]
        top_three += expected in ranked
        first += ranked[:1] == [expected]
        if row["kind"] == "compound":
            compounds_first.append(ranked[:1] == [expected])
        if row["kind"] == "kind":
            kinds_first.append(ranked[:1] == [expected])
    assert top_three / len(rows) >= 0.95
    assert all(compounds_first) and all(kinds_first) and len(kinds_first) >= 15


def test_same_named_labels_get_a_distinguishing_note():
    """Issue #22 item 7: two sibling groups "table" (both under furniture) could not be told apart."""
    labels = load_study("demo-imagenet", check_images=False).labels
    notes = distinguishing_notes(labels)
    tables = ("n04379243", "n04379964")
    assert labels.parent_of[tables[0]] == labels.parent_of[tables[1]]  # same parent: the definition tells
    assert notes[tables[0]] == "having a smooth flat top that is…"  # "a piece of furniture" is shared
    assert notes[tables[1]] == "with tableware for a meal laid out on it"
    assert notes["n02892201"] == "in memorial" and notes["n02891788"] == "in wind instrument"  # brass
    assert "n02123045" not in notes  # tabby has no namesake
    assert all(len(note) <= 40 for note in notes.values())


def test_short_query_results_are_kept_and_stay_intact(with_groups):
    labels, index = with_groups
    first = index.search("s")
    first.clear()  # a caller changing its list must not change the next answer
    assert index.search("s") == LabelSearchIndex.for_label_set(labels).search("s")
    assert len(index.search("s")) > 300 and index.search("s", limit=2) == index.search("s")[:2]


def test_kinds_find_the_class_above_them(with_groups):
    """Issue #22 item 6: "deck chair" ranked barber chair first and "snare" gave snail and snakes;
    in WordNet a deck chair is a kind of folding chair and a snare (drum) a kind of drum."""
    labels, index = with_groups
    assert {"deck chair", "beach chair"} <= set(labels["n03376595"].kinds)
    assert {"snare drum", "snare", "side drum"} <= set(labels["n03249569"].kinds)
    for query, expected, matched in (
        ("deck chair", "n03376595", "deck chair"),
        ("deckchair", "n03376595", "deck chair"),
        ("Beach-chair", "n03376595", "beach chair"),
        ("snare", "n03249569", "snare"),
        ("snar", "n03249569", "snare drum"),  # while typing
        ("side drum", "n03249569", "side drum"),
    ):
        top = index.search(query)[0]
        assert (top.label_id, top.matched, top.is_kind, top.is_group) == (expected, matched, True, False), query
    assert index.search("folding chair")[0] == SearchHit("n03376595", "folding chair", EXACT)  # a name: no kind


def test_a_kind_never_outranks_a_label_that_has_it_as_a_name():
    """A real case: WordNet's tarantula (Lycosa tarentula, 01775370) is a kind of wolf spider, and
    tarantula (01774750) is an ILSVRC class. The bundled labels leave such kinds out; the ranking
    keeps every name and synonym first anyway, whatever a study's labels.csv lists."""
    labels = [
        Label("n01775062", "wolf spider", ("wolf spider",), kinds=("European wolf spider", "tarantula")),
        Label("n01774750", "tarantula"),
        Label("n01773549", "barn spider", ("barn spider", "Araneus cavaticus")),
    ]
    index = LabelSearchIndex(labels, use_cache=False)
    for query in ("tarantula", "taran", "Tarantula"):
        hits = index.search(query)
        assert [(h.label_id, h.is_kind) for h in hits] == [("n01774750", False), ("n01775062", True)], query
    assert index.search("tarantla")[0].label_id == "n01774750"  # a typo: the name's fuzzy match first
    assert [h.label_id for h in index.search("european wolf")] == ["n01775062"]


def test_a_kind_ranks_after_names_that_merely_contain_its_words(with_groups):
    """Real cases in the bundled labels: "ball" is a kind of projectile (WordNet's musket ball)
    and "buffalo" a kind of bison (the American buffalo); "mast" a kind of pole."""
    labels, index = with_groups
    projectile, bison, pole = "n04008634", "n02410509", "n03976657"
    assert "ball" in labels[projectile].kinds and "buffalo" in labels[bison].kinds and "mast" in labels[pole].kinds
    for query, label_id, names_before in (("ball", projectile, 10), ("buffalo", bison, 2), ("mast", pole, 3)):
        hits = index.search(query)
        at = [hit.label_id for hit in hits].index(label_id)
        assert hits[at].is_kind and hits[at].tier == EXACT, query
        assert at >= names_before and not any(hit.is_kind for hit in hits[:at]), query  # every name first
    buffalo = [(labels[h.label_id].name, h.is_kind) for h in index.search("buffalo")[:3]]
    assert buffalo == [("Old World buffalo", False), ("water buffalo", False), ("bison", True)]


def test_kinds_are_not_matched_inside_words_or_by_one_or_two_letters():
    labels = [Label("drum", "drum", kinds=("snare drum", "tom-tom")), Label("name", "snare drum stand")]
    index = LabelSearchIndex(labels, use_cache=False)
    assert [(h.label_id, h.tier) for h in index.search("naredr")] == [("name", SUBSTRING)]  # a name, not a kind
    assert [h.label_id for h in index.search("sn")] == ["name"] and index.search("t") == []
    assert [h.label_id for h in index.search("tom")] == ["drum"] and index.search("tomtom")[0].tier == EXACT
    typo = index.search("snare drun")  # fuzzy: a name's match first, then a kind's
    assert [(h.label_id, h.tier, h.is_kind) for h in typo] == [("name", FUZZY, False), ("drum", FUZZY, True)]


def test_the_index_cache_is_keyed_by_the_kinds_too():
    """Kinds added to a study's labels.csv must reach the search, not an index cached before."""
    without = [Label("drum", "drum"), Label("chair", "folding chair")]
    with_kinds = [Label("drum", "drum", kinds=("snare drum",)), Label("chair", "folding chair")]
    assert LabelSearchIndex(without).search("snare") == []  # builds and saves its cache file
    from_cache = LabelSearchIndex(with_kinds)
    assert [h.label_id for h in from_cache.search("snare")] == ["drum"]
    again = LabelSearchIndex(with_kinds)  # this one reads the file the one before saved
    again.build_step(1)
    assert again._cached_rows is not None
    assert again.search("snare") == from_cache.search("snare") and again.search("snare")[0].is_kind

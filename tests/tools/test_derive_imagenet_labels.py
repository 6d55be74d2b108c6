"""tools/derive_imagenet_labels.py: the kinds below each class, from WordNet hyponym pointers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from study_app.protocol.study import BUNDLED_PROTOCOLS

TOOL = Path(__file__).resolve().parents[2] / "tools" / "derive_imagenet_labels.py"
WORDNET = Path("/usr/share/wordnet/data.noun")
COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")


@pytest.fixture(scope="module")
def derive():
    spec = importlib.util.spec_from_file_location("derive_imagenet_labels", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def synset_line(offset: str, lexfile: str, words: list[str], pointers: list[tuple[str, str]]) -> str:
    """One data.noun line (wndb(5WN)): words with lex_id 0, pointers as (symbol, offset)."""
    word_part = " ".join(f"{word} 0" for word in words)
    pointer_part = " ".join(f"{symbol} {target} n 0000" for symbol, target in pointers)
    return f"{offset} {lexfile} n {len(words):02x} {word_part} {len(pointers):03d} {pointer_part} | a gloss"


def test_kinds_are_the_hyponyms_lemmas_less_classes_instances_taxa_binomials_and_class_names(derive):
    """Modelled on WordNet 3.0: deck chair (03168217) below folding chair, snare drum (04249415)
    below drum, the European wolf spider called tarantula below wolf spider."""
    lines = [
        synset_line("00000001", "06", ["folding_chair"], [("~", "00000002"), ("~", "00000003"), ("~i", "00000004")]),
        synset_line("00000002", "06", ["deck_chair", "beach_chair"], [("@", "00000001"), ("~", "00000005")]),
        # a class below a class: its kinds are its own
        synset_line("00000003", "06", ["drum", "membranophone"], [("@", "00000001"), ("~", "00000006")]),
        synset_line("00000004", "06", ["Chair_One"], [("@i", "00000001")]),  # an instance: not a kind
        synset_line("00000005", "06", ["steamer_chair", "Deck-Chair"], [("@", "00000002")]),  # a repeat
        synset_line("00000006", "06", ["snare_drum", "snare", "side_drum"], [("@", "00000003")]),
        synset_line("00000010", "05", ["wolf_spider", "hunting_spider"], [("~", "00000011"), ("~", "00000012")]),
        synset_line("00000011", "05", ["European_wolf_spider", "tarantula", "Lycosa_tarentula"], [("@", "00000010")]),
        synset_line("00000012", "05", ["Lycosidae", "family_Lycosidae"], [("@", "00000010"), ("~", "00000013")]),
        synset_line("00000013", "05", ["sheet_spider"], [("@", "00000012")]),  # only below a taxon
        synset_line("00000014", "05", ["Lycosa", "genus_Lycosa"], []),
        synset_line("00000015", "05", ["tarantula"], []),
    ]
    synsets = {s.wnid: s for s in map(derive.parse_data_line, lines)}
    assert synsets["n00000002"].hyponyms == ("n00000005",) and synsets["n00000001"].lexfile == "06"
    classes = ["n00000001", "n00000003", "n00000010", "n00000015"]
    taken = {derive.search_form(w) for c in classes for w in synsets[c].words}
    kinds = derive.class_kinds(classes, synsets, taken)
    assert kinds == {
        "n00000001": ["deck chair", "beach chair", "steamer chair"],
        "n00000003": ["snare drum", "snare", "side drum"],
        "n00000010": ["European wolf spider"],  # tarantula is a class; Lycosa tarentula a binomial
        "n00000015": [],
    }


@pytest.mark.skipif(not (WORDNET.is_file() and COPYRIGHT.is_file()), reason="needs Debian's wordnet-base")
def test_the_bundled_labels_are_what_the_tool_writes(derive, tmp_path, capsys):
    assert derive.main(["--out", str(tmp_path)]) == 0
    bundled = BUNDLED_PROTOCOLS / "demo-imagenet"
    for name in ("labels.csv", "hierarchy.csv", "hierarchy_nodes.csv", "LICENSE-WordNet.txt"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name
    assert "1862 kinds, for 347 classes" in capsys.readouterr().out

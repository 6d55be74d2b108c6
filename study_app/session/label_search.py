"""Ranking labels for a typed query, fast enough to run on every keystroke.

Annotators find one class among a thousand by typing, or a group of classes (an inner
node of the hierarchy, such as "dog" or "musical instrument") to browse from. Ranking,
best first:

0. the query is a whole name or synonym, spaces and hyphens aside (``maillot``;
   ``bottle cap`` -> ``bottlecap``, ``tabbycat`` -> ``tabby cat``);
1. every query word is a whole word of a name or synonym (``cat`` -> ``tiger cat``
   before ``catamaran``);
2. a name or synonym starts with the query, spaces aside (``garbage tr`` -> ``garbage
   truck``, ``tabb`` -> ``tabby``, ``bottle c`` -> ``bottlecap``);
3. every query word starts a word of a name or synonym (``cat tab`` -> ``tabby cat``);
4. the query occurs inside a name or synonym, spaces aside (``ruck`` -> ``fire truck``);
5. fuzzy: one letter left out, added, changed or two swapped in a word or a whole name
   (``jagaur`` -> ``jaguar``, ``bagle`` -> ``bagel``), then letter trigrams shared with
   one (typos such as ``tabyy``).

Within a tier a match on the display name beats one on a later synonym, a class beats a
group of the same standing, then shorter matched names come first. Matching ignores
case, accents and punctuation; a name written as one word, two words or with a hyphen
("bottlecap", "bottle cap", "bottle-cap") is the same name, as annotators write all three.

A label's kinds (:attr:`~study_app.protocol.labels.Label.kinds`: "deck chair" for
folding chair, "snare" for drum) are searched too, but rank after every name and
synonym: tiers 0 to 3 on kinds come after tiers 0 to 4 on names, and a fuzzy match on a
kind after every fuzzy match on a name. So a kind that is also another label's name
("tarantula", a kind of wolf spider in WordNet and a class of its own) or word ("ball",
a kind of projectile) never outranks that label. A kind matches neither inside a word
(tier 4) nor a query of one or two letters: a kind is found by its words, and letters
inside the words of 1,900 kinds would bury the names.

The ranking is measured on ``tests/session/data/search_ranking.csv`` (synonyms,
compounds, misspellings, British and American spellings, kinds; see its test).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study_app.caches.files import cache_dir, read_json, write_json
from study_app.protocol.labels import Label, LabelSet

EXACT, WHOLE_WORDS, PHRASE_PREFIX, WORD_PREFIX, SUBSTRING, FUZZY = range(6)
FUZZY_THRESHOLD = 0.45
#: Words and names at least this long also match a query one edit away (:func:`_within_one_edit`).
ONE_EDIT_MIN = 4
#: Queries shorter than this match word starts only (a letter inside a word is noise).
SHORT_QUERY = 3
#: Fuzzy matches are only added when the exact tiers found fewer labels than this.
FUZZY_WHEN_FEWER_THAN = 8
#: Results of this many one- and two-letter queries are kept: they match the most labels
#: (400 of 1,800 for "s"), cost the most to rank, and every query starts with one.
SHORT_RESULTS_KEPT = 128
#: Bumped whenever :func:`normalise` or the cached entries change.
INDEX_CACHE_VERSION = 3
#: Longest note that tells same-named labels apart (:func:`distinguishing_notes`).
NOTE_CHARS = 40
#: Letters and digits of every script are kept (Arabic, Hebrew, Greek, CJK names must be findable).
_NON_ALNUM = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Fold case and accents and turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", plain).strip()


def _compact(text: str) -> str:
    """A normalised name without its spaces: "bottle cap", "bottle-cap" and "bottlecap" agree."""
    return text.replace(" ", "")


def searchable_labels(labels: LabelSet) -> tuple[Label, ...]:
    """The classes, then every group (inner node) with at least one class below it.

    Groups are searched too: instructions send annotators to a group ("open dog"), and a
    group's name or synonym ("footwear", "musical instrument") is often the only word an
    annotator has for an unfamiliar class.
    """
    counts = labels.class_count_below
    return (*labels.classes, *(node for node in labels.inner_nodes if counts[node.label_id] > 0))


def distinguishing_notes(labels: LabelSet) -> dict[str, str]:
    """A short note for every label whose name another label shares ("table" and "table").

    The note names the parent group when that tells the namesakes apart, and otherwise
    the start of the label's definition after the words all the namesakes' definitions
    begin with (two "table" groups, both under "furniture", both "a piece of furniture
    ...": "having a smooth flat top..." and "with tableware for a meal..."). Labels whose
    name is their own get no note. Front ends show the note next to the name
    wherever the name alone would be ambiguous (search results, the hierarchy).
    """
    by_name: dict[str, list[Label]] = defaultdict(list)
    for label in (*labels.classes, *labels.inner_nodes):
        by_name[label.name.casefold()].append(label)
    notes: dict[str, str] = {}
    for namesakes in by_name.values():
        if len(namesakes) < 2:
            continue
        parents = [
            labels[labels.parent_of[n.label_id]].name if n.label_id in labels.parent_of else "" for n in namesakes
        ]
        definitions = _without_shared_start([n.definition.split(";")[0].split() for n in namesakes])
        for label, parent, definition in zip(namesakes, parents, definitions):
            if parent and parents.count(parent) == 1:
                notes[label.label_id] = f"in {parent}"
            else:
                notes[label.label_id] = _shorten(definition, NOTE_CHARS) or label.label_id
    return notes


def _without_shared_start(texts: list[list[str]]) -> list[str]:
    """Each list of words, less the words all of them start with, joined again."""
    shared = 0
    while all(len(words) > shared + 1 for words in texts) and len({words[shared] for words in texts}) == 1:
        shared += 1
    return [" ".join(words[shared:]) for words in texts]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _cache_file(labels: Sequence[Label]) -> Path | None:
    """The cache file for exactly these labels, in this order, with these names and kinds."""
    folder = cache_dir("search-index")
    if folder is None:
        return None
    digest = hashlib.sha256()
    for label in labels:
        fields = (label.label_id, str(label.is_class), *label.all_names, "\x1f", *label.kinds)
        digest.update("\t".join(fields).encode() + b"\n")
    return folder / f"{digest.hexdigest()[:32]}.json"


def _checksum(rows: object) -> str:
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _checked_rows(payload: dict[str, Any], label_count: int) -> list[tuple[int, int, str, str, bool]] | None:
    """A cache file's entries (label index, position, name, normalised name, is a kind), or None if damaged."""
    entries = payload.get("entries")
    if payload.get("check") != _checksum(entries):
        return None
    try:
        rows = [(int(i), int(p), str(o), str(t), bool(k)) for i, p, o, t, k in entries]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    indexes = [row[0] for row in rows]
    if (
        any(not row[3] for row in rows)
        or indexes != sorted(indexes)
        or (indexes and not 0 <= indexes[0] <= indexes[-1] < label_count)
    ):
        return None
    return rows


def _within_one_edit(a: str, b: str) -> bool:
    """True if ``b`` is ``a`` with at most one letter left out, added or changed, or two
    neighbouring letters swapped (the commonest typing slips)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) < len(b):
        a, b = b, a
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    if len(a) > len(b):
        return a[i + 1 :] == b[i:]
    return a[i + 1 :] == b[i + 1 :] or (a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :])


def _trigrams(word: str) -> frozenset[str]:
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


@dataclass(frozen=True)
class SearchHit:
    """A label that matched, how well (``tier``, lower is better) and through which name.

    ``is_group``: the label is a group of classes (an inner node of the hierarchy), shown
    and opened as such; only classes are answers. ``is_kind``: see the field.
    """

    label_id: str
    matched: str
    tier: int
    is_group: bool = False
    #: ``matched`` is one of the label's kinds ("deck chair" for folding chair), not a name of it.
    is_kind: bool = False


@dataclass(frozen=True)
class _Entry:
    label_index: int
    position: int  # 0 = display name, then synonyms in file order, then kinds
    original: str
    text: str
    words: tuple[str, ...]
    compact: str
    is_kind: bool
    #: What ranks hits of one tier and similarity: (position, is a group, length of the name,
    #: label name, label index, the name matched); computed once, compared per keystroke.
    order: tuple[int, bool, int, str, int, str]


#: Where "is a kind", the label index, the name matched and "is a group" sit in a hit's sort
#: key (fuzzy, is a kind, tier, -similarity, then :attr:`_Entry.order`).
_KEY_KIND, _KEY_LABEL, _KEY_MATCHED, _KEY_GROUP = 1, 8, 9, 5


class _Blob:
    """Many names in one string, so that a C-level ``str.find`` picks the candidates per keystroke."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._text = "\n".join(texts)
        self._starts: list[int] = []
        offset = 0
        for text in texts:
            self._starts.append(offset)
            offset += len(text) + 1

    def containing(self, part: str) -> list[int]:
        """Indices of the texts that contain ``part``."""
        found: list[int] = []
        position = self._text.find(part)
        while position != -1:
            index = bisect.bisect_right(self._starts, position) - 1
            found.append(index)
            next_start = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._text)
            position = self._text.find(part, next_start)
        return found


class LabelSearchIndex:
    """Search over the display names, synonyms and kinds of a sequence of labels (classes and groups).

    Building the index for 1000 classes takes about a tenth of a second, which a window
    should not spend before its first paint: the index is built in steps
    (:meth:`build_step`, which the label picker calls while the event loop is idle) and
    completes itself on the first search if the steps have not finished. The normalised
    names are kept in the user's cache folder (``search-index/``, keyed by a digest of
    the labels' ids, names and kinds), so a later start skips normalising them; the first step
    reads that file (the constructor does nothing that costs).
    """

    def __init__(self, labels: Sequence[Label], use_cache: bool = True) -> None:
        self._labels = tuple(labels)
        self._entries: list[_Entry] = []
        self._fuzzy_keys: dict[str, list[int]] = defaultdict(list)
        self._by_trigram: dict[str, set[str]] = defaultdict(set)
        self._by_word_start: dict[str, list[int]] = defaultdict(list)
        self._key_trigrams: dict[str, frozenset[str]] = {}
        self._short_results: dict[str, list[SearchHit]] = {}
        self._names = _Blob(())
        self._compact_names = _Blob(())
        self._indexed = 0  # labels indexed so far, in order
        self._complete = False
        self._use_cache = use_cache
        self._cache_file: Path | None = None
        self._cached_rows: list[tuple[int, int, str, str, bool]] | None = None
        self._next_row = 0

    @classmethod
    def for_label_set(cls, labels: LabelSet) -> LabelSearchIndex:
        """The index an annotation front end searches: classes and groups (:func:`searchable_labels`)."""
        return cls(searchable_labels(labels))

    @property
    def complete(self) -> bool:
        return self._complete

    def build_step(self, labels: int = 50) -> bool:
        """Index up to ``labels`` more labels; True once the index is complete."""
        if self._complete:
            return True
        if self._indexed == 0 and self._use_cache:
            self._cache_file = _cache_file(self._labels)
            cached = read_json(self._cache_file, INDEX_CACHE_VERSION)
            self._cached_rows = _checked_rows(cached, len(self._labels)) if cached else None
            self._use_cache = False  # read once
        end = min(self._indexed + labels, len(self._labels))
        rows = self._cached_rows
        if rows is not None:
            while self._next_row < len(rows) and rows[self._next_row][0] < end:
                self._add(*rows[self._next_row])
                self._next_row += 1
        else:
            for label_index in range(self._indexed, end):
                label = self._labels[label_index]
                names = label.all_names
                for position, name in enumerate((*names, *label.kinds)):
                    text = normalise(name)
                    if text:
                        self._add(label_index, position, name, text, position >= len(names))
        self._indexed = end
        if end == len(self._labels):
            self._finish(save=rows is None)
        return self._complete

    def _add(self, label_index: int, position: int, original: str, text: str, is_kind: bool) -> None:
        entry_index = len(self._entries)
        words = tuple(text.split())
        label = self._labels[label_index]
        order = (position, not label.is_class, len(text), label.name.casefold(), label_index, original)
        self._entries.append(_Entry(label_index, position, original, text, words, _compact(text), is_kind, order))
        if not is_kind:  # one- and two-letter queries look for names only
            for start in {w[:n] for w in words for n in range(1, SHORT_QUERY)}:
                self._by_word_start[start].append(entry_index)
        for key in {text, *words}:
            if key not in self._key_trigrams:
                grams = self._key_trigrams[key] = _trigrams(key)
                for gram in grams:
                    self._by_trigram[gram].add(key)
            self._fuzzy_keys[key].append(entry_index)

    def _finish(self, save: bool) -> None:
        self._names = _Blob([entry.text for entry in self._entries])
        self._compact_names = _Blob([entry.compact for entry in self._entries])
        self._indexed = len(self._labels)
        self._complete = True
        if save:
            rows = [[e.label_index, e.position, e.original, e.text, e.is_kind] for e in self._entries]
            write_json(self._cache_file, INDEX_CACHE_VERSION, {"entries": rows, "check": _checksum(rows)})

    def __len__(self) -> int:
        return len(self._labels)

    def search(self, query: str, limit: int | None = None) -> list[SearchHit]:
        """Labels matching ``query``, best first; every label at most once."""
        text = normalise(query)
        if not text:
            return []
        self.build_step(len(self._labels))
        if text in self._short_results:
            hits = self._short_results[text]
        else:
            hits = self._ranked(text)
            if len(text) < SHORT_QUERY:
                if len(self._short_results) >= SHORT_RESULTS_KEPT:
                    del self._short_results[next(iter(self._short_results))]  # the oldest
                self._short_results[text] = hits
        return list(hits) if limit is None else hits[:limit]

    def _ranked(self, text: str) -> list[SearchHit]:
        words = text.split()
        compact = _compact(text)
        best: dict[int, tuple[Any, ...]] = {}
        longest = max(words, key=len)
        if len(longest) < SHORT_QUERY:
            candidates = self._by_word_start.get(longest, [])
        elif len(words) == 1:
            candidates = self._compact_names.containing(compact)  # also finds "tabbycat" in "tabby cat"
        else:
            # Word tiers need the longest word; the compact tiers need the query without spaces.
            candidates = self._names.containing(longest) + self._compact_names.containing(compact)
        for entry_index in candidates:
            entry = self._entries[entry_index]
            tier = self._tier(entry, text, words, compact)
            if tier is not None:
                self._keep(best, entry, tier)
        if len(text) >= 3 and len(best) < FUZZY_WHEN_FEWER_THAN:
            exact_tiers = set(best)
            for entry_index, similarity in self._fuzzy_matches(text):
                entry = self._entries[entry_index]
                if entry.label_index not in exact_tiers:
                    self._keep(best, entry, FUZZY, similarity)
        labels = self._labels
        return [
            SearchHit(labels[key[_KEY_LABEL]].label_id, key[_KEY_MATCHED], key[2], key[_KEY_GROUP], key[_KEY_KIND])
            for key in sorted(best.values())
        ]

    @staticmethod
    def _tier(entry: _Entry, text: str, words: list[str], compact: str) -> int | None:
        if entry.compact == compact:
            return EXACT
        if all(q in entry.words for q in words):
            return WHOLE_WORDS
        if entry.compact.startswith(compact):
            return PHRASE_PREFIX
        if all(any(w.startswith(q) for w in entry.words) for q in words):
            return WORD_PREFIX
        if len(compact) >= SHORT_QUERY and compact in entry.compact and not entry.is_kind:
            return SUBSTRING
        return None

    @staticmethod
    def _keep(best: dict[int, tuple[Any, ...]], entry: _Entry, tier: int, similarity: float = 1.0) -> None:
        key = (tier == FUZZY, entry.is_kind, tier, -similarity, *entry.order)
        current = best.get(entry.label_index)
        if current is None or key < current:
            best[entry.label_index] = key

    def _fuzzy_matches(self, text: str) -> list[tuple[int, float]]:
        """Entries with their similarity: a name or word one edit from ``text`` (similarity above 1,
        so before the rest), or sharing enough trigrams with it (the Dice coefficient)."""
        grams = _trigrams(text)
        shared: dict[str, int] = defaultdict(int)
        for gram in grams:
            for key in self._by_trigram.get(gram, ()):
                shared[key] += 1
        # One edit changes at most four of a word's trigrams (a swap), so only keys sharing
        # all but four can be one edit away: few enough to check each.
        one_edit_shares = len(grams) - 4 if len(text) >= ONE_EDIT_MIN else len(grams) + 1
        scored = []
        for key, count in shared.items():
            dice = 2 * count / (len(grams) + len(self._key_trigrams[key]))
            if count >= one_edit_shares and len(key) >= ONE_EDIT_MIN and _within_one_edit(text, key):
                scored.append((1 + dice, key))
            elif dice >= FUZZY_THRESHOLD:
                scored.append((dice, key))
        return [(entry_index, dice) for dice, key in scored for entry_index in self._fuzzy_keys[key]]

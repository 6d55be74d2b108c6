"""Ranking labels for a typed query, fast enough to run on every keystroke.

Annotators find one class among a thousand by typing. Ranking, best first:

0. the query is a whole name or synonym (``maillot``);
1. every query word is a whole word of a name or synonym (``cat`` -> ``tiger cat``
   before ``catamaran``);
2. a name or synonym starts with the query (``garbage tr`` -> ``garbage truck``,
   ``tabb`` -> ``tabby``);
3. every query word starts a word of a name or synonym (``cat tab`` -> ``tabby cat``);
4. the query occurs inside a name or synonym (``ruck`` -> ``fire truck``);
5. fuzzy: letter trigrams shared with a word or a whole name (typos such as ``tabyy``).

Within a tier a match on the display name beats one on a later synonym, then shorter
matched names come first. Matching ignores case, accents and punctuation.
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
from study_app.protocol.labels import Label

EXACT, WHOLE_WORDS, PHRASE_PREFIX, WORD_PREFIX, SUBSTRING, FUZZY = range(6)
FUZZY_THRESHOLD = 0.45
#: Queries shorter than this match word starts only (a letter inside a word is noise).
SHORT_QUERY = 3
#: Fuzzy matches are only added when the exact tiers found fewer labels than this.
FUZZY_WHEN_FEWER_THAN = 8
#: Bumped whenever :func:`normalise` or the cached entries change.
INDEX_CACHE_VERSION = 2
#: Letters and digits of every script are kept (Arabic, Hebrew, Greek, CJK names must be findable).
_NON_ALNUM = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Fold case and accents and turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", plain).strip()


def _cache_file(labels: Sequence[Label]) -> Path | None:
    """The cache file for exactly these labels, in this order, with these names."""
    folder = cache_dir("search-index")
    if folder is None:
        return None
    digest = hashlib.sha256()
    for label in labels:
        digest.update("\t".join((label.label_id, *label.all_names)).encode() + b"\n")
    return folder / f"{digest.hexdigest()[:32]}.json"


def _checksum(rows: object) -> str:
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _checked_rows(payload: dict[str, Any], label_count: int) -> list[tuple[int, int, str, str]] | None:
    """A cache file's entries (label index, position, name, normalised name), or None if damaged."""
    entries = payload.get("entries")
    if payload.get("check") != _checksum(entries):
        return None
    try:
        rows = [(int(i), int(p), str(o), str(t)) for i, p, o, t in entries]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    indexes = [row[0] for row in rows]
    if (
        any(not text for *_, text in rows)
        or indexes != sorted(indexes)
        or (indexes and not 0 <= indexes[0] <= indexes[-1] < label_count)
    ):
        return None
    return rows


def _trigrams(word: str) -> frozenset[str]:
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


@dataclass(frozen=True)
class SearchHit:
    """A label that matched, how well (``tier``, lower is better) and through which name."""

    label_id: str
    matched: str
    tier: int


@dataclass(frozen=True)
class _Entry:
    label_index: int
    position: int  # 0 = display name, then synonyms in file order
    original: str
    text: str
    words: tuple[str, ...]


class LabelSearchIndex:
    """Search over the display names and synonyms of a sequence of labels.

    Building the index for 1000 classes takes about a tenth of a second, which a window
    should not spend before its first paint: the index is built in steps
    (:meth:`build_step`, which the label picker calls while the event loop is idle) and
    completes itself on the first search if the steps have not finished. The normalised
    names are kept in the user's cache folder (``search-index/``, keyed by a digest of
    the labels' ids and names), so a later start skips normalising them.
    """

    def __init__(self, labels: Sequence[Label], use_cache: bool = True) -> None:
        self._labels = tuple(labels)
        self._entries: list[_Entry] = []
        self._fuzzy_keys: dict[str, list[int]] = defaultdict(list)
        self._by_trigram: dict[str, set[str]] = defaultdict(set)
        self._by_word_start: dict[str, list[int]] = defaultdict(list)
        self._key_trigrams: dict[str, frozenset[str]] = {}
        self._blob = ""
        self._starts: list[int] = []
        self._indexed = 0  # labels indexed so far, in order
        self._complete = False
        self._cache_file = _cache_file(self._labels) if use_cache else None
        cached = read_json(self._cache_file, INDEX_CACHE_VERSION)
        self._cached_rows = _checked_rows(cached, len(self._labels)) if cached else None
        self._next_row = 0

    @property
    def complete(self) -> bool:
        return self._complete

    def build_step(self, labels: int = 50) -> bool:
        """Index up to ``labels`` more labels; True once the index is complete."""
        if self._complete:
            return True
        end = min(self._indexed + labels, len(self._labels))
        rows = self._cached_rows
        if rows is not None:
            while self._next_row < len(rows) and rows[self._next_row][0] < end:
                self._add(*rows[self._next_row])
                self._next_row += 1
        else:
            for label_index in range(self._indexed, end):
                for position, name in enumerate(self._labels[label_index].all_names):
                    text = normalise(name)
                    if text:
                        self._add(label_index, position, name, text)
        self._indexed = end
        if end == len(self._labels):
            self._finish(save=rows is None)
        return self._complete

    def _add(self, label_index: int, position: int, original: str, text: str) -> None:
        entry_index = len(self._entries)
        words = tuple(text.split())
        self._entries.append(_Entry(label_index, position, original, text, words))
        for start in {w[:n] for w in words for n in range(1, SHORT_QUERY)}:
            self._by_word_start[start].append(entry_index)
        for key in {text, *words}:
            if key not in self._key_trigrams:
                grams = self._key_trigrams[key] = _trigrams(key)
                for gram in grams:
                    self._by_trigram[gram].add(key)
            self._fuzzy_keys[key].append(entry_index)

    def _finish(self, save: bool) -> None:
        # All names in one string: a C-level ``str.find`` picks candidates per keystroke.
        self._blob = "\n".join(entry.text for entry in self._entries)
        offset = 0
        for entry in self._entries:
            self._starts.append(offset)
            offset += len(entry.text) + 1
        self._indexed = len(self._labels)
        self._complete = True
        if save:
            rows = [[e.label_index, e.position, e.original, e.text] for e in self._entries]
            write_json(self._cache_file, INDEX_CACHE_VERSION, {"entries": rows, "check": _checksum(rows)})

    def __len__(self) -> int:
        return len(self._labels)

    def search(self, query: str, limit: int | None = None) -> list[SearchHit]:
        """Labels matching ``query``, best first; every label at most once."""
        text = normalise(query)
        if not text:
            return []
        self.build_step(len(self._labels))
        words = text.split()
        best: dict[int, tuple[int, float, int, int, str]] = {}
        longest = max(words, key=len)
        short = len(longest) < SHORT_QUERY
        candidates = self._by_word_start.get(longest, []) if short else self._containing(longest)
        for entry_index in candidates:
            entry = self._entries[entry_index]
            tier = self._tier(entry, text, words)
            if tier is not None:
                self._keep(best, entry, tier)
        if len(text) >= 3 and len(best) < FUZZY_WHEN_FEWER_THAN:
            exact_tiers = set(best)
            for entry_index, similarity in self._fuzzy_matches(text):
                entry = self._entries[entry_index]
                if entry.label_index not in exact_tiers:
                    self._keep(best, entry, FUZZY, similarity)
        ranked = sorted(best.items(), key=lambda item: (*item[1][:4], self._labels[item[0]].name.casefold()))
        hits = [SearchHit(self._labels[i].label_id, key[4], key[0]) for i, key in ranked]
        return hits if limit is None else hits[:limit]

    def _containing(self, word: str) -> list[int]:
        """Indices of entries whose text contains ``word`` (every tier 0-3 match does)."""
        found: list[int] = []
        position = self._blob.find(word)
        while position != -1:
            entry_index = bisect.bisect_right(self._starts, position) - 1
            found.append(entry_index)
            next_start = self._starts[entry_index + 1] if entry_index + 1 < len(self._starts) else len(self._blob)
            position = self._blob.find(word, next_start)
        return found

    @staticmethod
    def _tier(entry: _Entry, text: str, words: list[str]) -> int | None:
        if entry.text == text:
            return EXACT
        if all(q in entry.words for q in words):
            return WHOLE_WORDS
        if entry.text.startswith(text):
            return PHRASE_PREFIX
        if all(any(w.startswith(q) for w in entry.words) for q in words):
            return WORD_PREFIX
        if len(text) >= SHORT_QUERY and text in entry.text:
            return SUBSTRING
        return None

    @staticmethod
    def _keep(
        best: dict[int, tuple[int, float, int, int, str]], entry: _Entry, tier: int, similarity: float = 1.0
    ) -> None:
        key = (tier, -similarity, entry.position, len(entry.text), entry.original)
        current = best.get(entry.label_index)
        if current is None or key < current:
            best[entry.label_index] = key

    def _fuzzy_matches(self, text: str) -> list[tuple[int, float]]:
        """Entries (with their similarity) whose name or a word shares enough trigrams with ``text``."""
        grams = _trigrams(text)
        shared: dict[str, int] = defaultdict(int)
        for gram in grams:
            for key in self._by_trigram.get(gram, ()):
                shared[key] += 1
        scored = []
        for key, count in shared.items():
            dice = 2 * count / (len(grams) + len(self._key_trigrams[key]))
            if dice >= FUZZY_THRESHOLD:
                scored.append((dice, key))
        return [(entry_index, dice) for dice, key in scored for entry_index in self._fuzzy_keys[key]]

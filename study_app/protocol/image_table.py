"""Read-only tables of a study's image files that are cheap to store and to load again.

A full-size study has 50,000 trial images and 13,000 example images. As Python objects
(an :class:`~study_app.protocol.study.ImageRecord` and a ``pathlib.Path`` each) they take a
third of a second just to re-create, which is most of the budget of a warm start
(:mod:`study_app.session.study_cache` keeps the checked study on disk between starts). These
mappings keep plain strings in columns, pickle as those columns, and make a record or a
``Path`` only when one is asked for (then keep it): a session that shows 500 images makes
500 records, not 50,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from study_app.protocol.study import ImageRecord


def _common_folder(paths: list[str]) -> str:
    """The longest folder prefix (ending in "/") shared by all ``paths`` ("" if none)."""
    if not paths:
        return ""
    first, last = min(paths), max(paths)
    size = 0
    for a, b in zip(first, last):
        if a != b:
            break
        size += 1
    return first[: first.rfind("/", 0, size) + 1] if size else ""


V = TypeVar("V")


class _LazyTable(Mapping[str, V]):
    """A mapping whose values are made on first use from what ``_rows`` keeps for each key:
    membership, order and size are the rows', so asking them makes no value."""

    __slots__ = ()
    _rows: dict[str, Any]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        """Equal by content: the same kind of table with the same stored columns."""
        return isinstance(other, type(self)) and self.__getstate__() == other.__getstate__()

    __hash__ = None  # type: ignore[assignment]  # mutable cache inside; equality by content


class ImageTable(_LazyTable["ImageRecord"]):
    """image_id -> :class:`ImageRecord`, in manifest order, built lazily from columns."""

    __slots__ = (
        "_ids",
        "_rows",
        "_folder",
        "_names",
        "_labels",
        "_splits",
        "_hashes",
        "_blocks",
        "_conditions",
        "_attributes",
        "_made",
    )

    def __init__(
        self,
        ids: list[str],
        folder: str,
        *,
        names: list[str],
        labels: list[tuple[str, ...]],
        splits: list[str],
        hashes: list[str],
        blocks: list[str],
        conditions: list[str] | None = None,
        attributes: list[tuple[tuple[str, str], ...]] | None = None,
    ) -> None:
        self._ids, self._folder, self._names = ids, folder, names
        self._labels, self._splits, self._hashes, self._blocks = labels, splits, hashes, blocks
        # a manifest without conditions or attribute columns keeps no per-image column for them
        self._conditions = conditions if conditions and any(conditions) else None
        self._attributes = attributes if attributes and any(attributes) else None
        self._rows = {image_id: n for n, image_id in enumerate(ids)}  # image id -> its place in the columns
        self._made: dict[str, ImageRecord] = {}

    @classmethod
    def from_records(cls, records: Iterable[ImageRecord]) -> ImageTable:
        """A table of records made elsewhere (which it keeps, so none is made twice)."""
        records = list(records)
        paths = [str(r.path) for r in records]
        folder = _common_folder(paths)
        table = cls(
            [r.image_id for r in records],
            folder,
            names=[p[len(folder) :] for p in paths],
            labels=[r.labels for r in records],
            splits=[r.split for r in records],
            hashes=[r.sha256 for r in records],
            blocks=[r.block for r in records],
            conditions=[r.condition for r in records],
            attributes=[r.attributes for r in records],
        )
        table._made = {r.image_id: r for r in records}
        return table

    def __getitem__(self, image_id: str) -> ImageRecord:
        record = self._made.get(image_id)
        if record is None:
            from study_app.protocol.study import ImageRecord

            n = self._rows[image_id]
            record = ImageRecord(
                image_id,
                Path(self._folder + self._names[n]),
                self._labels[n],
                self._splits[n],
                self._hashes[n],
                self._blocks[n],
                self._conditions[n] if self._conditions else "",
                self._attributes[n] if self._attributes else (),
            )
            self._made[image_id] = record
        return record

    def conditions(self) -> dict[str, str]:
        """image id -> condition of every image that has one."""
        return {i: c for i, c in zip(self._ids, self._conditions) if c} if self._conditions else {}

    def path_strings(self) -> Iterator[str]:
        """Every image's path as a string, without making records (for a sweep over the files)."""
        return (self._folder + name for name in self._names)

    def __getstate__(self) -> tuple[Any, ...]:
        return (
            self._ids,
            self._folder,
            self._names,
            self._labels,
            self._splits,
            self._hashes,
            self._blocks,
            self._conditions,
            self._attributes,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        ids, folder, names, labels, splits, hashes, blocks, conditions, attributes = state
        ImageTable.__init__(
            self,
            ids,
            folder,
            names=names,
            labels=labels,
            splits=splits,
            hashes=hashes,
            blocks=blocks,
            conditions=conditions,
            attributes=attributes,
        )


class PathTable(_LazyTable[tuple[Path, ...]]):
    """key -> tuple of Paths (a class's example images), stored as strings, made on first use."""

    __slots__ = ("_rows", "_made")

    def __init__(self, strings: Mapping[str, tuple[str, ...]]) -> None:
        self._rows = dict(strings)
        self._made: dict[str, tuple[Path, ...]] = {}

    @classmethod
    def from_paths(cls, paths: Mapping[str, Iterable[Path]]) -> PathTable:
        made = {key: tuple(value) for key, value in paths.items()}
        table = cls({key: tuple(map(str, value)) for key, value in made.items()})
        table._made = made
        return table

    def __getitem__(self, key: str) -> tuple[Path, ...]:
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = tuple(Path(s) for s in self._rows[key])
        return made

    def path_strings(self) -> Iterator[str]:
        return (s for value in self._rows.values() for s in value)

    def __getstate__(self) -> dict[str, tuple[str, ...]]:
        return self._rows

    def __setstate__(self, state: dict[str, tuple[str, ...]]) -> None:
        PathTable.__init__(self, state)

"""Rows read straight from the pages of a damaged SQLite file, when SQLite itself cannot.

A results file cut short (an interrupted copy from a desktop, a full USB stick) usually
loses its last pages, and with them part of the schema table, so SQLite refuses every
query ("database disk image is malformed") although most answers are still on disk. This
reads the file the way SQLite lays it out (https://www.sqlite.org/fileformat2.html):
the header gives the page size; committed frames of the ``-wal`` file replace the pages
they carry; each table's b-tree is walked from its root page as the schema table names
it, and leaf pages that no surviving interior page points to any more are given to the
one table whose columns their rows fit. Only what is intact is read: a page beyond the
end, a cell pointing outside its page or a broken overflow chain is left out, never
guessed at. Nothing here writes; :func:`~study_app.store.integrity.recover_store` puts
the rows into a new store.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LEAF_TABLE, INTERIOR_TABLE = 0x0D, 0x05
WAL_MAGIC = (0x377F0682, 0x377F0683)
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Column:
    name: str
    affinity: str  # TEXT, INTEGER or REAL
    nullable: bool


def header_page_size(header: bytes) -> int | None:
    """The page size a database header gives; None for no SQLite header or an impossible size."""
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return None
    size = struct.unpack(">H", header[16:18])[0]
    size = 65536 if size == 1 else size
    return size if size >= 512 and not size & (size - 1) else None


def declared_page_count(header: bytes) -> int | None:
    """The database size in pages that the 100-byte header gives, when it is valid
    (its change counter matches the version-valid-for number, as SQLite requires)."""
    if len(header) < 100:
        return None
    count, counter, valid_for = struct.unpack(">I", header[28:32])[0], header[24:28], header[92:96]
    return count if count and counter == valid_for else None


def sqlite_page_count(path: Path) -> int | None:
    """The database's size in pages as SQLite itself counts it (``PRAGMA page_count``: its
    WAL's last commit, else the valid in-header size, else the file's size), read without
    writing; None where SQLite cannot read the file."""
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def cut_short(path: Path) -> str | None:
    """Why the file lacks part of a page the database needs from it (an interrupted copy), or None.

    SQLite reads a missing tail as zeros, so a row whose bytes lay there comes back
    padded with NULs while its integrity check still says "ok". The pages the database
    needs are SQLite's own count (:func:`sqlite_page_count`; where SQLite refuses the file,
    the in-header size, trusted only while it is valid), less those its WAL's committed
    frames hold. A file *longer* than that is sound: a growth that failed on a full disk
    (a checkpoint that wrote part of a page) leaves such a tail, and SQLite ignores it.
    """
    with open(path, "rb") as file:
        header = file.read(100)
        size = file.seek(0, 2)
    page_size = header_page_size(header)
    if page_size is None:
        return None  # no header, or a damaged one: nothing to measure the file against
    pages = sqlite_page_count(path) or declared_page_count(header)
    if not pages or size >= pages * page_size:
        return None
    wal = Path(f"{path}-wal")
    in_wal = committed_wal_pages(wal.read_bytes(), page_size) if wal.is_file() else {}
    whole = size // page_size
    lost = [number for number in range(whole + 1, pages + 1) if number not in in_wal]
    if not lost:
        return None
    if size % page_size and lost[0] == whole + 1:
        return (
            f"the file ends in the middle of page {lost[0]:,} "
            f"({size:,} bytes, pages of {page_size:,}): it was cut short"
        )
    return f"the file holds {whole:,} of the {pages:,} pages the database needs from it: it was cut short"


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's big-endian variable-length integer at ``at``: (value, position after it)."""
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def decode_record(payload: bytes) -> list[int | float | str | bytes | None]:
    """The values of one record (header of serial types, then the values)."""
    header_size, at = read_varint(payload, 0)
    types = []
    while at < header_size:
        serial, at = read_varint(payload, at)
        types.append(serial)
    values: list[int | float | str | bytes | None] = []
    at = header_size
    for serial in types:
        if serial == 0:
            values.append(None)
        elif 1 <= serial <= 6:
            size = (1, 2, 3, 4, 6, 8)[serial - 1]
            values.append(int.from_bytes(payload[at : at + size], "big", signed=True))
            at += size
        elif serial == 7:
            values.append(struct.unpack(">d", payload[at : at + 8])[0])
            at += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2 if serial % 2 == 0 else (serial - 13) // 2
            raw = payload[at : at + size]
            if len(raw) != size:
                raise ValueError("record runs past its payload")
            text = None if serial % 2 == 0 else raw.decode("utf-8")
            if text is not None and "\x00" in text:
                raise ValueError("text with NUL characters: bytes of a lost page, not stored text")
            values.append(bytes(raw) if text is None else text)
            at += size
        else:
            raise ValueError(f"reserved serial type {serial}")
    if at > len(payload):
        raise ValueError("record runs past its payload")
    return values


class PageFile:
    """The pages of a database file with its WAL applied (committed frames only)."""

    def __init__(self, path: Path) -> None:
        data = Path(path).read_bytes()
        if len(data) < 100 or not data.startswith(SQLITE_MAGIC):
            raise ValueError("not an SQLite file (its header is missing)")
        if struct.unpack(">I", data[56:60])[0] not in (0, 1):
            raise ValueError("the file's text is not UTF-8 (a results store's always is)")
        page_size = header_page_size(data)
        if page_size is None:
            raise ValueError(f"page size {struct.unpack('>H', data[16:18])[0]} in the header is not possible")
        self.page_size = page_size
        self.usable = self.page_size - data[20]
        self._pages = {
            n + 1: data[n * self.page_size : (n + 1) * self.page_size] for n in range(len(data) // self.page_size)
        }
        if 1 not in self._pages:  # the schema's root and the free list start there
            raise ValueError("the file is shorter than its first page")
        wal = Path(f"{path}-wal")
        if wal.is_file():
            self._pages.update(committed_wal_pages(wal.read_bytes(), self.page_size))

    def __contains__(self, number: int) -> bool:
        return number in self._pages

    @property
    def numbers(self) -> list[int]:
        return sorted(self._pages)

    def free_pages(self) -> set[int]:
        """Pages on the free list: SQLite may leave old rows on them, which must not come back."""
        header = self._pages[1]
        trunk, found, seen = struct.unpack(">I", header[32:36])[0], set(), set()
        while trunk and trunk in self._pages and trunk not in seen:
            seen.add(trunk)
            page = self._pages[trunk]
            count = min(struct.unpack(">I", page[4:8])[0], (self.usable - 8) // 4)
            found.add(trunk)
            found.update(struct.unpack(f">{count}I", page[8 : 8 + 4 * count]))
            trunk = struct.unpack(">I", page[:4])[0]
        return found

    def leaf_rows(self, number: int) -> Iterator[tuple[int, list]]:
        """(rowid, values) of each intact cell of a table leaf page."""
        page = self._pages[number]
        start = 100 if number == 1 else 0
        cells = struct.unpack(">H", page[start + 3 : start + 5])[0]
        for i in range(cells):
            try:
                at = struct.unpack(">H", page[start + 8 + 2 * i : start + 10 + 2 * i])[0]
                size, at = read_varint(page, at)
                rowid, at = read_varint(page, at)
                yield rowid, decode_record(self._payload(page, at, size))
            except (ValueError, IndexError, struct.error, UnicodeDecodeError):
                continue

    def children(self, number: int) -> list[int]:
        """The child pages an interior table page points to (right-most last)."""
        page = self._pages[number]
        start = 100 if number == 1 else 0
        cells = struct.unpack(">H", page[start + 3 : start + 5])[0]
        found = []
        for i in range(cells):
            try:
                at = struct.unpack(">H", page[start + 12 + 2 * i : start + 14 + 2 * i])[0]
                found.append(struct.unpack(">I", page[at : at + 4])[0])
            except (IndexError, struct.error):
                continue
        found.append(struct.unpack(">I", page[start + 8 : start + 12])[0])
        return found

    def kind(self, number: int) -> int:
        return self._pages[number][100 if number == 1 else 0]

    def _payload(self, page: bytes, at: int, size: int) -> bytes:
        """A cell's payload, following its overflow chain (which must be whole)."""
        usable = self.usable
        most = usable - 35
        if size <= most:
            payload = page[at : at + size]
            if len(payload) != size:
                raise ValueError("cell runs past its page")
            return payload
        least = (usable - 12) * 32 // 255 - 23
        local = least + (size - least) % (usable - 4)
        local = local if local <= most else least
        parts, left = [page[at : at + local]], size - local
        next_page = struct.unpack(">I", page[at + local : at + local + 4])[0]
        seen = set()
        while left > 0:
            if next_page in seen or next_page not in self._pages:
                raise ValueError("overflow chain broken")
            seen.add(next_page)
            overflow = self._pages[next_page]
            parts.append(overflow[4 : 4 + min(left, usable - 4)])
            left -= usable - 4
            next_page = struct.unpack(">I", overflow[:4])[0]
        return b"".join(parts)


def committed_wal_pages(wal: bytes, page_size: int) -> dict[int, bytes]:
    """The pages of the WAL's committed transactions, latest version of each.

    Frames count while their salts match the header's and their cumulative checksum holds;
    only frames up to the last commit frame (one that gives the database size) are used.
    """
    if len(wal) < 32:
        return {}
    magic, _, wal_page_size, _, salt1, salt2 = struct.unpack(">IIIIII", wal[:24])
    if magic not in WAL_MAGIC or wal_page_size != page_size:
        return {}
    order = "<" if magic & 1 == 0 else ">"
    s1, s2 = _checksum(wal[:24], order, 0, 0)
    if (s1, s2) != struct.unpack(">II", wal[24:32]):
        return {}
    pages: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    at = 32
    while at + 24 + page_size <= len(wal):
        number, commit, f_salt1, f_salt2, c1, c2 = struct.unpack(">IIIIII", wal[at : at + 24])
        if (f_salt1, f_salt2) != (salt1, salt2):
            break
        s1, s2 = _checksum(wal[at : at + 8], order, s1, s2)
        s1, s2 = _checksum(wal[at + 24 : at + 24 + page_size], order, s1, s2)
        if (s1, s2) != (c1, c2):
            break
        pending[number] = wal[at + 24 : at + 24 + page_size]
        if commit:
            pages.update(pending)
            pending = {}
        at += 24 + page_size
    return pages


def _checksum(data: bytes, order: str, s1: int, s2: int) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
        s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
    return s1, s2


def table_pages(pages: PageFile, root: int) -> list[int]:
    """The leaf pages reachable from a table's root page (missing or odd pages skipped)."""
    leaves, stack, seen = [], [root], set()
    while stack:
        number = stack.pop()
        if number in seen or number not in pages:
            continue
        seen.add(number)
        kind = pages.kind(number)
        if kind == LEAF_TABLE:
            leaves.append(number)
        elif kind == INTERIOR_TABLE:
            stack.extend(pages.children(number))
    return leaves


def fits(values: list, columns: list[Column]) -> bool:
    """Whether a record's values could be a row of a table with ``columns``.

    A row written before columns were added (ALTER TABLE) has fewer values.
    """
    if not 0 < len(values) <= len(columns):
        return False
    for value, column in zip(values, columns):
        if value is None:
            if not column.nullable:
                return False
        elif column.affinity == "TEXT" and not isinstance(value, str):
            return False
        elif column.affinity == "INTEGER" and not isinstance(value, int):
            return False
        elif column.affinity == "REAL" and not isinstance(value, (int, float)):
            return False
    return True


def schema_columns(conn: sqlite3.Connection, tables: tuple[str, ...]) -> dict[str, list[Column]]:
    """Each table's columns as a (sound) store of the current schema declares them."""
    found = {}
    for table in tables:
        found[table] = [
            Column(name, (kind or "TEXT").upper(), not not_null and not primary)
            for _, name, kind, not_null, _, primary in conn.execute(f"PRAGMA table_info({table})")
        ]
    return found


def recover_rows(path: Path, columns: dict[str, list[Column]]) -> dict[str, list[dict]]:
    """Every intact row of the tables in ``columns``, as {column: value} dicts, per table.

    The file's own schema table names each table's root page. A store's columns only
    ever grow at the end (ALTER TABLE ADD COLUMN), so an older file's rows are the first
    values of the current columns; a row that does not fit its table's columns (a damaged
    page, a wrong root) is left out. Leaf pages that no surviving path reaches go to the
    one table whose columns their rows fit, if exactly one does; pages on the free list
    are never read (they may hold rows since replaced).
    """
    pages = PageFile(path)
    free = pages.free_pages()
    leaves = [number for number in pages.numbers if number not in free and pages.kind(number) == LEAF_TABLE]
    roots: dict[str, int] = {}
    schema_pages = set(table_pages(pages, 1))
    # Schema rows are looked for on every leaf page: the schema table's own interior page
    # may be among the lost ones.
    for page in sorted(leaves, key=lambda number: number not in schema_pages):
        for _, values in pages.leaf_rows(page):
            if len(values) == 5 and values[0] == "table" and values[1] in columns and isinstance(values[3], int):
                schema_pages.add(page)
                roots.setdefault(values[1], values[3])
    rows: dict[str, list[dict]] = {table: [] for table in columns}
    claimed: set[int] = set(schema_pages)
    for table, root in roots.items():
        for page in table_pages(pages, root):
            if page in free:
                continue
            claimed.add(page)
            rows[table].extend(
                _row(values, columns[table]) for _, values in pages.leaf_rows(page) if fits(values, columns[table])
            )
    for number in leaves:
        if number in claimed:
            continue
        for _, values in pages.leaf_rows(number):
            owners = [t for t in columns if fits(values, columns[t])]
            if len(owners) == 1:
                rows[owners[0]].append(_row(values, columns[owners[0]]))
    return rows


def _row(values: list, columns: list[Column]) -> dict:
    return {column.name: value for column, value in zip(columns, values)}

"""check-store's "cut short" agrees with SQLite's own page accounting.

A file is cut short only when it lacks part of a page the database needs from it: SQLite
would read those bytes as zeros. A file longer than the database (a growth that failed on
a full disk), a stale in-header size that SQLite does not trust, or pages that the WAL
holds are all sound, and check-store and --recover treat them so.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from study_app.protocol.study import load_study
from study_app.store import ResultsStore, check_store, recover_store
from study_app.store.page_recovery import committed_wal_pages
from tests.store.test_store import run_session

ROOT = Path(__file__).resolve().parents[2]
PAGE = 4096
TABLES = ("sessions", "trials", "answers", "flags")

#: Answers until the files may not grow any more (RLIMIT_FSIZE, as a full disk), with a
#: checkpoint every few pages so that the database file itself is growing when space runs out.
DISK_FULL = (
    "import os, resource, signal, sys\n"
    "from study_app.errors import StoreError\n"
    "from study_app.protocol.study import load_study\n"
    "from study_app.protocol.responses import Response, utc_now\n"
    "from study_app.session.controller import SessionController\n"
    "from study_app.store import ResultsStore\n"
    "study = load_study(sys.argv[1], check_images=False)\n"
    "store = ResultsStore(sys.argv[2])\n"
    "store.conn.execute('PRAGMA wal_autocheckpoint = 4')\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(sys.argv[2]) + 6000, resource.RLIM_INFINITY))\n"
    "try:\n"
    "    for n in range(100):\n"
    "        c = SessionController(study, store, f'D{n:02d}')\n"
    "        while not c.complete:\n"
    "            now = utc_now()\n"
    "            c.submit(Response(('cat', 'dog'), 1.0, now, now, flag='broken', flag_note='x' * 2000))\n"
    "except StoreError as exc:\n"
    "    print('FULL', exc, flush=True)\n"
    "os._exit(0)  # as a window killed on the full disk: no checkpoint on close\n"
)


def rows(path: Path) -> dict[str, set[tuple]]:
    """Every row as SQLite reads it, the WAL included, without writing (no checkpoint on close)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {table: set(conn.execute(f"SELECT * FROM {table}")) for table in TABLES}
    finally:
        conn.close()


def header_pages(path: Path) -> int:
    return struct.unpack(">I", path.read_bytes()[28:32])[0]


@pytest.fixture
def study(tiny_study):
    return load_study(tiny_study)


@pytest.fixture
def sound(tmp_path, study) -> Path:
    """A checkpointed store of several sessions: one file, no WAL."""
    path = tmp_path / "sound.sqlite"
    with ResultsStore(path) as store:
        for annotator in ("A01", "A02", "A03"):
            run_session(study, store, annotator)
    assert not Path(f"{path}-wal").exists() and path.stat().st_size % PAGE == 0
    return path


def test_a_store_left_by_a_full_disk_is_sound_and_recovers_identically(tmp_path, tiny_study):
    """The database file stopped in the middle of a page while a checkpoint grew it; the pages
    it lacks are in the WAL. SQLite's check passes: so does check-store (was: "cut short")."""
    path = tmp_path / "results.sqlite"
    ResultsStore(path).close()
    done = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tiny_study), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.startswith("FULL") and "disk" in done.stdout, done.stderr
    assert path.stat().st_size < header_pages(path) * PAGE  # the file is shorter than its (valid) header says
    before = rows(path)
    report = check_store(path)
    assert report.ok, report.summary()
    recover_store(path, tmp_path / "recovered.sqlite")
    assert rows(tmp_path / "recovered.sqlite") == before and before["trials"]


def test_a_tail_past_the_last_page_is_no_cut(tmp_path, sound):
    """A failed growth leaves bytes past the database's last page; SQLite never reads them."""
    expected = rows(sound)
    with open(sound, "ab") as file:
        file.write(b"\x07" * (PAGE // 2))  # half a page
    report = check_store(sound)
    assert report.ok, report.summary()
    recover_store(sound, tmp_path / "recovered.sqlite")
    assert rows(tmp_path / "recovered.sqlite") == expected


def test_a_stale_in_header_size_is_not_trusted(sound):
    """An in-header size whose version-valid-for number differs from the change counter is
    ignored by SQLite (the file's size counts): check-store ignores it too."""
    data = bytearray(sound.read_bytes())
    data[28:32] = struct.pack(">I", len(data) // PAGE + 5)
    data[92:96] = struct.pack(">I", struct.unpack(">I", data[24:28])[0] + 1)
    sound.write_bytes(bytes(data))
    assert check_store(sound).ok, check_store(sound).summary()


def test_pages_missing_from_the_file_count_only_when_the_wal_lacks_them(tmp_path, study, sound):
    """The WAL's committed frames stand in for the pages they hold; a page neither has is lost."""
    with ResultsStore(sound) as store:
        store.conn.execute("PRAGMA wal_autocheckpoint = 0")
        run_session(study, store, "A04")  # the database grows, in the WAL only
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        shutil.copyfile(sound, tmp_path / "copy.sqlite")
        shutil.copyfile(f"{sound}-wal", tmp_path / "copy.sqlite-wal")
    copy = tmp_path / "copy.sqlite"
    data = copy.read_bytes()
    assert len(data) < pages * PAGE  # the file lacks the pages the WAL holds
    assert check_store(copy).ok
    in_wal = committed_wal_pages(Path(f"{copy}-wal").read_bytes(), PAGE)
    lost = max(n for n in range(1, len(data) // PAGE + 1) if n not in in_wal)
    copy.write_bytes(data[: lost * PAGE - 100])  # a page only the file held loses its end
    assert f"the file ends in the middle of page {lost:,}" in " ".join(check_store(copy).problems)


@pytest.mark.parametrize("cut", [100, PAGE, 3 * PAGE + 10])
def test_a_file_shorter_than_its_pages_is_still_cut_short(tmp_path, sound, cut):
    short = tmp_path / "short.sqlite"
    short.write_bytes(sound.read_bytes()[:-cut])
    assert "cut short" in " ".join(check_store(short).problems)

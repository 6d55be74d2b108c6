"""A results store whose metadata (trial orders, assignments, protocol snapshots, schema
version) was damaged: every reader names the table, row and column; check-store finds it.

SQLite's own checks pass on such a store (the values are text, as the columns declare), so
the damage is made with plain sqlite3 UPDATEs on a real store, as a hand edit would make it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from study_app.errors import StoreCorruptError
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame, check_store, run_manifest
from study_app.store.progress import study_progress
from tests.factory import make_study
from tests.store.test_store import run_session

ROOT = Path(__file__).resolve().parents[2]

#: (column, SQL that damages it in A02's session or the study row, the readers that must refuse it)
DAMAGES = {
    "trial_order": (
        "UPDATE sessions SET trial_order = 'not json{' WHERE annotator_id = 'A02'",
        ("resume", "progress", "manifest"),
    ),
    "trial_order-shape": (
        "UPDATE sessions SET trial_order = '{\"a\": 1}' WHERE annotator_id = 'A02'",
        ("resume", "progress", "manifest"),
    ),
    "assignment": (
        "UPDATE sessions SET assignment = '[1, 2' WHERE annotator_id = 'A02'",
        ("resume", "answers", "manifest"),
    ),
    "snapshot": ("UPDATE studies SET snapshot = '{\"phases\": 3}'", ("progress", "manifest")),
    # Python's json reads 1e999 as infinity, NaN and Infinity as themselves; int() of them fails far away
    "assignment-infinite": (
        'UPDATE sessions SET assignment = \'{"arrival": 1, "blocks": '
        '{}, "group": 1e999, "phase_order": ["training"]}\' '
        "WHERE annotator_id = 'A02'",
        ("resume", "answers", "manifest"),
    ),
    "assignment-nan": (
        'UPDATE sessions SET assignment = \'{"arrival": NaN, "blocks": {}, "group": 0, "phase_order": []}\' '
        "WHERE annotator_id = 'A02'",
        ("resume", "answers", "manifest"),
    ),
    "assignment-huge": (  # a whole number no integer column holds
        'UPDATE sessions SET assignment = \'{"arrival": 1, "blocks": '
        '{}, "group": 100000000000000000000, "phase_order": []}\' '
        "WHERE annotator_id = 'A02'",
        ("resume", "answers", "manifest"),
    ),
    "trial_order-infinite": (
        "UPDATE sessions SET trial_order = '[[\"training\", Infinity, \"x\"]]' WHERE annotator_id = 'A02'",
        ("resume", "progress", "manifest"),
    ),
    # 100,000 levels: Python's decoder recursed once per level (RecursionError)
    "trial_order-deep": (
        f"UPDATE sessions SET trial_order = '{'[' * 100_000}{']' * 100_000}' WHERE annotator_id = 'A02'",
        ("resume", "progress", "manifest"),
    ),
    "snapshot-deep": (
        f'UPDATE studies SET snapshot = \'{{"phases": [], "x": {"[" * 100_000}{"]" * 100_000}}}\'',
        ("progress", "manifest"),
    ),
}


@pytest.fixture
def stored(tmp_path):
    """A real store: A01 finished the study, A02 is half way."""
    folder = make_study(tmp_path / "tiny")
    study = load_study(folder)
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        run_session(study, store, "A01").finish()
        half = run_session(study, store, "A02", n=3)
        ids = {"session": half.session.uuid, "study": store.register_study(study)}
    return study, folder, path, ids


def damage(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql)
    conn.close()


READERS = {
    "resume": lambda study, store: SessionController(study, store, "A02"),
    "progress": lambda study, store: study_progress(store),
    "manifest": lambda study, store: run_manifest(store),
    "answers": lambda study, store: answers_frame(store),
}


@pytest.mark.parametrize("kind", DAMAGES)
def test_every_reader_of_damaged_metadata_names_table_row_and_column(stored, kind):
    study, _, path, ids = stored
    sql, readers = DAMAGES[kind]
    column = kind.split("-")[0]
    table, row = ("studies", ids["study"]) if column == "snapshot" else ("sessions", ids["session"])
    damage(path, sql)
    for reader in readers:
        with ResultsStore(path) as store, pytest.raises(StoreCorruptError) as caught:
            READERS[reader](study, store)
        assert f"{path}: damaged results store: {table} row {row}, column {column}: " in str(caught.value), reader
    report = check_store(path)
    assert not report.ok and any(
        f"{table} row(s) with a damaged {column} (e.g. row {row}:" in p for p in report.problems
    )


def test_check_store_finds_nothing_in_a_sound_store(stored):
    assert check_store(stored[2]).ok


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def commands(folder: Path, path: Path, out: Path) -> dict[str, tuple[str, ...]]:
    study = ("--study", str(folder), "--store", str(path))
    return {
        "export": ("export", *study, "--out", str(out / "export" / "answers.csv")),
        "compare": ("compare", *study, "--n-boot", "100", "--out", str(out / "compare")),
        "progress": ("progress", "--store", str(path)),
        "report": ("report", *study, "--n-boot", "100", "--out", str(out / "report")),
        "check-store": ("check-store", str(path)),
    }


def test_commands_on_a_store_with_damaged_json_say_where_without_a_traceback(stored, tmp_path):
    """Each command meets the first damaged value it reads; check-store lists every damaged column."""
    _, folder, path, ids = stored
    for kind in ("trial_order", "assignment", "snapshot"):
        damage(path, DAMAGES[kind][0])
    for name, args in commands(folder, path, tmp_path / "out").items():
        result = run(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (name, result.stderr)
        if name == "check-store":
            for table, column, row in (
                ("sessions", "trial_order", ids["session"]),
                ("sessions", "assignment", ids["session"]),
                ("studies", "snapshot", ids["study"]),
            ):
                assert f"{table} row(s) with a damaged {column} (e.g. row {row}:" in result.stdout, result.stdout
        else:
            assert "damaged results store:" in result.stderr and ", column " in result.stderr, (name, result.stderr)


#: The commands that read each damaged value (review of #27, finding 7); the others do not read it and succeed.
READ_BY = {
    "assignment-infinite": ("check-store", "export", "compare", "report"),
    "trial_order-deep": ("check-store", "export", "progress", "report"),
}


@pytest.mark.parametrize("kind", READ_BY)
def test_commands_on_a_store_with_an_infinite_or_too_deep_value_say_where_without_a_traceback(stored, tmp_path, kind):
    """Values Python's json accepts but this program never writes: 1e999 (read as infinity) and
    100,000 nested lists (the decoder recursed once per level) were OverflowError and
    RecursionError tracebacks."""
    _, folder, path, ids = stored
    column = kind.split("-")[0]
    damage(path, DAMAGES[kind][0])
    for name, args in commands(folder, path, tmp_path / "out").items():
        result = run(*args)
        assert "Traceback" not in result.stderr + result.stdout, (name, result.stderr[-2000:])
        if name not in READ_BY[kind]:
            assert result.returncode == 0, (name, result.stderr)
        elif name == "check-store":
            assert (
                result.returncode == 1
                and f"1 sessions row(s) with a damaged {column} (e.g. row {ids['session']}:" in result.stdout
            ), result.stdout
        else:
            assert result.returncode == 1, (name, result.stderr)
            assert f"damaged results store: sessions row {ids['session']}, column {column}: " in result.stderr, (
                name,
                result.stderr,
            )


def test_commands_on_a_store_with_a_damaged_schema_version_say_so(stored, tmp_path):
    _, folder, path, _ = stored
    damage(path, "UPDATE meta SET value = 'five' WHERE key = 'schema_version'")
    for name, args in commands(folder, path, tmp_path / "out").items():
        result = run(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (name, result.stderr)
        if name == "check-store":
            assert "the schema version in meta is damaged ('five' is not a whole number)" in result.stdout, (
                result.stdout
            )
        else:
            assert "meta row 'schema_version', column value: 'five' is not a whole number" in result.stderr, (
                name,
                result.stderr,
            )
    with pytest.raises(StoreCorruptError, match="meta row 'schema_version'"):
        ResultsStore(path)  # annotate and simulate open it for writing

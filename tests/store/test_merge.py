"""merge is a function of its inputs, not of their order (issue #27, cases 8 and 10)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from study_app.errors import StoreError
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, export_answers, import_answers, merge_stores
from study_app.store.merge import MergeConflictError
from study_app.store.schema import TABLES
from tests.cli.test_cli import ROOT, run
from tests.factory import make_study
from tests.store.test_store import answer


def snapshot(store_path: Path, copy: Path) -> Path:
    """A consistent copy of a store that is open elsewhere (as a backup tool would take it)."""
    with sqlite3.connect(store_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    target.close()
    return copy


def answer_all(controller: SessionController, limit: int | None = None) -> None:
    done = 0
    while not controller.complete and (limit is None or done < limit):
        controller.submit(answer(controller.study.truth(controller.current().image_id)))
        done += 1
    if controller.complete:
        controller.finish()


def rows(path: Path) -> dict[str, list[str]]:
    """Every table's rows as a sorted list: the store's contents, whatever the order they went in."""
    with sqlite3.connect(path) as conn:
        contents = {table: sorted(repr(row) for row in conn.execute(f"SELECT * FROM {table}")) for table in TABLES}
    conn.close()
    return contents


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A desktop's store copied mid-session and at the end, a second desktop, and an export of
    the first imported elsewhere (its computer names left blank, no events)."""
    folder = tmp_path_factory.mktemp("inputs")
    study = load_study(make_study(folder / "tiny"))
    final = folder / "final.sqlite"
    with ResultsStore(final) as store:
        a01 = SessionController(study, store, "A01")
        answer_all(a01, limit=5)
        snapshot(final, folder / "snapshot.sqlite")
        answer_all(a01)
        answer_all(SessionController(study, store, "A02"))
    with ResultsStore(folder / "other.sqlite") as store:
        answer_all(SessionController(study, store, "A03"))
        answer_all(SessionController(study, store, "A01"), limit=3)  # A01 on a second desktop too
    with ResultsStore(final, readonly=True) as store:
        table = export_answers(store, folder / "export" / "answers.csv")
    with ResultsStore(folder / "imported.sqlite") as store:
        import_answers(store, table)
    return {path.stem: path for path in sorted(folder.glob("*.sqlite"))}


def ended(path: Path) -> list:
    with sqlite3.connect(path) as conn:
        result = [
            row[0]
            for row in conn.execute("SELECT ended_at FROM sessions WHERE annotator_id = 'A01' ORDER BY started_at")
        ]
    conn.close()
    return result


def test_a_session_keeps_its_end_whatever_the_order(tmp_path, inputs):
    forward = merge_stores(tmp_path / "forward.sqlite", [inputs["snapshot"], inputs["final"]])
    backward = merge_stores(tmp_path / "backward.sqlite", [inputs["final"], inputs["snapshot"]])
    assert ended(inputs["snapshot"]) == [None] and ended(inputs["final"])[0] is not None
    assert ended(tmp_path / "forward.sqlite") == ended(tmp_path / "backward.sqlite") == ended(inputs["final"])
    assert rows(tmp_path / "forward.sqlite") == rows(tmp_path / "backward.sqlite")
    assert forward.added == backward.added
    # into a target that already holds the unfinished copy: the later end still wins
    target = snapshot(inputs["snapshot"], tmp_path / "target.sqlite")
    merge_stores(target, [inputs["final"]])
    assert ended(target) == ended(inputs["final"])


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> dict[str, list[str]]:
    """The contents of all inputs merged at once, in the order of their names."""
    path = tmp_path_factory.mktemp("reference") / "merged.sqlite"
    merge_stores(path, [inputs[name] for name in sorted(inputs)])
    return rows(path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(["snapshot", "final", "other", "imported"]), split=st.integers(0, 3))
def test_merge_is_a_function_of_its_inputs(inputs, reference, order, split):
    """Any order, in one merge or in two (the first few into the target, then the rest):
    the same rows, value for value."""
    with tempfile.TemporaryDirectory() as folder:
        merged = Path(folder) / "merged.sqlite"
        if split:
            merge_stores(merged, [inputs[name] for name in order[:split]])
        merge_stores(merged, [inputs[name] for name in order[split:]])
        assert rows(merged) == reference
    assert len(reference["sessions"]) == 4


def test_rows_with_one_uuid_and_different_content_are_refused(tmp_path, inputs):
    changed = snapshot(inputs["final"], tmp_path / "changed.sqlite")
    with sqlite3.connect(changed) as conn:
        trial, rt = conn.execute("SELECT uuid, rt_ms FROM trials ORDER BY rowid LIMIT 1").fetchone()
        conn.execute("UPDATE trials SET rt_ms = ?, outcome = 'skip' WHERE uuid = ?", (rt + 1, trial))
    conn.close()
    for order in ([inputs["final"], changed], [changed, inputs["final"]]):
        out = tmp_path / "out.sqlite"
        with pytest.raises(MergeConflictError) as refused:
            merge_stores(out, order)
        assert [(c.table, c.uuid, sorted(c.columns), sorted(c.inputs)) for c in refused.value.conflicts] == [
            ("trials", trial, ["outcome", "rt_ms"], sorted(str(p) for p in order))
        ]
        assert f"trials {trial}: " in str(refused.value) and "nothing was written" in str(refused.value)
        assert not list(tmp_path.glob("out.sqlite*"))
    # into an existing store: refused the same way, and the store is left as it was
    target = snapshot(inputs["final"], tmp_path / "target.sqlite")
    before = rows(target)
    result = run("merge", str(target), str(changed), str(inputs["other"]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"trials {trial}: outcome, rt_ms differ between {target} and {changed}" in result.stderr
    assert rows(target) == before


def test_merge_into_a_folder_that_cannot_hold_the_store_says_which(tmp_path, inputs):
    (tmp_path / "file").write_text("not a folder")
    result = run("merge", str(tmp_path / "file" / "merged.sqlite"), str(inputs["final"]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'file'} is a file, not a folder" in result.stderr


def merge_as_user(out: Path, inputs: list[Path]) -> subprocess.CompletedProcess:
    """``main.py merge`` without root's override of file permissions (setpriv), as any user runs it."""
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, str(ROOT / "main.py"), "merge", str(out), *map(str, inputs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(
    sys.platform != "linux" or (os.geteuid() == 0 and not shutil.which("setpriv")),
    reason="as root, setpriv (Linux) is needed to give up the override of file permissions",
)
def test_merge_into_a_folder_without_write_permission_says_which(tmp_path, inputs):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = merge_as_user(folder / "merged.sqlite", [inputs["final"]])
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"the folder {folder} is read-only or not writable" in result.stderr
    assert not list(folder.iterdir())


def test_merge_into_a_read_only_file_system_says_which(tmp_path, inputs):
    """EROFS needs a read-only mount (root cannot be kept out of a folder by chmod alone).

    Skipped where none can be made.
    """
    folder = tmp_path / "readonly"
    folder.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a read-only file system here")
    try:
        result = run("merge", str(folder / "merged.sqlite"), str(inputs["final"]))
    finally:
        subprocess.run(["umount", str(folder)], check=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the folder {folder} is read-only or not writable" in result.stderr


def test_a_row_whose_parent_no_input_holds_is_refused_before_anything_is_written(tmp_path, inputs):
    """The merge copies without SQLite's foreign key checks, having checked each row's parent itself:
    a parent from the target or an earlier input is found, none at all is refused (nothing written)."""
    whole = snapshot(inputs["final"], tmp_path / "whole.sqlite")
    orphaned = snapshot(inputs["final"], tmp_path / "orphaned.sqlite")
    with sqlite3.connect(orphaned) as conn:
        trial = conn.execute("SELECT trial_uuid FROM answers ORDER BY rowid LIMIT 1").fetchone()[0]
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("UPDATE trials SET supersedes = NULL WHERE supersedes = ?", (trial,))
        conn.execute("DELETE FROM trials WHERE uuid = ?", (trial,))
    conn.close()
    with pytest.raises(StoreError) as refused:
        merge_stores(tmp_path / "out.sqlite", [orphaned])
    assert f"{orphaned}: " in str(refused.value) and f"to trials {trial}" in str(refused.value)
    assert "nothing was written" in str(refused.value) and not list(tmp_path.glob("out.sqlite*"))
    target = snapshot(inputs["other"], tmp_path / "target.sqlite")
    before = rows(target)
    with pytest.raises(StoreError):
        merge_stores(target, [orphaned, whole])  # the parent comes only with a later input
    assert rows(target) == before
    merge_stores(target, [whole, orphaned])  # from an earlier one: found
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_stores_with_url_characters_in_their_paths_are_merged(tmp_path, inputs):
    """Inputs are attached by URI, their paths quoted (a space).
    ("?", "#" and "%" in an input's path are still refused where it is opened read-only: db.connect.)"""
    folder = tmp_path / "odd folder"
    folder.mkdir()
    source = snapshot(inputs["other"], folder / "desk 1.sqlite")
    report = merge_stores(folder / "merged %20.sqlite", [source])
    assert rows(folder / "merged %20.sqlite")["trials"] == rows(inputs["other"])["trials"]
    assert report.added["trials"] == len(rows(inputs["other"])["trials"])

"""The results store: durable answers, resume, protocol changes, merge, export, integrity."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pandas as pd
import pytest

from study_app.errors import ProtocolChangedError, StoreError
from study_app.protocol.responses import Event, Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import (
    ResultsStore,
    answers_frame,
    check_store,
    export_answers,
    import_answers,
    merge_stores,
    recover_store,
)
from study_app.store.answer_store import TrialAnswer
from study_app.store.schema import SCHEMA_VERSION, migrate, schema_version
from tests.factory import make_study


def answer(labels, outcome="answer", flag=None, rt=250.0):
    now = utc_now()
    return Response(tuple(labels), rt, now, now, outcome=outcome, flag=flag, flag_note="see note" if flag else "")


def run_session(study, store, annotator, n=None, guess=lambda trial, study: study.truth(trial.image_id)):
    controller = SessionController(study, store, annotator)
    done = 0
    while not controller.complete and (n is None or done < n):
        controller.submit(answer(guess(controller.current(), study)))
        done += 1
    return controller


@pytest.fixture
def study(tiny_study):
    return load_study(tiny_study)


def test_store_pragmas_and_schema(tmp_path, study):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert schema_version(store.conn) == SCHEMA_VERSION


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_migrations_from_every_earlier_version(tmp_path, start):
    conn = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    migrate(conn, target=start)
    assert schema_version(conn) == start
    conn.close()
    with ResultsStore(tmp_path / "old.sqlite") as store:
        assert schema_version(store.conn) == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_answers_flags_events_are_stored_exactly(tmp_path, study):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "A01")
        first = controller.current()
        controller.submit(
            answer(["dog"]), [Event("search", 12.5, {"query": "do"}), Event("view_class", 30.0, {"label_id": "dog"})]
        )
        second = controller.current()
        controller.submit(answer([], outcome="not_sure", flag="ambiguous"))
        frame = answers_frame(store)
        assert list(frame["image_id"]) == [first.image_id, second.image_id]
        assert list(frame["label_id"]) == ["dog", ""]
        assert frame["rank"].tolist()[0] == 1 and pd.isna(frame["rank"].tolist()[1])
        assert list(frame["outcome"]) == ["answer", "not_sure"]
        assert list(frame["flags"]) == ["", "ambiguous"]
        assert (frame["rt_ms"] > 0).all()
        events = store.conn.execute("SELECT kind, detail, phase, trial_index FROM events ORDER BY t_ms").fetchall()
        assert events == [
            ("search", '{"query": "do"}', "training", 0),
            ("view_class", '{"label_id": "dog"}', "training", 0),
        ]


def test_second_answer_to_a_trial_is_refused(tmp_path, study):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "A01")
        trial = controller.current()
        controller.submit(answer(["cat"]))
        with pytest.raises(StoreError, match="already answered"):
            store.submit(controller.session, TrialAnswer(trial, "x", answer(["dog"])))
        assert len(answers_frame(store)) == 1


def test_resume_continues_at_first_unanswered(tmp_path, study):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        first = run_session(study, store, "A01", n=6)
        order = first.session.trials
    with ResultsStore(path) as store:
        again = SessionController(study, store, "A01")
        assert again.resumed and again.position == 6 and again.session.trials == order
        assert again.phase_accuracy("training") == (4, 4)
        while not again.complete:
            again.submit(answer(["cat"]))
        again.finish()
        with pytest.raises(StoreError, match="already finished"):
            SessionController(study, store, "A01")
        assert not SessionController(study, store, "A01", force_new=True).resumed


def test_changed_protocol_is_refused_unless_forced(tmp_path, tiny_study):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        run_session(load_study(tiny_study), store, "A01", n=2)
    (tiny_study / "instructions.md").write_text("Changed instructions.\n")
    changed = load_study(tiny_study)
    with ResultsStore(path) as store:
        with pytest.raises(ProtocolChangedError, match="different version of the protocol"):
            SessionController(changed, store, "A01")
        fresh = SessionController(changed, store, "A01", force_new=True)
        assert fresh.position == 0 and not fresh.resumed
        fresh.submit(answer(["cat"]))
        # the session begun under the new protocol resumes; the abandoned one no longer blocks it
        again = SessionController(changed, store, "A01")
        assert again.resumed and again.session.uuid == fresh.session.uuid and again.position == 1
        assert store.unfinished_session(changed, "A01")[:1] == (fresh.session.uuid,)


def test_sessions_are_looked_up_by_study_and_annotator(tmp_path, study):
    """One store holding two studies (a lab's server): an annotator's open session of one study
    neither blocks nor stands in for a session of the other, in either direction."""
    other = load_study(make_study(tmp_path / "other", name="other"))
    assert other.protocol_hash != study.protocol_hash
    with ResultsStore(tmp_path / "r.sqlite") as store:
        first = run_session(study, store, "X01", n=2)
        assert store.unfinished_session(other, "X01") is None
        assert store.unfinished_session(study, "X01") == (first.session.uuid, first.session.started_at, 2)
        second = SessionController(other, store, "X01")  # was: ProtocolChangedError about the first study's session
        assert not second.resumed and second.position == 0 and second.session.uuid != first.session.uuid
        second.submit(answer(["cat"]))
        assert store.unfinished_session(other, "X01")[::2] == (second.session.uuid, 1)
        run_session(other, store, "X01").finish()
        resumed = SessionController(study, store, "X01")  # not "already finished": that was the other study
        assert resumed.resumed and resumed.session.uuid == first.session.uuid and resumed.position == 2
        with pytest.raises(StoreError, match="already finished"):
            SessionController(other, store, "X01")


def test_break_and_feedback(tmp_path, study):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        controller = SessionController(study, store, "A01")
        feedback = controller.submit(answer(["bus"]))
        assert feedback is not None and feedback.phase_answered == 1
        assert feedback.correct == (feedback.truth == ("bus",))
        while controller.current().phase == "training":
            controller.submit(answer(controller.study.truth(controller.current().image_id)))
        assert controller.starts_phase()
        breaks = []
        while not controller.complete:
            assert controller.submit(answer(["cat", "dog"])) is None  # test phase: no feedback
            breaks.append(controller.break_due())
        assert breaks == [False, False, False, True, False, False, False, True, False, False, False, False]


def fill(path, study, annotators, n=None):
    with ResultsStore(path) as store:
        for annotator in annotators:
            run_session(study, store, annotator, n=n)


def test_merge_three_machines_idempotent_with_conflict(tmp_path, study):
    fill(tmp_path / "m1.sqlite", study, ["A01", "A02"])
    fill(tmp_path / "m2.sqlite", study, ["A03"])
    fill(tmp_path / "m3.sqlite", study, ["A01"], n=3)  # A01 again on another machine: a conflict
    out = tmp_path / "merged.sqlite"
    report = merge_stores(out, [tmp_path / f"m{i}.sqlite" for i in (1, 2, 3)])
    assert report.added["trials"] == 16 * 3 + 3 and report.added["sessions"] == 4
    assert len(report.conflicts) == 3 and {c.annotator for c in report.conflicts} == {"A01"}
    with ResultsStore(out) as store:
        before = answers_frame(store)
    again = merge_stores(out, [tmp_path / f"m{i}.sqlite" for i in (1, 2, 3)])
    assert sum(again.added.values()) == 0
    with ResultsStore(out) as store:
        pd.testing.assert_frame_equal(answers_frame(store), before)
        assert check_store(out).ok


def test_merge_refuses_other_protocol(tmp_path, study):
    other = load_study(make_study(tmp_path / "other", per_class_test=2))
    fill(tmp_path / "a.sqlite", study, ["A01"], n=1)
    fill(tmp_path / "b.sqlite", other, ["A02"], n=1)
    with pytest.raises(StoreError, match="different protocols cannot be merged"):
        merge_stores(tmp_path / "out.sqlite", [tmp_path / "a.sqlite", tmp_path / "b.sqlite"])
    assert not list(tmp_path.glob("out.sqlite*"))  # a refused merge leaves nothing to block the next one


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(tmp_path, study, fmt):
    pytest.importorskip("pyarrow") if fmt == "parquet" else None
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        controller = SessionController(study, store, "A01")
        controller.submit(answer(["cat", "dog"]))
        controller.submit(answer([], outcome="timeout", flag="broken"))
        run_session(study, store, "A02")
        table = export_answers(store, tmp_path / "export" / f"answers.{fmt}", fmt)
        original = answers_frame(store, include_superseded=True)
    with ResultsStore(tmp_path / "fresh.sqlite") as fresh:
        assert import_answers(fresh, table) == len(original["trial_uuid"].unique())
        assert import_answers(fresh, table) == 0
        pd.testing.assert_frame_equal(answers_frame(fresh, include_superseded=True), original)
    manifest = table.with_name(table.stem + ".manifest.json").read_text()
    assert study.protocol_hash in manifest and str(tmp_path) not in manifest


def test_check_store_and_recover_never_touch_the_original(tmp_path, study):
    path = tmp_path / "r.sqlite"
    fill(path, study, ["A01", "A02", "A03"])
    with ResultsStore(path) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert check_store(path).ok
    data = bytearray(path.read_bytes())
    page = 4096
    data[6 * page : 7 * page] = b"\x13" * page  # wreck one page in the middle
    path.write_bytes(bytes(data))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = check_store(path)
    assert not report.ok and "integrity" in report.summary().lower() or "not a readable" in report.summary()
    counts = recover_store(path, tmp_path / "recovered.sqlite")
    assert counts["sessions"] >= 1
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with pytest.raises(StoreError, match="exists already"):
        recover_store(path, tmp_path / "recovered.sqlite")


def rows_of(path, table: str) -> dict:
    conn = sqlite3.connect(path)
    try:
        return {row[0]: row for row in conn.execute(f"SELECT * FROM {table}")}
    finally:
        conn.close()


def test_recover_a_store_cut_short_keeps_every_intact_answer(tmp_path, study):
    """An interrupted copy loses the file's end, and SQLite refuses even the schema then:
    the rows are read from the pages themselves, each exactly as it was stored."""
    path = tmp_path / "r.sqlite"
    fill(path, study, [f"A{n:02d}" for n in range(30)])
    original = {table: rows_of(path, table) for table in ("sessions", "trials", "answers")}
    data = path.read_bytes()
    for share in (0.6, 0.95):
        cut = tmp_path / f"cut{share}.sqlite"
        cut.write_bytes(data[: int(len(data) * share)])
        with pytest.raises(sqlite3.DatabaseError):
            sqlite3.connect(cut).execute("SELECT COUNT(*) FROM trials").fetchone()
        counts = recover_store(cut, tmp_path / f"recovered{share}.sqlite")
        for table, rows in original.items():
            recovered = rows_of(tmp_path / f"recovered{share}.sqlite", table)
            assert recovered and all(rows[key] == row for key, row in recovered.items()), table
            assert counts[table] == len(recovered)
        assert counts["trials"] >= share * 0.5 * len(original["trials"])
    assert counts["trials"] >= 0.85 * len(original["trials"])  # the last pages are all that 95% loses


def test_a_file_cut_inside_its_last_page_is_called_cut_short_and_read_without_the_zeros(tmp_path, study):
    """SQLite reads the missing end of a page as zeros: its integrity check passes and a text
    whose bytes lay there comes back padded with NULs. check-store says the file is cut
    short, and recovery reads it from its pages, which never make up bytes."""
    path = tmp_path / "r.sqlite"
    fill(path, study, [f"A{n:02d}" for n in range(30)])
    original = {table: rows_of(path, table) for table in ("sessions", "trials")}
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(path.read_bytes()[:-100])  # the last page loses its last 100 bytes
    assert "cut short" in " ".join(check_store(cut).problems)
    recover_store(cut, tmp_path / "recovered.sqlite")
    for table, rows in original.items():
        recovered = rows_of(tmp_path / "recovered.sqlite", table)
        assert recovered and all(rows[key] == row for key, row in recovered.items()), table


def test_recover_reads_the_answers_only_the_wal_holds(tmp_path, study):
    """The latest answers of a store in use live in its -wal file until a checkpoint."""
    path, copy = tmp_path / "live.sqlite", tmp_path / "copy" / "live.sqlite"
    copy.parent.mkdir()
    with ResultsStore(path) as store:
        store.conn.execute("PRAGMA wal_autocheckpoint = 0")
        run_session(study, store, "A01")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        run_session(study, store, "A02")  # these are in the WAL only
        shutil.copyfile(path, copy)
        shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        expected = {row[0]: row for row in store.conn.execute("SELECT * FROM trials")}
    data = copy.read_bytes()
    copy.write_bytes(data[: len(data) - 4096])  # and the main file cut short
    recover_store(copy, tmp_path / "recovered.sqlite")
    recovered = rows_of(tmp_path / "recovered.sqlite", "trials")
    assert recovered == expected


def test_recover_leaves_nothing_behind_when_nothing_can_be_read(tmp_path, study):
    path = tmp_path / "r.sqlite"
    fill(path, study, ["A01"])
    data = path.read_bytes()
    for size in (60, 2000):  # no header; a header but not even the first page
        path.write_bytes(data[:size])
        with pytest.raises(StoreError, match="no row could be read"):
            recover_store(path, tmp_path / "recovered.sqlite")
        assert not list(tmp_path.glob("recovered*"))


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable results store|cannot open"):
        ResultsStore(path)
    assert not check_store(path).ok


def test_check_store_accepts_older_and_unfinished_set_ups_with_a_note(tmp_path):
    """A store from an older version, or one whose creation a crash cut short, is sound: the next
    writer upgrades it. check-store says so instead of calling it a problem."""
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, target=2)
    conn.close()
    report = check_store(old)
    assert report.ok and "schema version 2 (upgraded to" in report.summary()
    with sqlite3.connect(old) as conn:
        assert schema_version(conn) == 2  # the original is never written
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    assert check_store(empty).ok and "set-up had not finished" in check_store(empty).summary()
    newer = tmp_path / "newer.sqlite"
    conn = sqlite3.connect(newer, isolation_level=None)
    migrate(conn)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    assert not check_store(newer).ok and "newer than this program" in check_store(newer).summary()

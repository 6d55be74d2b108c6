"""The results store on a real PostgreSQL server: same schema, same API, same answers as SQLite."""

from __future__ import annotations

import threading
from collections import Counter

import pandas as pd
import pytest

from study_app.errors import StoreError
from study_app.protocol.responses import Event, Response
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame, export_answers, import_answers, merge_stores
from study_app.store.answer_store import TrialAnswer
from study_app.store.db import table_columns
from study_app.store.postgres import PgConnection, ServerAddress, ServerUnavailableError, translate, translate_ddl
from study_app.store.schema import MIGRATIONS, SCHEMA_VERSION, TABLES
from tests.factory import make_study
from tests.store.postgres.conftest import answer_all, at_once

#: Columns that differ between two runs of the same script (fresh UUIDs).
RUN_SPECIFIC = ["session", "trial_uuid"]


@pytest.fixture
def study(tmp_path):
    return load_study(make_study(tmp_path / "tiny"), check_images=False)


def scripted_session(store: ResultsStore, study, annotator: str = "A01") -> None:
    """A whole session with fixed answers and times, flags, events and one undo."""
    controller = SessionController(study, store, annotator)
    labels = [label.label_id for label in study.labels]
    number = 0
    while not controller.complete:
        trial = controller.current()
        stamp = f"2026-01-01T10:00:{number:02d}.000+00:00"
        flag = "ambiguous" if number == 5 else None
        guesses = tuple(labels[(number + k) % 4] for k in range(study.phase(trial.phase).answers))
        response = Response(guesses, 1234.5678 + number, stamp, stamp, flag=flag, flag_note="see")
        controller.submit(response, [Event("search", 10.25, {"query": f"q{number}", "100%": True})])
        if number == 6 and controller.can_undo():
            controller.undo()
            controller.submit(Response((labels[3],), 99.0, stamp, stamp))
        number += 1
    controller.finish()
    assert trial is not None


def test_schema_matches_sqlite_table_for_table(tmp_path, pg_url):
    with ResultsStore(pg_url) as server, ResultsStore(tmp_path / "r.sqlite") as local:
        assert server.conn.version() == SCHEMA_VERSION
        for table in (*TABLES, "allocations", "meta"):
            assert table_columns(server.conn, table) == table_columns(local.conn, table), table
        # rt_ms keeps double precision (PostgreSQL's REAL would round 1234.5678)
        kind = server.conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'trials' AND column_name = 'rt_ms'"
        ).fetchone()[0]
        assert kind == "double precision"


def test_a_future_migration_in_portable_sql_is_translated(pg_url):
    """Migrations other helpers append are translated generically, not table by table."""
    future = """
    CREATE TABLE notes (
        uuid TEXT PRIMARY KEY,
        trial_uuid TEXT NOT NULL REFERENCES trials(uuid),
        score REAL NOT NULL,
        n INTEGER
    );
    CREATE INDEX notes_by_trial ON notes(trial_uuid) WHERE n IS NOT NULL;
    ALTER TABLE sessions ADD COLUMN notes_count INTEGER NOT NULL DEFAULT 0;
    """
    assert (
        "DOUBLE PRECISION" in translate_ddl(future)[0] and "DEFERRABLE INITIALLY DEFERRED" in translate_ddl(future)[0]
    )
    conn = PgConnection(ServerAddress(pg_url))
    try:
        assert conn.migrate((*MIGRATIONS, future), SCHEMA_VERSION + 1) == 0
        assert conn.version() == SCHEMA_VERSION + 1
        assert conn.columns("notes") == ["uuid", "trial_uuid", "score", "n"]
        # a newer schema than this program knows is refused, as on SQLite
        with pytest.raises(StoreError, match="newer than this program"):
            conn.migrate(MIGRATIONS, SCHEMA_VERSION)
    finally:
        conn.close()


def test_runtime_sql_translation():
    assert (
        translate("INSERT OR IGNORE INTO t(a, b) VALUES (?, ?)")
        == "INSERT INTO t(a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert (
        translate("SELECT group_concat(x, ';') FROM t WHERE y LIKE '10%'")
        == "SELECT string_agg(x, ';') FROM t WHERE y LIKE '10%%'"
    )
    assert translate("PRAGMA defer_foreign_keys = ON") is None


def test_same_session_gives_the_same_answers_table_as_sqlite(tmp_path, pg_url, study):
    with ResultsStore(pg_url) as server, ResultsStore(tmp_path / "r.sqlite") as local:
        scripted_session(server, study)
        scripted_session(local, study)
        on_server = answers_frame(server, include_superseded=True).drop(columns=RUN_SPECIFIC + ["supersedes"])
        on_file = answers_frame(local, include_superseded=True).drop(columns=RUN_SPECIFIC + ["supersedes"])
    assert len(on_server) == len(on_file) > 20
    assert on_server.loc[on_server["superseded"], "trial"].nunique() == 1
    pd.testing.assert_frame_equal(on_server, on_file)
    assert on_server["rt_ms"].iloc[0] == 1234.5678


def test_resume_and_refusals_work_on_the_server(pg_url, study):
    with ResultsStore(pg_url) as store:
        controller = SessionController(study, store, "B02")
        for _ in range(5):
            controller.submit(Response(("cat",), 10.0, "t", "t"))
        with pytest.raises(StoreError, match="already answered"):
            store.submit(
                controller.session, TrialAnswer(controller.session.trials[0], "x", Response(("dog",), 1.0, "t", "t"))
            )
    with ResultsStore(pg_url) as store:
        resumed = SessionController(study, store, "B02")
        assert resumed.resumed and resumed.position == 5
        assert store.unfinished_session(study, "B02")[2] == 5


def test_sessions_of_two_studies_on_one_server_are_kept_apart(tmp_path, pg_url, study):
    """A lab's server holds several studies: an annotator's open session of one is neither
    refused as a protocol change nor offered for resuming when they start the other."""
    other = load_study(make_study(tmp_path / "other", name="other"), check_images=False)
    with ResultsStore(pg_url) as store:
        first = SessionController(study, store, "X01")
        first.submit(Response(("cat",), 10.0, "t", "t"))
        assert store.unfinished_session(other, "X01") is None
        second = SessionController(other, store, "X01")  # was: ProtocolChangedError
        assert not second.resumed and second.session.uuid != first.session.uuid
        assert store.unfinished_session(study, "X01")[::2] == (first.session.uuid, 1)
        assert store.unfinished_session(other, "X01")[::2] == (second.session.uuid, 0)
        answer_all(second)
        second.finish()
        resumed = SessionController(study, store, "X01")  # not "already finished": that was the other study
        assert resumed.resumed and resumed.session.uuid == first.session.uuid and resumed.position == 1


def test_export_import_and_merge_between_file_and_server(tmp_path, pg_url, study):
    with ResultsStore(tmp_path / "desk.sqlite") as desk:
        scripted_session(desk, study, "C03")
    first = merge_stores(pg_url, [tmp_path / "desk.sqlite"])
    again = merge_stores(pg_url, [tmp_path / "desk.sqlite"])
    assert first.added["trials"] == 17 and sum(again.added.values()) == 0
    with ResultsStore(pg_url) as server:
        scripted_session(server, study, "D04")
        export_answers(server, tmp_path / "out" / "answers.csv")
        expected = answers_frame(server, include_superseded=True)
    back = merge_stores(tmp_path / "copy.sqlite", [pg_url])
    assert back.added["trials"] == expected["trial_uuid"].nunique()
    with ResultsStore(tmp_path / "imported.sqlite") as imported:
        assert import_answers(imported, tmp_path / "out" / "answers.csv") == expected["trial_uuid"].nunique()
        assert import_answers(imported, tmp_path / "out" / "answers.csv") == 0
    with ResultsStore(tmp_path / "copy.sqlite", readonly=True) as copy:
        pd.testing.assert_frame_equal(answers_frame(copy, include_superseded=True), expected)


def test_many_desktops_create_the_schema_at_once(pg_url):
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_store() -> None:
        try:
            barrier.wait()
            ResultsStore(pg_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with ResultsStore(pg_url, readonly=True) as store:
        assert store.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            (str(SCHEMA_VERSION),)
        ]


def test_password_is_never_shown_and_a_dead_server_is_a_clear_error():
    address = ServerAddress("postgresql://lab:secret@127.0.0.1:1/study")
    assert "secret" not in address and address.name == "study"
    assert (
        ServerAddress(address).url == address.url == "postgresql://lab:secret@127.0.0.1:1/study"
    )  # shown redacted, kept whole
    with pytest.raises(ServerUnavailableError, match=r"127\.0\.0\.1:1/study: cannot connect") as caught:
        ResultsStore("postgresql://lab:secret@127.0.0.1:1/study")
    assert "secret" not in str(caught.value)


def test_counterbalancing_rotation_holds_when_desktops_start_at_once(tmp_path, pg_url):
    from tests.protocol.test_counterbalance import write_blocks

    folder = make_study(tmp_path / "cb")
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    (folder / "study.toml").write_text(
        toml + '\n[counterbalance]\nphases = ["test"]\nblocks = "block"\n', encoding="utf-8"
    )
    write_blocks(folder, lambda number, row: "" if row[3] != "test" else "abc"[number % 3])
    study = load_study(folder, check_images=False)
    ResultsStore(pg_url).close()
    sessions = at_once(pg_url, 6, lambda store, number: store.open_session(study, f"S{number}"))
    assert sorted(s.assignment.arrival for s in sessions) == list(range(6))
    seen = Counter(t.image_id for s in sessions for t in s.trials if t.phase == "test")
    assert set(seen.values()) == {2}

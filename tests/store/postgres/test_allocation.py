"""Sharing images out (judgements_per_image): on a results file and on a real server."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest

from study_app.errors import ProtocolError, StoreError
from study_app.protocol.responses import Response, utc_now
from study_app.protocol.schedule import phase_trials
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame
from study_app.store.db import write
from study_app.store.progress import format_progress, study_progress
from tests.store.postgres.conftest import allocated_study, answer_all, at_once


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """The same tests on a results file and on the server."""
    return tmp_path / "r.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_every_image_gets_exactly_r_answers_and_then_the_pool_is_empty(tmp_path, location):
    # 12 test images, r = 2, 3 images per session: 8 sessions fill every slot
    study = load_study(allocated_study(tmp_path / "s", per_class_test=3, r=2, share=3), check_images=False)
    with ResultsStore(location) as store:
        seen: dict[str, list[str]] = {}
        for number in range(8):
            controller = SessionController(study, store, f"A{number}")
            tests = [t for t in controller.session.trials if t.phase == "test"]
            assert [t.index for t in tests] == [0, 1, 2] and len({t.image_id for t in tests}) == 3
            seen[f"A{number}"] = [t.image_id for t in tests]
            answer_all(controller)
            controller.finish()
        with pytest.raises(StoreError, match="no image is left for annotator A8"):
            SessionController(study, store, "A8")
        frame = answers_frame(store)
    test = frame[frame["phase"] == "test"].drop_duplicates("trial_uuid")
    assert Counter(Counter(test["image_id"]).values()) == {2: 12}
    # the training phase is not shared out: every annotator saw all its images
    assert (frame[frame["phase"] == "training"].groupby("annotator")["image_id"].nunique() == 4).all()
    # the stored order is the annotator's seeded order restricted to the claimed images
    full = [t.image_id for t in load_order(study, "A0")]
    assert seen["A0"] == [i for i in full if i in set(seen["A0"])]


def load_order(study, annotator):
    return phase_trials(study, study.phase("test"), annotator)


def test_many_desktops_claiming_at_once_never_share_a_slot(tmp_path, pg_url):
    """12 sessions open at the same moment on their own connections (SKIP LOCKED claims)."""
    study = load_study(allocated_study(tmp_path / "s", per_class_test=6, r=3, share=6), check_images=False)
    ResultsStore(pg_url).close()
    sessions = at_once(pg_url, 12, lambda store, number: SessionController(study, store, f"P{number:02d}").session)
    claimed = {s.uuid: [t.image_id for t in s.trials if t.phase == "test"] for s in sessions}
    # 24 images x 3 slots = 72 = 12 sessions x 6: each got its full share, no image more than 3 times
    assert all(len(images) == len(set(images)) == 6 for images in claimed.values())
    assert Counter(Counter(i for images in claimed.values() for i in images).values()) == {3: 24}
    with ResultsStore(pg_url, readonly=True) as store:
        held = store.conn.execute(
            "SELECT session_uuid, image_id FROM allocations WHERE session_uuid IS NOT NULL"
        ).fetchall()
    assert sorted(held) == sorted((s, i) for s, images in claimed.items() for i in images)


def make_quiet(store: ResultsStore, session_uuid: str, minutes: float) -> None:
    """The session's last sign of life was ``minutes`` ago (as if the desktop had been left)."""
    then = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    with write(store.conn) as conn:
        conn.execute("UPDATE sessions SET heartbeat_at = ?, started_at = ? WHERE uuid = ?", (then, then, session_uuid))


def test_abandoned_sessions_return_their_unanswered_images(tmp_path, location):
    # 4 test images, r = 1, 2 per session, released after 1 minute without an answer
    study = load_study(
        allocated_study(tmp_path / "s", per_class_test=1, r=1, share=2, release_min=1), check_images=False
    )
    with ResultsStore(location) as store:
        left = SessionController(study, store, "L1")
        answer_all(left, limit=5)  # training (4) and the first test image
        left_images = [t.image_id for t in left.session.trials if t.phase == "test"]
        SessionController(study, store, "K1")  # takes the other two images
        with pytest.raises(StoreError, match="no image is left"):
            SessionController(study, store, "M1")
        make_quiet(store, left.session.uuid, minutes=2)
        taker = SessionController(study, store, "M1")
        taken = [t.image_id for t in taker.session.trials if t.phase == "test"]
        assert taken == [left_images[1]]  # the unanswered one came back; the answered one stays answered
        # the annotator who left comes back: the image went on, so it leaves their order
        back = SessionController(study, store, "L1")
        assert (
            back.resumed
            and back.complete
            and [t.image_id for t in back.session.trials if t.phase == "test"] == left_images[:1]
        )
        answer_all(taker)
        report = format_progress(study_progress(store))
    assert (
        "4 image(s), 1 answer(s) each: 2 complete, 0 begun, 2 not begun; slots: 2 answered, 2 held by sessions, 0 free"
        in report
    )


def test_late_answer_after_the_slot_went_on_is_kept_and_reported(tmp_path, location):
    study = load_study(
        allocated_study(tmp_path / "s", per_class_test=1, r=1, share=4, release_min=1), check_images=False
    )
    with ResultsStore(location) as store:
        slow = SessionController(study, store, "S1")
        answer_all(slow, limit=4)  # training only; the four test images are held
        make_quiet(store, slow.session.uuid, minutes=5)
        fast = SessionController(study, store, "F1")
        answer_all(fast)
        now = utc_now()
        slow.submit(Response(("cat",), 50.0, now, now))  # the window was still open
        frame = answers_frame(store)
        progress = study_progress(store)[0]
    first = slow.session.trials[4].image_id
    assert (frame["image_id"] == first).sum() == 2  # never thrown away
    test = next(p for p in progress.phases if p.name == "test")
    assert test.over() == [first] and test.answers[first] == 2


def test_a_revision_keeps_its_slot(tmp_path, location):
    study = load_study(allocated_study(tmp_path / "s", per_class_test=1, r=1, share=4), check_images=False)
    with ResultsStore(location) as store:
        controller = SessionController(study, store, "U1")
        answer_all(controller, limit=6)  # training and two test images
        assert controller.can_undo()
        controller.undo()
        now = utc_now()
        controller.submit(Response(("dog",), 70.0, now, now))
        filled = store.conn.execute("SELECT COUNT(*) FROM allocations WHERE trial_uuid IS NOT NULL").fetchone()[0]
        test = next(p for p in study_progress(store)[0].phases if p.name == "test")
    assert filled == 2 and sorted(test.answers.values()) == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("judgements_per_image = 2\n", "judgements_per_image", "needs images_per_annotator"),
        (
            "judgements_per_image = -1\nimages_per_annotator = 2\n",
            "judgements_per_image",
            "must be between 0 and 1,000",
        ),
        ("judgements_per_image = 2\nimages_per_annotator = 99\n", "images_per_annotator", "must be 1..12"),
        ("images_per_annotator = 2\n", "images_per_annotator", "only applies with judgements_per_image"),
        (
            "judgements_per_image = 2\nimages_per_annotator = 2\nrelease_after_min = 0\n",
            "release_after_min",
            "must be between 0.1 and 10,080",
        ),
    ],
)
def test_protocol_checks_the_allocation_keys_with_file_and_line(tmp_path, extra, field, message):
    from tests.factory import make_study

    folder = make_study(tmp_path / "s")
    toml = folder / "study.toml"
    text = toml.read_text(encoding="utf-8").replace("break_every = 4\n", "break_every = 4\n" + extra)
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_study(folder, check_images=False)
    problem = next(p for p in caught.value.problems if field in (p.field or ""))
    assert message in problem.message and problem.file == "study.toml"
    assert (
        problem.line == text.splitlines().index(next(line for line in text.splitlines() if line.startswith(field))) + 1
    )


def test_claims_take_turns_so_the_last_desktops_get_their_full_share(tmp_path, pg_url, pg_server):
    """Slots that exactly fit: a claim must not skip rows a concurrent claim locked and left.

    100 images x 2 slots = 200 = 5 annotators x 40. The third desktop's claim crosses from
    first to second slots, so its batch holds second slots of images it took a first slot
    of: it keeps one per image and leaves the others locked until it commits. The claim is
    held open (another connection locks the sessions table, so the claim waits before it
    stores its session) while desktops 4 and 5 claim. Row locks alone let them skip the
    rows the third left, and the fifth came up short; taking turns, they wait and get 40.
    """
    import psycopg

    study = load_study(allocated_study(tmp_path / "s", per_class_test=25, r=2, share=40), check_images=False)
    for number in (1, 2):
        with ResultsStore(pg_url) as store:
            SessionController(study, store, f"P{number}")
    claimed: dict[str, int] = {}
    errors: list[BaseException] = []

    def desktop(number: int) -> None:
        try:
            with ResultsStore(pg_url) as store:
                session = SessionController(study, store, f"P{number}").session
                claimed[f"P{number}"] = sum(t.phase == "test" for t in session.trials)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def waiting_desktops(watcher) -> int:
        return watcher.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'study-app' AND wait_event_type = 'Lock'"
        ).fetchone()[0]

    with psycopg.connect(pg_url, autocommit=True) as watcher, psycopg.connect(pg_url) as locker:
        locker.execute("LOCK TABLE sessions IN SHARE MODE")
        threads = [threading.Thread(target=desktop, args=(n,)) for n in (3, 4, 5)]
        for count, thread in enumerate(threads, start=1):
            thread.start()
            deadline = time.monotonic() + 30
            while waiting_desktops(watcher) < count:
                assert time.monotonic() < deadline, "a desktop never reached the lock"
                time.sleep(0.05)
        locker.commit()
    for thread in threads:
        thread.join()
    assert not errors
    assert claimed == {"P3": 40, "P4": 40, "P5": 40}

"""A timed phase in the browser: fixation, image and mask scheduled in frames with
requestAnimationFrame; the stored on-screen times are within one frame of the protocol's,
and a pause after the image goes on at the response screen without showing it again."""

from __future__ import annotations

import json
import sqlite3

from selenium.webdriver.common.keys import Keys

from study_app.store import ResultsStore, answers_frame
from tests.factory import make_study
from tests.web.conftest import Page

FIXATION_MS, IMAGE_MS, MASK_MS = 300, 150, 200
TRAINING = 4
PAUSED = TRAINING + 2


def timed_study(root):
    study = make_study(root)
    toml = (study / "study.toml").read_text()
    timed = (
        f"answers = 1\nbreak_every = 4\n[phases.presentation]\n"
        f"fixation_ms = {FIXATION_MS}\nimage_ms = {IMAGE_MS}\nmask_ms = {MASK_MS}\n"
    )
    (study / "study.toml").write_text(toml.replace("answers = 3\nbreak_every = 4\n", timed))
    return study


def test_timed_phase_stores_times_within_one_frame(serve, driver, tmp_path):
    server = serve(timed_study(tmp_path / "tiny"))
    page = Page(driver, server)
    page.start("P01")
    page.walk(lambda position: page.answer("cat"), until=TRAINING)

    def answer(position: int) -> None:
        assert driver.find_element("id", "view").get_attribute("data-mode") == "blank"  # the image is gone
        if position != PAUSED:
            page.answer("dog")
            return
        page.keys("bus", Keys.ENTER, Keys.F9)
        page.wait_for("d.message === 'pause' && d.accepting === '1'", "the pause screen")
        assert "without seeing the image again" in page.text("message-body")
        page.keys(Keys.ENTER)
        page.wait_for(f"d.position === '{PAUSED}' && d.ready === '1'", "the response screen again")
        assert driver.find_element("id", "view").get_attribute("data-mode") == "blank"
        assert "bus" in page.text("slots")
        page.chord(Keys.CONTROL, Keys.ENTER)
        page.wait_for(f"d.position !== '{PAUSED}'", "the next trial")

    shown = page.walk(answer)
    assert shown == list(range(TRAINING, TRAINING + 12))
    assert page.errors() == []

    with ResultsStore(server.store, readonly=True) as results:
        frame = answers_frame(results)
    test = frame[frame["phase"] == "test"].set_index("trial")
    assert len(test) == 12
    assert test.loc[PAUSED - TRAINING, "paused"] and test.loc[PAUSED - TRAINING, "label_id"] == "bus"
    with sqlite3.connect(server.store) as conn:
        events = conn.execute("SELECT trial_index, kind, detail FROM events WHERE phase = 'test'").fetchall()
    timing = {trial: json.loads(detail) for trial, kind, detail in events if kind == "presentation"}
    dropped = {trial for trial, kind, _detail in events if kind == "frame_dropped"}
    assert sorted(timing) == list(range(12))
    clean = [trial for trial in timing if timing[trial]["dropped_frames"] == 0]
    assert set(timing) - set(clean) == dropped  # a trial with a dropped frame is marked
    # a loaded machine drops a frame now and then (marked, as checked above): a third at least are clean
    assert len(clean) >= 4, f"frames dropped in {12 - len(clean)} of 12 trials: {timing}"
    for trial in clean:
        times = timing[trial]
        frame_ms = 1000.0 / times["refresh_hz"]
        assert times["frames_image"] == round(IMAGE_MS / frame_ms)
        for part, planned in (("fixation", FIXATION_MS), ("image", IMAGE_MS), ("mask", MASK_MS)):
            assert abs(times[f"measured_ms_{part}"] - planned) <= frame_ms, (trial, part, times)
        assert abs(test.loc[trial, "presented_ms"] - IMAGE_MS) <= frame_ms
        assert test.loc[trial, "presented_ms"] == times["measured_ms_image"]

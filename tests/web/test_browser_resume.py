"""Nothing is lost and nothing counted twice: a reload resumes at the exact trial, an answer
given while the server is down (killed with SIGKILL) waits in the page's localStorage and
is re-sent once the server is back, also across a reload; and undo, "not sure", flag and
pause do in the browser what they do on the desktop, as the store shows."""

from __future__ import annotations

import pandas as pd
from selenium.webdriver.common.keys import Keys

from study_app.store import ResultsStore, answers_frame
from tests.factory import make_study
from tests.web.conftest import Page

#: The tiny study: 4 training images (feedback, no undo), then 12 test images (3 ranked
#: guesses, undo on, a break after every 4), so test trial n is at position 4 + n.
TRAINING = 4


def rows_of(frame: pd.DataFrame, position: int) -> pd.DataFrame:
    phase, trial = ("training", position) if position < TRAINING else ("test", position - TRAINING)
    return frame[(frame["phase"] == phase) & (frame["trial"] == trial)].sort_values("rank")


def test_reload_and_killed_server_lose_nothing(serve, driver, tmp_path):
    server = serve(make_study(tmp_path / "tiny"))
    page = Page(driver, server)
    page.start("R01")
    page.settled()
    page.keys(Keys.ENTER)  # the training phase's start screen
    page.settled()
    page.answer("cat")
    page.wait_for("d.message === 'feedback'", "the feedback")
    page.chord(Keys.CONTROL, "z")  # as on the desktop: said, not done, where feedback showed the answer
    assert "Undo is off in this part (its feedback shows the right answer)" in page.text("message-body")
    page.walk(lambda position: page.answer("cat"), until=TRAINING)

    # undo: the answer comes back into the slots, is changed and submitted again
    page.answer("cat")
    page.chord(Keys.CONTROL, "z")
    page.wait_for(f"d.position === '{TRAINING}' && d.ready === '1'", "the trial taken back")
    assert "Revising your last answer" in page.text("status")
    assert "cat" in page.text("slots")
    page.keys(Keys.F7, "dog", Keys.ENTER)
    page.chord(Keys.CONTROL, Keys.ENTER)
    page.wait_for(f"d.position === '{TRAINING + 1}' && d.ready === '1'", "the trial after the revised one")

    page.keys(Keys.F5)  # not sure: at once over empty slots where undo is on
    page.wait_for(f"d.position === '{TRAINING + 2}' && d.ready === '1'", "the next trial")

    page.keys(Keys.F8, "2", Keys.ENTER)  # flag: reason 2 (offensive), no note, Enter keeps it
    assert "flagged: offensive" in page.text("status")
    page.answer("car")

    # pause: the image goes, the chosen class stays
    page.settled()
    page.keys("bus", Keys.ENTER, Keys.F9)
    page.wait_for("d.message === 'pause' && d.accepting === '1'", "the pause screen")
    assert not page.visible("trial")
    page.keys(Keys.ENTER)
    page.wait_for(f"d.position === '{TRAINING + 3}' && d.ready === '1'", "the paused trial back")
    assert "bus" in page.text("slots")
    page.chord(Keys.CONTROL, Keys.ENTER)
    page.walk(lambda position: page.answer("bus"), until=TRAINING + 4)  # past the break

    # a reload in the middle of a trial: the same trial again, as the server has it
    page.keys("cat", Keys.ENTER)
    driver.refresh()
    data = page.settled()
    assert data["screen"] == "trial" and data["position"] == str(TRAINING + 4)
    assert page.server_state()["position"] == TRAINING + 4

    # the server killed as the answer is submitted: it waits in localStorage, unacknowledged,
    # until the server is back (the search needs the server: the class is chosen before)
    page.keys("dog", Keys.ENTER)
    page.wait(lambda d: "dog" in page.text("slots"), "the class in the slots")
    server.kill()
    page.chord(Keys.CONTROL, Keys.ENTER)
    page.wait(lambda d: page.saved() == "retry", "the page to say the answer is not saved yet")
    assert [answer["position"] for answer in page.pending()] == [TRAINING + 4]
    assert page.data()["position"] == str(TRAINING + 4)  # it does not move on unsaved
    server.start()
    page.wait_for(f"d.position === '{TRAINING + 5}' && d.ready === '1'", "the next trial once re-sent", 30)
    assert page.saved() == "saved"
    assert page.pending() == []

    # killed again, the answer given, the server back and the page reloaded at once: the
    # reloaded page sends its queue first (or finds it stored by the retry): stored once
    page.keys("car", Keys.ENTER)
    page.wait(lambda d: "car" in page.text("slots"), "the class in the slots")
    server.kill()
    page.chord(Keys.CONTROL, Keys.ENTER)
    page.wait(lambda d: page.saved() == "retry", "the answer queued")
    server.start()
    driver.refresh()
    page.wait_for(f"d.position === '{TRAINING + 6}' && d.ready === '1'", "the trial after the re-sent one", 30)
    assert page.pending() == []

    page.walk(lambda position: page.answer("bus"))
    assert [error for error in page.errors() if "ERR_CONNECTION_REFUSED" not in error] == []  # only while it was down

    with ResultsStore(server.store, readonly=True) as results:
        frame = answers_frame(results)
        everything = answers_frame(results, include_superseded=True)
    assert frame["trial_uuid"].nunique() == 16 and len(frame.drop_duplicates(["phase", "trial"])) == 16
    first = rows_of(frame, TRAINING)
    assert list(first["label_id"]) == ["dog"]
    replaced = rows_of(everything, TRAINING)
    assert list(replaced[replaced["superseded"]]["label_id"]) == ["cat"]
    assert list(rows_of(frame, TRAINING + 1)["outcome"]) == ["not_sure"]
    flagged = rows_of(frame, TRAINING + 2)
    assert list(flagged["label_id"]) == ["car"] and list(flagged["flags"]) == ["offensive"]
    paused = rows_of(frame, TRAINING + 3)
    assert list(paused["label_id"]) == ["bus"] and paused["paused"].all()
    assert list(rows_of(frame, TRAINING + 4)["label_id"]) == ["dog"]
    assert list(rows_of(frame, TRAINING + 5)["label_id"]) == ["car"]

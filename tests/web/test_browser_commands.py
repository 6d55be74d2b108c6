"""The trial page's other commands in the browser: a time limit whose deadline submits the
classes chosen so far as a "timeout", multi-label answers, example images large (F10),
the hierarchy (F3) and the help (F1)."""

from __future__ import annotations

from selenium.webdriver.common.keys import Keys

from study_app.store import ResultsStore, answers_frame
from tests.factory import make_study
from tests.web.conftest import Page

TRAINING = 4
LIMIT_S = 6  # room for the look-ups of the trial after the deadline on a loaded machine


def test_deadline_multi_label_examples_hierarchy_and_help(serve, driver, tmp_path):
    study = make_study(tmp_path / "tiny")
    toml = (study / "study.toml").read_text()
    test_phase = f'answers = 2\nmode = "multi-label"\nbreak_every = 4\ntime_limit_s = {LIMIT_S}\n'
    (study / "study.toml").write_text(toml.replace("answers = 3\nbreak_every = 4\n", test_phase))
    server = serve(study)
    page = Page(driver, server)
    page.start("C01")
    page.walk(lambda position: page.answer("cat"), until=TRAINING)

    assert "select up to 2 classes" in page.text("answer-title")
    assert page.text("countdown").startswith("time left:")
    page.keys("cat", Keys.ENTER, "dog", Keys.ENTER, "bus", Keys.ENTER)
    page.wait(lambda d: "All slots are full" in page.text("status"), "the full slots")
    # nothing submitted: the deadline does, keeping the two classes chosen
    page.wait_for("d.message === 'timesup'", "the deadline", LIMIT_S + 5)
    assert "cat, dog" in page.text("message-body")
    page.wait_for(f"d.position === '{TRAINING + 1}' && d.ready === '1'", "the next trial after a moment")

    page.keys("cat")
    page.wait(lambda d: len(driver.find_elements("css selector", "#examples img")) == 2, "cat's two examples")
    page.keys(Keys.F10)
    page.wait(lambda d: page.visible("viewer"), "the large example")
    assert "example 1 of 2" in page.text("viewer-caption")
    page.keys(Keys.RIGHT)
    assert "example 2 of 2" in page.text("viewer-caption")
    page.keys(Keys.ESCAPE)
    assert not page.visible("viewer")
    page.keys(Keys.F3)  # the hierarchy, opened at the highlighted class
    page.wait(lambda d: page.visible("tree"), "the hierarchy")
    assert driver.find_element("css selector", "#tree .current").text == "cat"
    page.keys(Keys.DOWN, Keys.ENTER)  # its sibling, into the answer
    page.wait(lambda d: "dog" in page.text("slots"), "dog in the slots")
    page.chord(Keys.CONTROL, Keys.ENTER)
    page.wait_for(f"d.position === '{TRAINING + 2}' && d.ready === '1'", "the next trial")

    page.keys(Keys.F1)
    assert page.visible("help") and "Ctrl+Return" in page.text("help")
    page.keys(Keys.ESCAPE)
    assert not page.visible("help")
    page.walk(lambda position: page.answer("car"))
    assert page.errors() == []

    with ResultsStore(server.store, readonly=True) as results:
        frame = answers_frame(results)
    test = frame[frame["phase"] == "test"]
    timed_out = test[test["trial"] == 0].sort_values("rank")
    assert list(timed_out["outcome"]) == ["timeout", "timeout"] and list(timed_out["label_id"]) == ["cat", "dog"]
    assert (timed_out["rt_ms"] >= LIMIT_S * 1000).all()
    assert list(test[test["trial"] == 1]["label_id"]) == ["dog"]
    assert test["trial_uuid"].nunique() == 12

"""Whole sessions of the bundled studies in headless Chromium, by keyboard only, against
``python main.py serve``; then the results store is read back: every trial answered once,
with the classes typed, by the web front end, and the end page sent the participant on
to the completion URL only once everything was saved."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from selenium.webdriver.common.keys import Keys

from study_app.protocol.study import load_study
from study_app.session.label_search import LabelSearchIndex
from study_app.store import ResultsStore, answers_frame
from tests.web.conftest import Page


def stored_answers(store: Path) -> pd.DataFrame:
    with ResultsStore(store, readonly=True) as results:
        return answers_frame(results)


def by_position(frame: pd.DataFrame, phase_order: list[str]) -> dict[int, list[str]]:
    """Each answered trial's classes in rank order, keyed by its place in the session."""
    sizes = frame.groupby("phase")["trial"].nunique()
    offsets, offset = {}, 0
    for phase in phase_order:
        offsets[phase] = offset
        offset += int(sizes.get(phase, 0))
    ranked = frame.sort_values(["phase", "trial", "rank"])
    return {
        offsets[phase] + int(trial): list(rows["label_id"])
        for (phase, trial), rows in ranked.groupby(["phase", "trial"], sort=False)
    }


def check_session(frame: pd.DataFrame, total: int) -> None:
    """One web session, every trial answered exactly once (no second copy of a re-sent answer)."""
    assert frame["session"].nunique() == 1
    assert frame["trial_uuid"].nunique() == total
    assert not frame.duplicated(["phase", "trial", "rank"]).any()
    assert set(frame["front_end"]) == {"web"}
    assert (frame["rt_ms"] > 0).all()
    assert (frame["shown_at"] <= frame["answered_at"]).all()


def test_demo_digits_whole_session_by_keyboard(serve, driver):
    study = load_study("demo-digits")
    server = serve("demo-digits")
    page = Page(driver, server)
    page.start("D01")
    shown = page.walk(lambda position: page.answer(str(position % 10)))  # "7" finds the digit 7

    assert shown == list(range(230))  # 30 training + 200 test images, in order, none twice
    frame = stored_answers(server.store)
    check_session(frame, 230)
    answers = by_position(frame, [phase.name for phase in study.phases])
    assert answers == {position: [f"digit-{position % 10}"] for position in shown}
    assert page.errors() == []
    page.wait(lambda d: driver.current_url == server.completion_url, "the completion URL")


def test_demo_imagenet_whole_session_by_keyboard(serve, driver):
    """Up to five ranked guesses found by search, one through a group opened in the hierarchy."""
    study = load_study("demo-imagenet")
    index = LabelSearchIndex.for_label_set(study.labels)  # the desktop's ranking: the server must agree
    names = ("goldfish", "tench", "pizza", "banana", "tabby", "cup", "golden retriever", "fire engine")
    group_trial = 7
    expected: dict[int, list[str]] = {}
    server = serve("demo-imagenet")
    page = Page(driver, server)

    def answer(position: int) -> None:
        queries = [names[(position + k) % len(names)] for k in range(1 + position % 3)]
        expected[position] = [index.search(query, 1)[0].label_id for query in queries]
        if position == group_trial:
            # "retriever" is a group: Enter opens it in the hierarchy, Down then Enter takes its
            # first class; typing goes back to the search box for the next guess
            page.keys("retriever", Keys.ENTER)
            page.wait(lambda d: page.visible("tree"), "the hierarchy")
            assert "golden retriever" in page.text("tree")
            page.keys(Keys.DOWN, Keys.ENTER)
            expected[position].insert(0, study.labels.children_of["n02099029"][0])
        page.answer(*queries)

    page.start("I01")
    shown = page.walk(answer)

    assert shown == list(range(20))
    frame = stored_answers(server.store)
    check_session(frame, 20)
    assert by_position(frame, [phase.name for phase in study.phases]) == {
        position: guesses[:5] for position, guesses in expected.items()
    }
    assert frame["rank"].max() >= 3  # ranked guesses, not only first ones
    assert page.errors() == []
    page.wait(lambda d: driver.current_url == server.completion_url, "the completion URL")

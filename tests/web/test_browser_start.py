"""The start page in the browser: an online panel's link gives the annotator id (no pseudonym
asked), MTurk's preview shows the instructions only, consent is required, a bad pseudonym is
refused before anything is sent, and the screen and browser details are stored."""

from __future__ import annotations

import json
import sqlite3

from selenium.webdriver.common.by import By

from tests.factory import make_study
from tests.web.conftest import Page


def test_panel_link_preview_consent_and_client_details(serve, driver, tmp_path):
    server = serve(make_study(tmp_path / "tiny"))
    page = Page(driver, server)
    driver.get_log("browser")  # an earlier test's messages
    driver.delete_all_cookies()

    driver.get(f"{server.url}/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&workerId=W1&hitId=H1")
    assert page.visible("preview") and not page.visible("start-form")
    assert "Accept the HIT to begin" in page.text("preview")
    assert "Tiny test study" in page.text("title")

    driver.get(f"{server.url}/")
    driver.find_element(By.ID, "annotator").send_keys("../etc")
    driver.find_element(By.ID, "consent").click()
    driver.find_element(By.ID, "start-button").click()
    assert "letters, digits" in page.text("start-error")  # refused in the page, nothing sent

    driver.get(f"{server.url}/?PROLIFIC_PID=5f0c7e2a9b&STUDY_ID=S7&SESSION_ID=X9")
    assert not page.visible("pseudonym-row") and "5f0c7e2a9b" in page.text("panel-id")
    driver.find_element(By.ID, "start-button").click()
    assert "tick the box" in page.text("start-error")  # no start without consent
    driver.find_element(By.ID, "consent").click()
    driver.find_element(By.ID, "start-button").click()
    page.wait_for("d.screen === 'message' || d.screen === 'trial'", "the trial page")
    assert driver.current_url == f"{server.url}/trial"
    assert page.server_state()["annotator"] == "5f0c7e2a9b"
    assert page.errors() == []

    with sqlite3.connect(server.store) as conn:
        details = dict(conn.execute("SELECT kind, detail FROM events WHERE kind IN ('web_start', 'panel')").fetchall())
    client = json.loads(details["web_start"])
    assert client["screen_w"] > 0 and client["dpr"] == 1 and "HeadlessChrome" in client["user_agent"]
    assert 20 <= client["refresh_hz"] <= 500  # measured with requestAnimationFrame while the page was read
    assert json.loads(details["panel"])["STUDY_ID"] == "S7"

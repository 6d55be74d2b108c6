"""The browser tests' parts: a real study server (``python main.py serve`` in a subprocess) and
Debian's headless Chromium driven through Selenium and /usr/bin/chromedriver.

No browser is ever downloaded: Selenium gets the system's chromedriver and chromium by path
(its own driver manager is never asked). Without /usr/bin/chromedriver the tests that need
the browser are skipped with a reason (``apt-get install chromium chromium-driver``;
.ci/run does); the API tests beside them run either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import JavascriptException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.serve_process import ServerProcess

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
#: The window the page is tested (and the screenshot taken) in.
WINDOW = (1400, 900)
#: Longest wait for one step of the page (an answer's round trip, a screen change).
STEP_TIMEOUT_S = 15.0

#: Polls a condition on the body's data attributes inside the page; resolves with the data, or
#: null at the deadline (CONDITION is replaced by the condition's source: no eval in the page,
#: whose Content-Security-Policy forbids it).
_WAIT_SCRIPT = """
const [leftMs, done] = arguments;
const until = performance.now() + leftMs;
const test = (d) => (CONDITION);
(function poll() {
  const d = document.body ? Object.assign({}, document.body.dataset) : {};
  if (test(d)) done(d);
  else if (performance.now() > until) done(null);
  else setTimeout(poll, 5);
})();
"""


class StudyServer(ServerProcess):
    """A real server for one study and store whose completion URL points back at the server
    itself (its icon, with a code in the query), so that the end page's redirect can be seen to
    happen without leaving loopback."""

    def __init__(self, study: str | Path, store: Path, log: Path) -> None:
        super().__init__(study, store, log)
        self.completion_url = f"{self.url}/static/icon.svg?cc=DONE"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., StudyServer]]:
    """``serve(study)``: a started server for ``study`` (a bundled name or a folder), its store in tmp_path."""
    servers: list[StudyServer] = []

    def start(study: str | Path, store: Path | None = None) -> StudyServer:
        server = StudyServer(study, store or tmp_path / f"results-{len(servers)}.sqlite", tmp_path / "server.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def driver() -> Iterator[WebDriver]:
    """One headless Chromium for all browser tests (each test's server is another origin);
    the tests that use it are skipped, saying why, where Debian's chromedriver is missing."""
    if not CHROMEDRIVER.is_file() or not CHROMIUM.is_file():
        pytest.skip(f"{CHROMEDRIVER} or {CHROMIUM} is missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    chrome.set_script_timeout(20)
    yield chrome
    chrome.quit()


class Page:
    """The participant's side: start, read where the page stands, press keys, answer."""

    def __init__(self, driver: WebDriver, server: StudyServer) -> None:
        self.driver = driver
        self.server = server

    # -- reading the page --------------------------------------------------------------
    def data(self) -> dict[str, str]:
        """The body's data attributes: screen (trial, message, loading), position, ready, message kind."""
        return dict(self.driver.execute_script("return document.body ? Object.assign({}, document.body.dataset) : {}"))

    def wait(self, condition: Callable[[dict[str, str]], bool], what: str, timeout: float = STEP_TIMEOUT_S) -> dict:
        """Wait until ``condition(data)`` holds (polled from here: for conditions on more than the data)."""
        WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(
            lambda _driver: condition(self.data()), message=f"waiting for {what}; the page: {self.describe()}"
        )
        return self.data()

    def wait_for(self, condition: str, what: str, timeout: float = STEP_TIMEOUT_S) -> dict[str, str]:
        """Wait until the JavaScript expression ``condition`` over the body's data ``d`` holds,
        polled inside the page (one WebDriver round trip instead of one per poll: on a loaded
        machine those dominated a 230-trial walk). A page that navigates meanwhile is waited
        on afresh."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left_ms = int((deadline - time.monotonic()) * 1000)
            try:
                found = self.driver.execute_async_script(_WAIT_SCRIPT.replace("CONDITION", condition), left_ms)
            except JavascriptException:  # the document was replaced while waiting (a redirect, a reload)
                time.sleep(0.02)
                continue
            if found is not None:
                return dict(found)
        raise AssertionError(f"waiting for {what} ({condition}); the page: {self.describe()}")

    def describe(self) -> str:
        try:
            return f"{self.driver.current_url} {self.data()} {self.text('status')!r} {self.errors()}"
        except Exception as exc:  # a description for a failure message must not fail itself
            return f"(cannot describe the page: {exc})"

    def text(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    def saved(self) -> str:
        """The saved indicator: saving, saved, retry (not saved yet, kept in the browser), error."""
        return str(self.driver.find_element(By.ID, "saved").get_attribute("data-saved") or "")

    def errors(self) -> list[str]:
        """Errors the page's scripts logged (missing files, exceptions, CSP refusals). A 429 is
        not one: the server's per-participant rate limit slows a scripted walk (several trials
        a second, faster than anyone answers), and the page waits it out; that nothing is lost
        then is what the walks' store checks show."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and "status of 429" not in entry["message"]
        ]

    def server_state(self) -> dict:
        """GET /api/state with the page's own cookie (what the server says is current)."""
        return dict(
            self.driver.execute_async_script(
                "const done = arguments[0];"
                "fetch('/api/state', {credentials: 'same-origin'})"
                ".then(r => r.json()).then(done, e => done(String(e)));"
            )
        )

    def pending(self) -> list[dict]:
        """The answers this browser holds unacknowledged (the localStorage queue)."""
        items = self.driver.execute_script(
            "return Object.keys(localStorage).filter(k => k.endsWith(':pending')).map(k => localStorage.getItem(k));"
        )
        return [answer for item in items for answer in json.loads(item)]

    # -- acting ------------------------------------------------------------------------
    def keys(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def chord(self, modifier: str, key: str) -> None:
        """A key with a modifier held (send_keys would release the modifier first)."""
        ActionChains(self.driver).key_down(modifier).send_keys(key).key_up(modifier).perform()

    def start(self, annotator: str) -> None:
        """The start page: a pseudonym, the consent box, Start; then the trial page loads."""
        driver = self.driver
        driver.get_log("browser")  # the last test's messages (its completion page's favicon) are not this one's
        driver.delete_all_cookies()  # cookies ignore ports: the last test's server's session cookie
        driver.get(self.server.url + "/")
        driver.execute_script("localStorage.clear(); sessionStorage.clear();")
        driver.find_element(By.ID, "annotator").send_keys(annotator)
        driver.find_element(By.ID, "consent").click()
        driver.find_element(By.ID, "start-button").click()
        self.wait_for("d.screen === 'trial' || d.screen === 'message'", "the trial page")

    def settled(self) -> dict[str, str]:
        """Wait until the page takes keys: a trial ready for an answer, or a screen past its key
        guard, or the end page."""
        return self.wait_for(
            "(d.screen === 'trial' && d.ready === '1') || (d.screen === 'message' && d.accepting === '1')"
            " || 'done' in d",
            "a trial or a screen that takes keys",
        )

    def answer(self, *queries: str) -> str:
        """Type each query and Enter (its top hit into the next slot), then Ctrl+Return; waits
        until the page has moved on from this trial. Returns the trial's position."""
        # the trial as it is now (a state the page received since it settled may have redrawn it)
        position = self.wait_for("d.screen === 'trial' && d.ready === '1'", "a trial ready for an answer")["position"]
        actions = ActionChains(self.driver)
        for query in queries:
            actions.send_keys(query, Keys.ENTER)
        actions.key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        self.wait_for(f"d.position !== '{position}' || d.screen !== 'trial'", "the next screen")
        return position

    def visible(self, element_id: str) -> bool:
        return bool(self.driver.find_element(By.ID, element_id).is_displayed())

    def walk(self, answer_trial: Callable[[int], object], until: int | None = None) -> list[int]:
        """Answer every trial by keyboard (``answer_trial(position)``, e.g. with :meth:`answer`),
        continue every other screen with Enter, until the end page has every answer
        acknowledged (or trial ``until`` is on screen, ready); returns the positions of the
        trials answered, in the order they were shown."""
        shown: list[int] = []
        while True:
            data = self.settled()
            if "done" in data:  # the end page
                self.wait_for("d.done === '1'", "the end page's thanks")
                return shown
            if data["screen"] == "trial" and int(data["position"]) == until:
                return shown
            if data["screen"] == "message":
                self.keys(Keys.ENTER)
                self.wait_for("d.screen !== 'message' || d.accepting !== '1'", "the next screen")
            else:
                position = int(data["position"])
                assert position not in shown, f"trial {position} was shown twice"
                shown.append(position)
                answer_trial(position)

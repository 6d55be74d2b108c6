"""Writes docs/screenshot-web-trial.png: the browser trial page of demo-imagenet in Debian's
headless Chromium (1400 x 900), served by ``python main.py serve`` into a throwaway store.

The scene: the first training photo, "golden retriever" already in the first of the five
ranked slots, and "retriever" typed in the search box, whose results show the retriever
group (in italics) above its classes, the highlighted class described below them. It uses
the browser tests' own server and page drivers (tests/web/conftest.py), so it needs the test
extra (selenium) and /usr/bin/chromium with /usr/bin/chromedriver.

    python tools/web_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshot-web-trial.png"


def main() -> None:
    sys.path.insert(0, str(REPO))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    from tests.web.conftest import CHROMEDRIVER, CHROMIUM, WINDOW, Page, StudyServer

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(argument)
    options.add_argument("--hide-scrollbars")
    options.add_argument("--force-device-scale-factor=1")
    with tempfile.TemporaryDirectory() as folder:
        server = StudyServer("demo-imagenet", Path(folder) / "results.sqlite", Path(folder) / "server.log").start()
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            page = Page(driver, server)
            page.start("screenshot")
            page.settled()
            page.keys(Keys.ENTER)  # the training phase's start screen
            page.wait_for("d.screen === 'trial' && d.ready === '1'", "the first trial")
            page.keys("golden retriever", Keys.ENTER)
            page.wait(lambda d: "golden retriever" in page.text("slots"), "the first guess")
            page.keys("retriever")
            page.wait(lambda d: "Labrador" in page.text("results"), "the search results")
            page.keys(Keys.DOWN, Keys.DOWN)  # past the group, to a class: its description below
            page.wait(lambda d: "retriever" in page.text("details"), "the description")
            driver.save_screenshot(str(OUT))
        finally:
            driver.quit()
            server.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

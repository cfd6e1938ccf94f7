"""A real browser for the HR pages: Debian's Chromium driven by Selenium through Debian's
chromedriver (both from apt, installed by .ci/run; Selenium gets their paths and downloads
nothing), headless, with a fresh profile and a download folder. Used by the browser tests and
by scripts/server_screenshots.py."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

CHROMIUM = Path(os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KIOSK_CHROMEDRIVER", "/usr/bin/chromedriver"))
# as root without a display, on a machine with no internet: no sandbox, no GPU, no background
# connections Chromium would otherwise try (and log) at every start
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--lang=id-ID"]


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for p in (CHROMIUM, CHROMEDRIVER):
        if not p.exists():
            return f"{p} is not installed (apt-get install chromium chromium-driver)"
    return None


def gone(element) -> bool:
    """Whether the element has left the document. Selenium's staleness_of knows only "stale
    element reference"; while the next page replaces the old one, Chromium can instead answer
    "Node with given id does not belong to the document" (a CI run failed on it), which means the
    same. Any other error is raised."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in (e.msg or ""):
            return True
        raise
    return False


class Browser:
    """A headless Chromium with its own profile and download folder; `close()` removes both."""

    def __init__(self, width: int = 1366, height: int = 900):
        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = Path(tempfile.mkdtemp(prefix="kiosk-chromium-"))
        self.downloads = self.profile / "downloads"
        self.downloads.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile / 'profile'}")
        options.add_argument(f"--window-size={width},{height}")
        options.add_experimental_option("prefs", {"download.default_directory": str(self.downloads),
                                                  "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                                    "downloadPath": str(self.downloads)})
        self.driver.implicitly_wait(0)

    # --- actions as a user does them ---------------------------------------------------------

    def open(self, url: str):
        self.driver.get(url)  # waits for the page to load
        return self

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def type(self, css: str, text: str) -> None:
        el = self.find(css)
        el.clear()
        el.send_keys(text)

    def set_value(self, css: str, value: str) -> None:
        """Date and date-time inputs: typed as the browser's locale wants, so set directly."""
        self.driver.execute_script("arguments[0].value = arguments[1]", self.find(css), value)

    def choose(self, css: str, label: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(css)).select_by_visible_text(label)

    def click(self, css: str, navigates: bool = True) -> None:
        self._click(self.find(css), navigates)

    def click_text(self, tag: str, text: str, navigates: bool = True) -> None:
        from selenium.webdriver.common.by import By

        self._click(self.driver.find_element(By.XPATH, f"//{tag}[normalize-space()='{text}']"), navigates)

    def _click(self, element, navigates: bool, timeout: float = 30) -> None:
        """Click; for a link or a form's button, wait until the next page has loaded (the old
        page's root element gone), as a user waits for it."""
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.driver.find_element("tag name", "html") if navigates else None
        element.click()
        if navigates:
            wait = WebDriverWait(self.driver, timeout)
            wait.until(lambda d: gone(old), f"the page did not change within {timeout} s")
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    @property
    def path(self) -> str:
        from urllib.parse import urlsplit

        u = urlsplit(self.driver.current_url)
        return u.path + (f"?{u.query}" if u.query else "")

    def wait_download(self, suffix: str, timeout: float = 30) -> Path:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            done = [p for p in self.downloads.iterdir() if p.name.endswith(suffix)]
            if done and not any(p.name.endswith(".crdownload") for p in self.downloads.iterdir()):
                return done[0]
            time.sleep(0.1)
        raise TimeoutError(f"no {suffix} downloaded within {timeout} s: {list(self.downloads.iterdir())}")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """The whole page (the window grown to the page's height), as a PNG."""
        driver = self.driver
        if full_page:
            width = driver.get_window_size()["width"]
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height + 100, 600), 4000))
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

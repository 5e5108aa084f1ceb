"""A headless Chromium for browser tests, driven over the W3C WebDriver protocol.

Debian's `chromium` and `chromium-driver` packages give the browser and its driver; this client
speaks the driver's JSON-over-HTTP protocol with the standard library, so the tests need no
browser-automation package (Selenium's pins would pull in trio, urllib3, websocket-client and
certifi for the dozen calls used here). `Browser.start` returns None with the reason when the
machine has no Chromium, and the tests skip with it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support.server import free_port

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
T = TypeVar("T")


class WebDriverError(Exception):
    pass


def chromium() -> tuple[str, str] | str:
    """(browser, driver) executables, or why there are none."""
    driver = shutil.which("chromedriver")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if driver is None or browser is None:
        return "no Chromium here (apt-get install chromium chromium-driver; .ci/run does)"
    return browser, driver


class Element:
    def __init__(self, browser: Browser, reference: str) -> None:
        self._browser = browser
        self._id = reference

    def _call(self, method: str, suffix: str, body: Any = None) -> Any:
        return self._browser.call(method, f"/element/{self._id}{suffix}", body)

    @property
    def text(self) -> str:
        return str(self._call("GET", "/text"))

    def attribute(self, name: str) -> str | None:
        value = self._call("GET", f"/attribute/{name}")
        return None if value is None else str(value)

    def click(self) -> None:
        self._call("POST", "/click", {})

    def clear(self) -> None:
        self._call("POST", "/clear", {})

    def type(self, value: str) -> None:
        self._call("POST", "/value", {"text": value})


class Browser:
    """One Chromium session; `screenshot` writes PNGs into `artefacts`."""

    def __init__(self, driver: subprocess.Popen[bytes], url: str, artefacts: Path) -> None:
        self._driver = driver
        self._url = url
        self._session = ""
        self.artefacts = artefacts

    @classmethod
    def start(cls, artefacts: Path) -> Browser | str:
        found = chromium()
        if isinstance(found, str):
            return found
        binary, driver_path = found
        port = free_port()
        # Chromium's profile and scratch directories under the test's own temporary directory,
        # which the run removes, rather than the machine's /tmp, where they stayed.
        scratch = artefacts / "tmp"
        scratch.mkdir(exist_ok=True)
        with (artefacts / "chromedriver.log").open("wb") as log:
            driver = subprocess.Popen(
                [driver_path, f"--port={port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TMPDIR": str(scratch)},
            )
        browser = cls(driver, f"http://127.0.0.1:{port}", artefacts)
        deadline = time.monotonic() + 20
        while True:
            try:
                browser._raw("GET", "/status", None)
                break
            except OSError:
                if time.monotonic() > deadline:
                    driver.kill()
                    return "chromedriver did not start"
                time.sleep(0.1)
        options = {
            "binary": binary,
            "args": [
                "--headless=new",
                "--no-sandbox",  # as root (CI) Chromium refuses its own sandbox
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--window-size=1280,1000",
            ],
        }
        answer = browser._raw(
            "POST",
            "/session",
            {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
        )
        browser._session = answer["value"]["sessionId"]
        return browser

    def _raw(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._url + path, data, {"Content-Type": "application/json"}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return json.load(reply)
        except urllib.error.HTTPError as error:
            raise WebDriverError(error.read().decode(errors="replace")) from None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self._raw(method, f"/session/{self._session}{path}", body)["value"]

    def get(self, url: str) -> None:
        self.call("POST", "/url", {"url": url})

    def find(self, css: str) -> Element:
        found = self.call("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, found[ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        found = self.call("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, f[ELEMENT]) for f in found]

    def script(self, source: str, *args: Any) -> Any:
        return self.call("POST", "/execute/sync", {"script": source, "args": list(args)})

    @property
    def current_url(self) -> str:
        return str(self.call("GET", "/url"))

    def page_text(self) -> str:
        return self.find("body").text

    def wait_for(self, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
        """Polls `probe` until it returns something truthy (a browser has no event to await)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = probe()
            except WebDriverError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; page reads:\n{self.page_text()[:2000]}")
            time.sleep(0.2)

    def screenshot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        path.write_bytes(base64.b64decode(self.call("GET", "/screenshot")))
        return path

    def quit(self) -> None:
        try:
            self._raw("DELETE", f"/session/{self._session}", None)
        finally:
            self._driver.terminate()
            self._driver.wait(timeout=20)

"""Debian's headless Chromium, driven by Selenium from the test's event loop.

Selenium's calls block, while the hub, the agencies and the portal run in the same event loop,
so every call goes through a worker thread (`await browser.call(...)`). The browser and its
driver are the distribution's (`/usr/bin/chromium`, `/usr/bin/chromedriver`): nothing is
downloaded (Selenium Manager is kept offline)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is not installed (apt-get install chromium chromium-driver)."""


class Browser:
    def __init__(self, base_url: str, *, width: int = 412, height: int = 915) -> None:
        for path in (CHROMIUM, CHROMEDRIVER):
            if not Path(path).exists():
                raise BrowserUnavailable(f"{path} is missing: install chromium chromium-driver")
        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch a browser
        self.base_url = base_url
        self.profile = tempfile.mkdtemp(prefix="renkei-chromium-")
        self.screenshots = Path(self.profile) / "screenshots"  # where `screenshot` writes
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")  # a phone's viewport
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(60)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    async def open(self, path: str) -> None:
        await self.call(self.driver.get, self.base_url + path)

    async def find(self, css: str) -> WebElement:
        return await self.call(self.driver.find_element, By.CSS_SELECTOR, css)

    async def finds(self, css: str) -> list[WebElement]:
        return await self.call(self.driver.find_elements, By.CSS_SELECTOR, css)

    async def text(self) -> str:
        body = await self.find("body")
        return await self.call(lambda: body.text)

    async def click(self, css: str) -> None:
        """Click something that stays on the page (a checkbox)."""
        element = await self.find(css)
        await self.call(element.click)

    async def follow(self, css: str) -> None:
        """Click a link or a form's button and wait until the next page has loaded."""
        page = await self.find("html")
        element = await self.find(css)
        try:
            await self.call(element.click)
        except WebDriverException as exc:
            # chromedriver inspects the clicked node after the click; when the click has
            # already replaced the page that node is gone. The click happened: go on.
            if "does not belong to the document" not in str(exc):
                raise

        def replaced(_driver: object) -> bool:
            try:
                page.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:  # chromedriver's other word for a stale node
                if "does not belong to the document" in str(exc):
                    return True
                raise
            return False

        await self.call(WebDriverWait(self.driver, 60).until, replaced)

    async def type(self, css: str, text: str) -> None:
        element = await self.find(css)
        await self.call(element.clear)
        await self.call(element.send_keys, text)

    async def path(self) -> str:
        url = await self.call(lambda: self.driver.current_url)
        return str(url)[len(self.base_url) :]

    async def screenshot(self, name: str) -> None:
        """The page as it looks now, as `name` in `screenshots` (set by whoever made this)."""
        self.screenshots.mkdir(parents=True, exist_ok=True)
        await self.call(self.driver.save_screenshot, str(self.screenshots / name))

    async def sign_out(self) -> None:
        await self.open("/records")
        if await self.finds("form[action='/signout'] button"):
            await self.follow("form[action='/signout'] button")
            assert await self.path() == "/signin"
        await self.call(self.driver.delete_all_cookies)

    async def sign_in(self, credential: str) -> None:
        await self.sign_out()
        await self.open("/signin")
        await self.type("#identity", credential)
        await self.follow("#signin-button")
        assert await self.path() == "/records"

    async def until(
        self, condition: Callable[[str], bool], read: Callable[[], Any], within: float = 60.0
    ) -> str:
        deadline = time.monotonic() + within
        while True:
            value = await read()
            if condition(value):
                return str(value)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed what was expected (last: {value!r})")
            await asyncio.sleep(0.2)

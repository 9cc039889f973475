"""The browser suite's fixtures: one Chromium for the whole suite (Debian's package, driven by
Playwright through `executable_path`: browsers are never downloaded), a fresh context per test (its
own storage, so sign-ins never leak between tests), and the console's stack shared per module:
`console`, the real local stack (tests/support/console_stack.py), or `console_double`, the console
server in front of test doubles of the API and the feed, for what the real stack cannot be made to do
on demand (a feed that drops or refuses connections, a record in an exact state).

Every page records uncaught script errors; a test fails if the console threw any.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.support.console_harness import ConsoleHarness, console_harness
from tests.support.console_people import Person
from tests.support.console_stack import StackConsole, stack_console

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_HELP = (
    "The browser tests need Chromium from the system's packages (Playwright's own browsers are never "
    "downloaded). Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or point "
    "CALLSCRIBE_CHROMIUM at a Chromium or Chrome binary."
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]

expect.set_options(timeout=10_000)
T = TypeVar("T")


def chromium_path() -> str:
    configured = os.environ.get("CALLSCRIBE_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"CALLSCRIBE_CHROMIUM={configured} is not a file. {CHROMIUM_HELP}", pytrace=False)
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"Chromium not found on PATH. {CHROMIUM_HELP}", pytrace=False)


# Package-scoped, not session-scoped: while Playwright's sync API is running, the main thread looks
# as if an event loop were running in it, so every asyncio test after this folder would fail
# ("cannot be called from a running event loop"). The browser goes when this folder's tests end.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def console() -> Iterator[StackConsole]:
    with stack_console() as running:
        yield running


@pytest.fixture(scope="module")
def console_double() -> Iterator[ConsoleHarness]:
    with console_harness() as harness:
        yield harness


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"the console threw: {errors}"


def sign_in(page: Page, url: str, person: Person, at: str = "/") -> None:
    """Open the console at `at` and sign in as `person` (the page then shows `at`)."""
    page.goto(url + at)
    page.locator("input[name=username]").fill(person.username)
    page.locator("input[name=password]").fill(person.password)
    page.locator("button[type=submit]").click()
    expect(page.locator("input[name=password]")).to_have_count(0)


def eventually(check: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Wait until `check()` is truthy (the server side of a test: what the doubles saw) and return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)

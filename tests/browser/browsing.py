"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a query function
of the test stack to point it at, and a screenshot of each test's last page.

Chromium comes from Debian's ``chromium`` package (``make test`` installs it); Playwright
launches it by path, since ``playwright install`` cannot download browsers here. Each test
gets a fresh browser context (no cookies) and fails on any console error or uncaught
exception its pages raise, other than the error statuses it declared it expects.
Screenshots go to ``tests/browser/screenshots/`` (git-ignored).

Test modules import the fixtures: ``from browsing import chromium, tab, ui  # noqa: F401``.
"""

from __future__ import annotations

import atexit
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import start_query_server

CHROMIUM = os.environ.get("CRASHFLOW_CHROMIUM", "/usr/bin/chromium")
# Known to work on this machine's closed network: without the background-networking flags
# Chromium keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


_BROWSER = []  # (playwright, browser): one Chromium for the whole run


def _stop_browser() -> None:
    for playwright, browser in _BROWSER:
        browser.close()
        playwright.stop()


@pytest.fixture(scope="session")
def chromium():
    """One Chromium for every test module (each module imports this fixture, and Playwright's
    sync API allows one instance per thread)."""
    from playwright.sync_api import sync_playwright

    if not _BROWSER:
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
        playwright = sync_playwright().start()
        _BROWSER.append((playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)))
        atexit.register(_stop_browser)
    return _BROWSER[0][1]


@dataclass
class Tab:
    """One browser tab and what its pages said on the console."""

    page: object  # playwright Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def go(self, path: str, status: int = 200):
        answer = self.page.goto(f"{self.base_url}{path}")
        assert answer.status == status, (path, answer.status)
        return answer

    def expect_status(self, *statuses: int) -> None:
        """This test loads pages with these error statuses on purpose."""
        self.expected_statuses.update(statuses)

    def unexpected_problems(self) -> list[str]:
        problems = []
        for problem in self.problems:
            failed = FAILED_LOAD.search(problem)
            if failed and int(failed.group(1)) in self.expected_statuses:
                continue
            problems.append(problem)
        return problems


def screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")[:120] + ".png"


@pytest.fixture(scope="module")
def ui(stack, functions):
    """A query function of the test stack for the browser (no rate limits, tokens
    rechecked at once so that revocation shows)."""
    server = start_query_server(stack, functions, api_rate_limit_per_minute=0, api_token_rate_limit_per_minute=0,
                                api_token_cache_seconds=0)
    yield server
    server.stop()


@pytest.fixture
def tab(chromium, ui, request):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    current = Tab(page, ui.url)
    page.on("console", lambda message: current.problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: current.problems.append(f"uncaught: {error}"))
    try:
        yield current
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(SCREENSHOTS / screenshot_name(request.node.name)), full_page=True)
        finally:
            context.close()
    assert not current.unexpected_problems(), current.unexpected_problems()


def processed_crashes(functions, dump: str, product: str, count: int = 1, **annotations) -> list[str]:
    """``count`` crashes of ``dump`` collected and processed by the real functions (four at
    a time); their crash ids."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from conftest import submit

    def one(_) -> str:
        crash_id = submit(functions, dump, product, **annotations)
        answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
        assert answer.status_code == 200, answer.text
        return crash_id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def press_tab_until(page, predicate: str, limit: int = 120) -> None:
    """Press Tab until the focused element satisfies ``predicate`` (a JavaScript function
    of the element), as a keyboard user would move through the page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"no element reached with Tab satisfies {predicate}")

"""The built site in Debian's headless Chromium: every page from the navigation
loads without console errors and without horizontal scroll on a 375 px phone.

Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_book_site import built_html

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built HTML served on 127.0.0.1 by ``http.server`` in a thread."""
    handler = functools.partial(_QuietHandler, directory=str(built_html(tmp_path_factory)))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, url: str, width: int) -> tuple[Any, list[str]]:
    """A fresh page at ``url``; returns it and the console errors seen while loading."""
    page = browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.goto(url, wait_until="networkidle")
    return page, errors


def _navigation(browser: Any, home: str) -> list[str]:
    """Every internal page linked from the sidebar navigation, home first."""
    page, _errors = _open(browser, home, 1280)
    hrefs = page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference.internal, .navbar-brand", "links => links.map(a => a.href)"
    )
    page.close()
    urls = [home]
    for href in hrefs:
        url = href.split("#", 1)[0]
        if url not in urls:
            urls.append(url)
    return urls


def _slug(url: str, base: str) -> str:
    return url.removeprefix(base).strip("/").replace("/", "_").removesuffix(".html") or "root"


def test_every_page_has_no_console_error_and_no_horizontal_scroll(browser: Any, server: str) -> None:
    home = f"{server}/book/index.html"
    urls = _navigation(browser, home)
    assert {
        "call-for-papers.html",
        "schedule.html",
        "speakers.html",
        "organizers.html",
        "news.html",
        "posters.html",
    } <= {url.rsplit("/", 1)[-1] for url in urls}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for url in urls:
        page, errors = _open(browser, url, 375)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(SCREENSHOTS / f"{_slug(url, server)}-375.png"), full_page=True)
        page.close()
        problems += [f"{url}: {error}" for error in errors]
        if overflow > 0:
            problems.append(f"{url}: scrolls horizontally by {overflow}px at 375px width")
    assert not problems, "\n".join(problems)


def test_home_page_desktop_screenshot(browser: Any, server: str) -> None:
    page, errors = _open(browser, f"{server}/book/index.html", 1280)
    assert page.locator("img.codeml-banner").is_visible()
    assert page.locator("table.codeml-dates").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "home-1280.png"), full_page=True)
    page.close()
    assert not errors, "\n".join(errors)

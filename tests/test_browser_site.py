"""The built site in Debian's headless Chromium: every page from the navigation
loads without console errors and without horizontal scroll on a 375 px phone.

Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import SCREENSHOTS, needs_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]


def _open(browser: Any, url: str, width: int) -> tuple[Any, list[str]]:
    """A fresh page at ``url``; returns it and the console errors seen while loading."""
    page = browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
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


def test_every_page_has_no_console_error_and_no_horizontal_scroll(browser: Any, book_url: str) -> None:
    home = f"{book_url}/book/index.html"
    urls = [f"{book_url}/", *_navigation(browser, home)]  # the root redirect too (it asks for /favicon.ico)
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
        page.screenshot(path=str(SCREENSHOTS / f"{_slug(url, book_url)}-375.png"), full_page=True)
        page.close()
        problems += [f"{url}: {error}" for error in errors]
        if overflow > 0:
            problems.append(f"{url}: scrolls horizontally by {overflow}px at 375px width")
    assert not problems, "\n".join(problems)


def test_home_page_desktop_screenshot(browser: Any, book_url: str) -> None:
    page, errors = _open(browser, f"{book_url}/book/index.html", 1280)
    assert page.locator(".codeml-hero .codeml-next-deadline").is_visible()
    assert page.locator(".codeml-hero a.codeml-action, .codeml-hero .codeml-action a").count() == 3
    assert page.locator("table.codeml-dates").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "home-1280.png"), full_page=True)
    page.close()
    assert not errors, "\n".join(errors)

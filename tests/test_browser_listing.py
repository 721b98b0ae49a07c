"""The listing's client-side filter in headless Chromium (Debian's /usr/bin/chromium).

Serves the session build of ``test_listing`` on 127.0.0.1, filters by tier and
by text, checks the visible cards and that the page logs no console error and
makes no request off the local server; runs axe-core on every page at both
widths (tests/test_browser_readers.py takes the screenshots).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import axe_violations, goto_loaded, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


def _visible(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        ".codeml-card", "cards => cards.filter(c => !c.hidden && c.offsetParent !== null).map(c => c.id)"
    )
    return sorted(i.removeprefix("poster-") for i in ids)


def _console(errors: list[str], message: Any) -> None:
    where = (message.location or {}).get("url", "")
    if message.type == "error":
        errors.append(f"{message.text} ({where})")


def _open(browser: Any, url: str, errors: list[str], foreign: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.on("console", lambda m: _console(errors, m))
    page.on("pageerror", lambda e: errors.append(str(e)))
    origin = url.split("/book/", 1)[0]
    page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else foreign.append(r.url))
    page.goto(url, wait_until="load")
    return page


def test_filter_by_tier_and_text(browser: Any, book_url: str) -> None:
    errors: list[str] = []
    foreign: list[str] = []
    page = _open(browser, f"{book_url}/book/posters.html", errors, foreign)
    everyone = ["alpha", "beta", "delta", "epsilon", "eta", "gamma", "xss", "zeta"]
    assert _visible(page) == everyone
    assert page.text_content("#codeml-filter-count") == "Showing 8 of 8"

    page.select_option("#codeml-filter-tier", "reproduced")
    assert _visible(page) == ["alpha"]
    page.select_option("#codeml-filter-tier", "functional")
    assert _visible(page) == ["alpha", "beta", "delta", "epsilon"]
    page.select_option("#codeml-filter-tier", "available")  # only with a DOI or an SWH id
    assert _visible(page) == ["alpha", "gamma"]
    page.select_option("#codeml-filter-tier", "reusable")
    assert _visible(page) == ["beta"]
    page.select_option("#codeml-filter-tier", "skipped")
    assert _visible(page) == ["eta"]

    page.select_option("#codeml-filter-tier", "")
    page.fill("#codeml-filter-text", "gamma university")
    assert _visible(page) == ["gamma"]
    page.fill("#codeml-filter-text", "grace")
    assert _visible(page) == [s for s in everyone if s != "xss"]  # the attack has a single author
    page.fill("#codeml-filter-text", "regressed")
    assert _visible(page) == ["epsilon"]
    page.fill("#codeml-filter-text", "automated re-run")  # a badge label, on every card: not searched
    assert _visible(page) == []
    page.select_option("#codeml-filter-tier", "reproduced")
    assert _visible(page) == []
    assert page.text_content("#codeml-filter-count") == "Showing 0 of 8"
    page.select_option("#codeml-filter-tier", "")
    page.fill("#codeml-filter-text", "")
    assert _visible(page) == everyone

    assert page.evaluate("window.__xss === undefined")
    assert errors == [] and foreign == []


def test_without_javascript_all_cards_show(browser: Any, book_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{book_url}/book/posters.html")
    assert len(_visible(page)) == 8
    assert page.query_selector("#codeml-filter-tier") is None
    context.close()


def test_submission_page_and_dashboard_render(browser: Any, book_url: str) -> None:
    errors: list[str] = []
    foreign: list[str] = []
    page = _open(browser, f"{book_url}/book/posters/alpha.html", errors, foreign)
    assert page.text_content(".codeml-submission h1") == "Alpha: a reproduced paper"
    assert page.is_visible(".codeml-claim-pass")
    assert page.locator(".codeml-badge-meanings li").count() == 3  # each badge once, with its meaning
    attack = _open(browser, f"{book_url}/book/posters/xss.html", errors, foreign)
    assert "<script>alert(1)</script>" in (attack.text_content(".codeml-submission h1") or "")
    dash = _open(browser, f"{book_url}/book/dashboard.html", errors, foreign)
    assert dash.is_visible("svg.codeml-chart")
    assert errors == [] and foreign == []


def test_copy_button_puts_the_bibtex_on_the_clipboard(browser: Any, book_url: str) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: _console(errors, m))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{book_url}/book/posters/alpha.html", wait_until="load")
    button = page.get_by_role("button", name="Copy BibTeX")
    assert button.is_visible()
    button.focus()
    page.keyboard.press("Enter")  # keyboard alone
    page.wait_for_selector(".codeml-copy-status:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("@inproceedings{codeml2025-alpha,")
    shown = page.evaluate("document.querySelector('#codeml-bibtex-alpha pre').textContent")
    assert copied == shown
    assert errors == []
    context.close()


def _pages(html: Path) -> list[str]:
    """Every HTML page of the build, generated poster pages included (search and genindex left out)."""
    skip = {"search.html", "genindex.html"}
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts)


def test_every_page_passes_axe_at_both_widths(browser: Any, book_url: str, book: dict[str, Path]) -> None:
    """axe-core (tools/axe's pin, the registry's current release) on every page at 375 and 1280 px.

    The page's Content-Security-Policy would refuse axe's injected script and the styles it
    measures with, so this context bypasses it; tests/test_browser_readers.py checks the policy,
    the console, the requests and the layout of every page, each with the policy in force.
    """
    pages = _pages(book["html"])
    assert {"index.html", "book/posters.html", "book/dashboard.html", "book/posters/alpha.html",
            "book/posters/xss.html"} <= set(pages)
    problems: list[str] = []
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()  # navigated from page to page: a fresh page each time cost 0.3 s more
    for rel in pages:
        for width in (375, 1280):  # loaded at each width: a page widened after its load is mid-transition
            page.set_viewport_size({"width": width, "height": 800})
            goto_loaded(page, f"{book_url}/{rel}")
            problems += [f"{rel} @{width}px: axe: {v}" for v in axe_violations(page)]
    context.close()
    assert not problems, "\n".join(problems)


def test_listing_filters_work_with_the_keyboard_alone(browser: Any, book_url: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(f"{book_url}/book/posters.html", wait_until="load")
    page.focus("#codeml-filter-tier")
    for _ in range(2):  # "" -> reusable -> reproduced
        page.keyboard.press("ArrowDown")
    assert page.input_value("#codeml-filter-tier") == "reproduced"
    assert _visible(page) == ["alpha"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "codeml-filter-session"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "codeml-filter-text"
    page.keyboard.press("Home")
    page.select_option("#codeml-filter-tier", "")
    page.focus("#codeml-filter-text")
    page.keyboard.type("gamma")
    assert _visible(page) == ["gamma"]
    page.close()

"""The site as readers get it, in Debian's headless Chromium at 375 and 1280 px.

Every page of the session's listing book (the repository's pages, real runs,
the attack submission), once at each width: a Content-Security-Policy meta tag
and no violation, console error, failed request or HTTP error, at most 1 MB and
25 requests, one h1 and a skip link, table cells that wrap at word boundaries,
no sideways scroll; the listing's filters in the address; a poster page for
readers. axe-core's pass over every page is in tests/test_browser_listing.py.
Screenshots of the home page, listing, a poster page and the dashboard at both
widths go to ``_build/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import goto_loaded, needs_chromium, watch

pytestmark = [pytest.mark.browser, needs_chromium]

WIDTHS = (375, 1280)
MAX_BYTES = 1_000_000
MAX_REQUESTS = 25
SCREENSHOTS = Path(__file__).resolve().parents[1] / "_build" / "screenshots"
SHOTS = {
    "home": "book/index.html",
    "posters": "book/posters.html",
    "poster-alpha": "book/posters/alpha.html",
    "dashboard": "book/dashboard.html",
}
REQUIRED = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
            "form-action 'self'", "img-src 'self' data:", "frame-src 'self' data:")

# Computed styles of every table cell: a word is broken only where it may be.
CELLS = """() => Array.from(document.querySelectorAll('article table td, article table th')).map(c => {
  const s = getComputedStyle(c);
  return [s.overflowWrap, s.wordBreak, c.textContent.trim().slice(0, 30)];
}).filter(([wrap, brk]) => wrap === 'anywhere' || brk === 'break-all' || brk === 'break-word')"""
# A table wider than its box must sit in a box that scrolls sideways, never widen the page.
TABLES = """() => Array.from(document.querySelectorAll('article table')).filter(t => {
  const box = t.parentElement;
  const scrolls = ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
  return t.getBoundingClientRect().width > box.clientWidth + 1 && !scrolls;
}).map(t => t.className)"""
# What sticks out past the window's right edge, outside any box that scrolls: a sideways scroll's cause.
WIDE = """() => { const free = e => { for (let a = e.parentElement; a; a = a.parentElement) {
  if (getComputedStyle(a).overflowX !== 'visible') return false; } return true; };
  return Array.from(document.querySelectorAll('main *')).filter(e => free(e) &&
  e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 4)
  .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40)); }"""


def pages(html: Path) -> list[str]:
    """Every HTML page of the build (generated poster pages and the root redirect included)."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html") if "_static" not in p.parts)


def _open(page: Any, url: str) -> None:
    """``page`` at ``url`` once loaded (:func:`goto_loaded`). The site's root redirects, then asks
    for /favicon.ico after the load: there the network must fall idle too."""
    goto_loaded(page, url)
    if url.endswith("/index.html") and "/book/" not in url:
        page.wait_for_load_state("networkidle")


def _load(browser: Any, url: str, width: int) -> tuple[Any, Any, dict[str, Any]]:
    """A fresh context (empty cache) and page at ``url`` once loaded; what it logged and fetched
    (these static pages fetch nothing after their load)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    seen = watch(page)
    _open(page, url)
    return context, page, seen


def _visits(browser: Any, rels: list[str], base: str) -> Iterator[tuple[str, int, Any, dict[str, Any]]]:
    """Each page of ``rels`` loaded at each width, by one page navigated from visit to visit with the
    browser's cache off, so each visit fetches what a first visit does; yields (rel, width, page,
    what that visit logged and fetched). A navigation takes 0.13 s here, a fresh page 0.45 s. Each
    width is a load of its own: a page widened after its load is mid-transition (the theme
    animates its sidebars), not what a reader at that width gets."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    seen = watch(page)
    try:
        for rel in rels:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for found in seen.values():
                    found.clear()
                _open(page, f"{base}/{rel}")
                yield rel, width, page, seen
    finally:
        context.close()


def _weight(requests: list[Any]) -> int:
    total = 0
    for request in requests:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return total


def _visit_problems(rel: str, page: Any, seen: dict[str, Any], width: int) -> list[str]:
    """What a visit must not show: an error, a missing or loose policy, too much weight."""
    where = f"{rel} @{width}px"
    problems = [f"{where}: {text}" for text in seen["errors"]]
    csp = page.evaluate(
        "Array.from(document.querySelectorAll('meta[http-equiv=\"Content-Security-Policy\"]'))"
        ".map(m => m.content)"
    )
    if len(csp) != 1 or not all(part in csp[0] for part in REQUIRED) or "unsafe-" in csp[0]:
        problems.append(f"{where}: Content-Security-Policy meta is {csp}")
    count, size = len(seen["requests"]), _weight(seen["requests"])
    if count > MAX_REQUESTS or size > MAX_BYTES:
        problems.append(f"{where}: {count} requests, {size} bytes")
    return problems


def _layout_problems(rel: str, page: Any, width: int) -> list[str]:
    """What the page must be at ``width``: one h1, a skip link, cells and tables that fit."""
    where = f"{rel} @{width}px"
    problems: list[str] = []
    # The theme's print-only copy of the title is display:none on screen: not in the accessibility tree.
    shown_h1 = "Array.from(document.querySelectorAll('h1')).filter(h => h.getClientRects().length).length"
    if page.evaluate(shown_h1) != 1:
        problems.append(f"{where}: not exactly one h1 shown")
    if not page.query_selector("a[href='#main-content']"):
        problems.append(f"{where}: no skip link to the main content")
    problems += [f"{where}: cell broken mid-word {c}" for c in page.evaluate(CELLS)]
    wide = page.evaluate(TABLES)
    problems += [f"{where}: table wider than its box, which does not scroll: {t}" for t in wide]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"{where}: the page scrolls sideways by {overflow}px ({page.evaluate(WIDE)})")
    return problems


def test_every_page_has_a_policy_no_error_little_weight_one_h1_and_fits_a_phone(
    browser: Any, book_url: str, book: dict[str, Path]
) -> None:
    every = pages(book["html"])
    assert {"index.html", "book/index.html", "book/posters/alpha.html", "book/dashboard.html"} <= set(every)
    problems: list[str] = []
    for rel, width, page, seen in _visits(browser, every, book_url):
        problems += _visit_problems(rel, page, seen, width)
        if rel != "index.html":  # the root redirect: it has moved on to book/index.html, checked on its own
            problems += _layout_problems(rel, page, width)
    assert not problems, "\n".join(problems)


def test_an_inline_script_the_policy_does_not_list_is_refused(browser: Any, book_url: str) -> None:
    """The policy is enforced, not decoration: a script written into the page does not run."""
    context, page, seen = _load(browser, f"{book_url}/book/posters.html", 1280)
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.__injected = true'; document.body.appendChild(s); }""")
    assert page.evaluate("window.__injected === undefined")
    assert any("Content Security Policy" in text for text in seen["errors"])
    context.close()


def _shown(page: Any) -> list[str]:
    script = "cs => cs.filter(c => !c.hidden).map(c => c.id)"
    ids: list[str] = page.eval_on_selector_all(".codeml-card", script)
    return sorted(i.removeprefix("poster-") for i in ids)


def test_listing_cards_are_headings_with_one_badge_and_filters_in_the_address(
    browser: Any, book_url: str
) -> None:
    context, page, _seen = _load(browser, f"{book_url}/book/posters.html?tier=reproduced&q=alpha", 1280)
    assert page.input_value("#codeml-filter-tier") == "reproduced"
    assert page.input_value("#codeml-filter-text") == "alpha"
    assert _shown(page) == ["alpha"]
    cards = page.eval_on_selector_all(".codeml-card", "cs => cs.length")
    assert page.eval_on_selector_all(".codeml-card h2.codeml-card-title a", "hs => hs.length") == cards
    alpha = page.text_content("#poster-alpha") or ""
    assert alpha.count("Reproduced (automated re-run)") == 1 and "Functional (automated run)" not in alpha
    counts = page.text_content(".codeml-tier-counts") or ""
    assert re.match(r"8 posters: .*1 Reproduced \(automated re-run\)", counts), counts
    page.select_option("#codeml-filter-tier", "")
    page.fill("#codeml-filter-text", "")
    page.select_option("#codeml-filter-session", "Poster session B")
    assert _shown(page) == ["beta"]
    assert page.evaluate("location.search") == "?session=Poster+session+B"
    shared = page.evaluate("location.href")
    context.close()
    context, page, _seen = _load(browser, shared, 375)  # a shared view is restored
    assert page.input_value("#codeml-filter-session") == "Poster session B" and _shown(page) == ["beta"]
    context.close()


def test_a_poster_page_reads_as_a_paper_not_a_log(browser: Any, book_url: str) -> None:
    context, page, _seen = _load(browser, f"{book_url}/book/posters/alpha.html", 1280)
    article = page.locator("article.codeml-submission")
    assert page.text_content("article h1") == "Alpha: a reproduced paper"
    text = article.inner_text()  # what is visible: folded details are not
    for label in ("Available", "Functional (automated run)", "Reproduced (automated re-run)"):
        assert text.count(label) == 1, label
    for heading in ("Abstract", "Claims", "Last run", "Cite this", "Open the artifact", "Executed notebook"):
        assert page.locator("article h2", has_text=heading).count() == 1, heading
    line = page.text_content(".codeml-run-line") or ""
    assert re.search(r"reproduced · \d{4}-\d\d-\d\d · [\d.]+ s · sandbox \w+ · Python 3\.\d+", line), line
    assert page.locator(".codeml-run-line a[href='#notebook']").count() == 1
    assert page.eval_on_selector_all("details.codeml-more", "ds => ds.every(d => !d.open)")
    assert '{"' not in text and "0.9500000" not in text
    assert "add a Zenodo DOI" not in text and "YOUR-BOOK-URL" not in page.content()
    context.close()
    context, page, _seen = _load(browser, f"{book_url}/book/posters/zeta.html", 375)
    assert "add a Zenodo DOI" not in page.content()
    context.close()


def test_screenshots_of_the_main_pages_at_both_widths(browser: Any, book_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    names = {rel: name for name, rel in SHOTS.items()}
    for rel, width, page, _seen in _visits(browser, list(names), book_url):
        target = SCREENSHOTS / f"{names[rel]}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000

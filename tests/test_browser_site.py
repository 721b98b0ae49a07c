"""The home page in Debian's headless Chromium at desktop width: the sidebar
leads to every section, the hero's next deadline, its three actions and the
table of dates are shown, with no console error, failed request or HTTP error.

Every page of the same book (at 375 and 1280 px: console, requests, sideways
scroll, weight) is checked in tests/test_browser_readers.py, which also takes
the screenshots.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import goto_loaded, needs_chromium, watch

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]


def test_home_page_shows_the_next_deadline_three_actions_and_the_dates(browser: Any, book_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = watch(page)["errors"]
    goto_loaded(page, f"{book_url}/book/index.html")
    assert page.locator(".codeml-hero .codeml-next-deadline").is_visible()
    assert page.locator(".codeml-hero a.codeml-action, .codeml-hero .codeml-action a").count() == 3
    assert page.locator("table.codeml-dates").is_visible()
    links = page.eval_on_selector_all("nav.bd-docs-nav a.reference.internal", "as => as.map(a => a.href)")
    sections = {"call-for-papers.html", "schedule.html", "speakers.html", "organizers.html", "news.html",
                "posters.html"}
    assert sections <= {link.split("#", 1)[0].rsplit("/", 1)[-1] for link in links}, links
    page.close()
    assert not errors, "\n".join(errors)

"""The browser tests' ``watch()``: blind to what the test's own navigation cancels, to nothing else."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import QuietHandler, goto_loaded, needs_chromium, serve, watch

pytestmark = [pytest.mark.browser, needs_chromium]

PAGE = (
    '<!doctype html><html lang="en"><head><title>p</title><link rel="icon" href="slow-icon.svg"></head>'
    '<body><img alt="" src="missing.png"><img alt="" src="http://127.0.0.1:CLOSED/refused.png"></body></html>'
)


class _SlowIcon(QuietHandler):
    """Answers the favicon a second late: the test has navigated away by then, as under load."""

    def do_GET(self) -> None:
        if "slow-icon" in self.path:
            time.sleep(1)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the navigation hung up
            super().do_GET()


def _closed_port() -> int:
    """A port nothing listens on (bound, then closed): a request there is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    page = PAGE.replace("CLOSED", str(_closed_port()))
    for name in ("first.html", "second.html"):
        (tmp_path / name).write_text(page.replace("slow-icon", "slow-icon" if name == "first.html" else "x"))
    (tmp_path / "slow-icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (tmp_path / "x.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with serve(tmp_path, _SlowIcon) as url:
        yield url


def test_watch_reports_a_missing_and_a_refused_file_but_not_the_favicon_a_navigation_cancelled(
    browser: Any, site: str
) -> None:
    page = browser.new_page()
    seen = watch(page)
    cancelled: list[str] = []
    page.on("requestfailed", lambda r: cancelled.append(r.url) if "slow-icon" in r.url else None)
    with page.expect_request(f"{site}/slow-icon.svg"):  # asked for after the load event
        goto_loaded(page, f"{site}/first.html")
    goto_loaded(page, f"{site}/second.html")
    page.close()
    assert cancelled == [f"{site}/slow-icon.svg"], "the favicon was not cancelled: the test proves nothing"
    errors = seen["errors"]
    assert not [e for e in errors if "slow-icon" in e], errors
    assert sum(f"HTTP 404: {site}/missing.png" in e for e in errors) == 2, errors
    assert sum("request failed (net::ERR_CONNECTION_REFUSED): http://127.0.0.1:" in e and "/refused.png" in e
               for e in errors) == 2, errors

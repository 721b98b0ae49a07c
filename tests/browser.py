"""Shared pieces of the browser tests: Debian's Chromium and a local server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from the npm registry, installed by scripts/test.sh (npm ci --prefix tools/axe).
AXE = Path(__file__).resolve().parents[1] / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
# As root, Chromium needs --no-sandbox; the rest keep it off the (closed) network.
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

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path, kind: type[QuietHandler] = QuietHandler) -> Iterator[str]:
    """``directory`` on 127.0.0.1 by ``http.server`` in a thread; yields the base URL."""
    handler = functools.partial(kind, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on ``page``, one line each (rule, count, an example)."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: npm ci --prefix tools/axe (scripts/test.sh does it)")
    page.add_script_tag(path=str(AXE))
    # label-content-name-mismatch is experimental in axe, so off by default: turned on here.
    options = "{resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}}"
    found = page.evaluate(f"axe.run(document, {options}).then(r => r.violations)")
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['help']}; e.g. {v['nodes'][0]['target']}"
        for v in found
        if v.get("impact") in BLOCKING_IMPACTS
    ]


ABORTED = "net::ERR_ABORTED"
"""How Chromium fails a request that a navigation cancels: the favicon, which it asks for only after
the ``load`` event, when a test moves on to the next page at once. A missing file is an HTTP 404 and
a refused or blocked one has its own error, so both are still seen."""


def watch(page: Any) -> dict[str, list[Any]]:
    """What ``page`` shows from now on: ``errors`` (console errors, uncaught exceptions, failed
    requests but those the test's next navigation cancelled, HTTP errors) and ``requests`` (every
    finished one, for the page's weight)."""
    seen: dict[str, list[Any]] = {"errors": [], "requests": []}
    page.on("console", lambda m: seen["errors"].append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(f"pageerror: {e}"))
    page.on("requestfinished", lambda r: seen["requests"].append(r))
    page.on("requestfailed", lambda r: seen["errors"].append(f"request failed ({r.failure}): {r.url}")
            if r.failure != ABORTED else None)
    page.on("response", lambda r: seen["errors"].append(f"HTTP {r.status}: {r.url}") if r.status >= 400
            else None)
    return seen


BOOK_HOME = "**/book/index.html"
"""Where the page Jupyter Book writes at the site root (``/index.html``) sends readers (a meta refresh)."""


def goto_loaded(page: Any, url: str) -> None:
    """Open ``url`` until its ``load`` event (every resource it names has arrived), following the
    root's redirect to the book's home. Waiting for an idle network as well cost 0.5 s a page, and
    a check run while the root's refresh navigates fails with "execution context destroyed"."""
    page.goto(url, wait_until="load")
    if urllib.parse.urlsplit(url).path == "/index.html":
        page.wait_for_url(BOOK_HOME, wait_until="load")

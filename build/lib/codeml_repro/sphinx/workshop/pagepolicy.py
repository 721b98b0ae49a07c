"""Every page of the book locked down and light: a Content-Security-Policy, no unused theme scripts.

GitHub Pages cannot send headers, so the policy is a ``<meta http-equiv>`` as
the first thing in ``<head>`` (a policy applies only to what follows it).
Scripts come from the site alone: the few inline scripts the theme and its
extensions write (``DOCUMENTATION_OPTIONS.pagename = ...``, the colour mode)
are allowed by their SHA-256 hashes, page by page, so no ``'unsafe-inline'``
or ``'unsafe-eval'`` is needed. Images and frames may also be ``data:`` URIs
(initials avatars, notebook figures, the icons of ``codeml-icons.css``).

Pages are rewritten once the build has finished (Sphinx has no event for a
rendered page's text); a page that already has the policy is left as it is, so
an incremental build only touches what it wrote. The same pass drops
scripts no page needs: Font Awesome's 1.5 MB JavaScript (``codeml-icons.css``
draws the few icons the theme uses) and, outside the search page, the search
index the theme loads everywhere for a search-as-you-type it does not offer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

MARKER = 'http-equiv="Content-Security-Policy"'
POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; frame-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'"
)
_INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.S | re.I)
_CHARSET = re.compile(r"<meta charset=[^>]*>", re.I)
#: Scripts no page needs, by the end of their URL path.
_UNUSED = ("_static/scripts/fontawesome.js",)
#: Scripts only the search page needs (the theme's search box submits to it).
_SEARCH_ONLY = ("_static/searchtools.js", "_static/language_data.js", "searchindex.js")
# As Sphinx and the theme write them (lower case); no leading-whitespace group: that made each
# search try every position of the page, 3 ms a page.
_SCRIPT_TAG = re.compile(r'<script[^>]*\ssrc="([^"?]*)(?:\?[^"]*)?"[^>]*></script>\n?')
_PRELOAD = re.compile(r'<link rel="preload" as="script" href="([^"?]*)(?:\?[^"]*)?"[^>]*>\n?')


def policy(html: str) -> str:
    """The policy for one page: its inline scripts allowed by hash, nothing else inline."""
    hashes = sorted({_sha256(body) for body in _INLINE.findall(html)})
    return POLICY.format(hashes="".join(f" '{h}'" for h in hashes))


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _drop_scripts(html: str, search_page: bool) -> str:
    drop = _UNUSED if search_page else _UNUSED + _SEARCH_ONLY

    def keep(match: re.Match[str]) -> str:
        return "" if match.group(1).endswith(drop) else match.group(0)

    return _PRELOAD.sub(keep, _SCRIPT_TAG.sub(keep, html))


def locked(html: str, search_page: bool = False) -> str:
    """``html`` with unused scripts dropped and the policy first in ``<head>`` (unchanged if it has one)."""
    if MARKER in html:
        return html
    html = _drop_scripts(html, search_page)
    meta = f'<meta {MARKER} content="{policy(html)}">'
    found = _CHARSET.search(html)
    if found is not None:
        return html[: found.end()] + "\n    " + meta + html[found.end():]
    head = html.lower().find("<head>")
    if head < 0:  # the root redirect sphinx-external-toc writes is a lone <meta>
        return meta + "\n" + html.lstrip()
    return html[: head + 6] + meta + html[head + 6:]


def lock_pages(app: Any, exception: BaseException | None) -> None:
    """``build-finished``: every HTML page of the output, generated poster pages included."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for page in outdir.rglob("*.html"):
        if "_static" in page.relative_to(outdir).parts:
            continue
        text = page.read_text(encoding="utf-8")
        new = locked(text, search_page=page.name == "search.html")
        if new != text:
            page.write_text(new, encoding="utf-8")


#: (what a script or stylesheet's name or inline body contains, what the page must contain to need it).
#: The default extensions Jupyter Book loads add their assets to every page, used or not.
ASSETS_NEEDED = (
    ("thebe", "thebe"),  # launch_buttons.thebe is off
    ("design-tabs.js", "sd-tab"),
    ("sphinx-design", 'class="sd-'),
    ("toggle", "toggle"),
    ("mystnb", "cell_output"),
    ("copybutton", "<pre"),
    ("clipboard.min.js", "<pre"),
    ("codeml-listing.js", "codeml-listing"),
    ("codeml-cite.js", "codeml-copy"),
    ("codeml-countdown.js", "codeml-countdown"),
)


def _name(asset: Any) -> str:
    """An asset's file name, or an inline script's body."""
    return str(getattr(asset, "filename", "") or getattr(asset, "attributes", {}).get("body", "") or asset)


def trim_assets(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """``html-page-context``: leave out of this page the scripts and stylesheets nothing on it uses."""
    body = str(context.get("body") or "")
    unused = [key for key, mark in ASSETS_NEEDED if mark not in body]
    for files in ("script_files", "css_files"):
        if files in context:
            context[files] = [a for a in context[files] if not any(key in _name(a) for key in unused)]


def setup_pagepolicy(app: Any) -> None:
    app.connect("html-page-context", trim_assets, priority=900)
    app.connect("build-finished", lock_pages, priority=900)

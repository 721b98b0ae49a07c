"""The poster part of the book: listing, one page per submission, dashboard.

Owns how results are shown to readers: :mod:`.entries` (what the book knows of
each submission), :mod:`.listing` (cards), :mod:`.pages` (generated pages and
badge exports), :mod:`.dashboard`, :mod:`.overtime` (every edition's artifacts
over time) and :mod:`.nbrender` (safe notebook HTML).
May import ``results`` and ``model`` (never ``codeml_repro.run``: pyproject.toml), and
``codeml_repro.sphinx``'s shared helpers; never the workshop part.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codeml_repro.sphinx.posters.entries import ENV_KEY


def _outdated(
    app: Any, env: Any, added: Iterable[str], changed: Iterable[str], removed: Iterable[str]
) -> list[str]:
    docs: set[str] = getattr(env, ENV_KEY, set())
    return sorted(docs - set(removed))


def _purge(app: Any, env: Any, docname: str) -> None:
    getattr(env, ENV_KEY, set()).discard(docname)


def _merge(app: Any, env: Any, docnames: Iterable[str], other: Any) -> None:
    docs: set[str] = getattr(env, ENV_KEY, set())
    docs |= getattr(other, ENV_KEY, set())
    setattr(env, ENV_KEY, docs)


def setup_posters(app: Any) -> None:
    """Register the listing and dashboard directives and the generated pages."""
    from codeml_repro.sphinx.posters.dashboard import DashboardDirective
    from codeml_repro.sphinx.posters.listing import PostersDirective
    from codeml_repro.sphinx.posters.overtime import ArtifactsOverTimeDirective
    from codeml_repro.sphinx.posters.pages import collect_pages

    if "codeml_root" not in app.config.values:
        app.add_config_value("codeml_root", ".", "env", [str])
    app.add_config_value("codeml_posters_page", "book/posters", "env", [str])
    app.add_directive("codeml-posters", PostersDirective)
    app.add_directive("codeml-dashboard", DashboardDirective)
    app.add_directive("codeml-artifacts-over-time", ArtifactsOverTimeDirective)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", collect_pages)
    app.add_css_file("codeml-listing.css")
    app.add_js_file("codeml-listing.js", loading_method="defer")
    app.add_js_file("codeml-cite.js", loading_method="defer")

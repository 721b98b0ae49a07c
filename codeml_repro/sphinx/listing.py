"""Poster listing: one card per accepted submission, with badges and links.

The ``codeml-posters`` directive builds the cards from ``submissions/`` and
``results/`` under ``codeml_root`` with docutils nodes, so author text is
always a text node (escaped by the HTML writer), never MyST or HTML. Client-side
filtering (``book/_static/codeml-listing.js``) only hides cards; without
JavaScript every card is shown. This module also registers the dashboard
directive and the per-submission pages (``pages.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

from codeml_repro.badges import TIER_LABELS, TIERS, badges_for, message, top_tier
from codeml_repro.result import Result, RunRecord, Status
from codeml_repro.submission import Submission, SubmissionSpec

logger = logging.getLogger(__name__)

LINK_LABELS = {"openreview": "OpenReview", "pdf": "PDF", "code": "Code", "video": "Video", "poster": "Poster"}
ENV_KEY = "codeml_listing_docs"


@dataclass(frozen=True)
class Entry:
    """One submission as the book shows it: its spec, last result and history."""

    slug: str
    spec: SubmissionSpec
    status: Status
    result: Result | None = None
    history: list[RunRecord] = field(default_factory=list)
    stale: bool = False
    notebook: Path | None = None

    @property
    def tiers(self) -> list[str]:
        return badges_for(self.status)

    @property
    def top_tier(self) -> str:
        return top_tier(self.status)

    @property
    def regressed(self) -> bool:
        """The last run did not reproduce, and an earlier one did."""
        if self.result is None or self.stale or self.result.status is Status.REPRODUCED:
            return False
        return any(r.status is Status.REPRODUCED for r in self.history[:-1])

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.spec.title.casefold(), self.slug)


def codeml_root(app: Any) -> Path:
    """``codeml_root`` from the config, relative to the book's source directory."""
    return (Path(app.srcdir) / str(app.config.codeml_root)).resolve()


def _current_inputs(sub: Submission) -> str | None:
    from codeml_repro.pipeline import submission_inputs

    try:
        return submission_inputs(sub.folder, sub)
    except OSError:
        return None


def _entry(sub: Submission, store: Any) -> Entry:
    result: Result | None = store.read(sub.slug)
    history: list[RunRecord] = store.history(sub.slug)
    if result is None:
        return Entry(sub.slug, sub.spec, Status.PENDING, None, history)
    recorded = getattr(result, "inputs_key", None)
    stale = bool(recorded) and recorded != _current_inputs(sub)
    status = Status.PENDING if stale else result.status
    notebook = store.notebook_path(sub.slug)
    shown = notebook if result.notebook and notebook.is_file() else None  # not an older run's
    return Entry(sub.slug, sub.spec, status, result, history, stale, shown)


def load_entries(root: Path, warn: bool = True) -> list[Entry]:
    """Every valid submission with its results, sorted by title; problems warned if ``warn``."""
    from codeml_repro.errors import ReproError
    from codeml_repro.store import ResultStore
    from codeml_repro.submission import discover, load_submission

    store = ResultStore(root)
    entries = []
    for folder in discover(root):
        try:
            sub = load_submission(folder)
        except ReproError as exc:
            if warn:
                logger.warning(
                    "codeml: submission left out of the book: %s", exc, type="codeml", subtype="submission"
                )
            continue
        entries.append(_entry(sub, store))
    for problem in store.problems if warn else []:
        logger.warning("codeml: %s", problem, type="codeml", subtype="results")
    return sorted(entries, key=lambda e: e.sort_key)


def page_name(app: Any, slug: str) -> str:
    """The page name of a submission's generated page, under the listing page."""
    return f"{app.config.codeml_posters_page}/{slug}"


def uri_from(app: Any, docname: str, target: str) -> str:
    """Relative URL from a document to a generated page name or an output file."""
    builder = app.builder
    source = builder.get_target_uri(docname)
    is_file = "." in target.rsplit("/", 1)[-1]
    dest = target if is_file else builder.get_target_uri(target)
    return relative_uri(source, dest)


def text_par(text: str, cls: str, *children: nodes.Node) -> nodes.paragraph:
    """A paragraph of plain text (escaped on output) and extra nodes."""
    par = nodes.paragraph(classes=[cls])
    if text:
        par += nodes.Text(text)
    for child in children:
        par += child
    return par


def link(uri: str, text: str, cls: str = "") -> nodes.reference:
    ref = nodes.reference("", "", refuri=uri, classes=[cls] if cls else [])
    ref += nodes.Text(text)
    return ref


def badge_nodes(entry: Entry) -> list[nodes.Node]:
    """Tier labels (earned and not) followed by the status."""
    out: list[nodes.Node] = []
    earned = set(entry.tiers)
    for tier in TIERS:
        state = "earned" if tier in earned else "missing"
        badge = nodes.inline(
            TIER_LABELS[tier],
            TIER_LABELS[tier],
            classes=["codeml-badge", f"codeml-badge-{tier}", f"codeml-badge-{state}"],
        )
        if state == "missing":  # told to screen readers, not only by colour
            badge += nodes.inline(" (not earned)", " (not earned)", classes=["codeml-sr-only"])
        out.append(badge)
        out.append(nodes.Text(" "))
    status = message(entry.status)
    out.append(nodes.inline(status, status, classes=["codeml-status", f"codeml-status-{entry.status.value}"]))
    if entry.regressed:
        out.append(nodes.Text(" "))
        out.append(nodes.inline("regressed", "regressed", classes=["codeml-regressed"]))
    return out


def author_nodes(spec: SubmissionSpec) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for i, author in enumerate(spec.authors):
        if i:
            out.append(nodes.Text("; "))
        name: nodes.Node = link(author.url, author.name) if author.url else nodes.Text(author.name)
        out.append(nodes.inline("", "", name, classes=["codeml-author"]))
        if author.affiliation:
            out.append(nodes.inline("", f" ({author.affiliation})", classes=["codeml-affiliation"]))
    return out


def link_nodes(spec: SubmissionSpec) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for key, label in LINK_LABELS.items():
        url = getattr(spec.links, key)
        if url:
            if out:
                out.append(nodes.Text(" · "))
            out.append(link(url, label, f"codeml-link-{key}"))
    return out


def card(app: Any, docname: str, entry: Entry) -> nodes.container:
    """One poster card; its classes carry the tiers the filter uses."""
    classes = ["codeml-card", f"codeml-top-{entry.top_tier}", f"codeml-status-{entry.status.value}"]
    classes += [f"codeml-tier-{t}" for t in entry.tiers]
    box = nodes.container(classes=classes, ids=[f"poster-{entry.slug}"])
    title = nodes.strong()
    title += link(uri_from(app, docname, page_name(app, entry.slug)), entry.spec.title)
    box += text_par("", "codeml-card-title", title)
    box += text_par("", "codeml-authors", *author_nodes(entry.spec))
    if entry.spec.session:
        box += text_par(entry.spec.session, "codeml-session")
    box += text_par("", "codeml-badges", *badge_nodes(entry))
    links = link_nodes(entry.spec)
    if links:
        box += text_par("", "codeml-links", *links)
    return box


def note_listing_doc(env: Any, docname: str) -> None:
    """Remember documents that show results: they are re-read on every build."""
    docs: set[str] = getattr(env, ENV_KEY, set())
    docs.add(docname)
    setattr(env, ENV_KEY, docs)


class PostersDirective(SphinxDirective):
    """``{codeml-posters}``: the cards of all accepted submissions, sorted by title."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        note_listing_doc(self.env, self.env.docname)
        entries = load_entries(codeml_root(self.env.app))
        listing = nodes.container(classes=["codeml-listing"], ids=["codeml-listing"])
        if not entries:
            listing += text_par("No accepted submissions yet.", "codeml-empty")
        for entry in entries:
            listing += card(self.env.app, self.env.docname, entry)
        return [listing]


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


def _site_url_from_env(app: Any, config: Any) -> None:
    """CI knows the published URL (``CODEML_SITE_URL``); badge snippets need it.

    ``html: baseurl:`` in _config.yml wins when set.
    """
    import os

    url = os.environ.get("CODEML_SITE_URL", "").strip()
    if url and not config.html_baseurl:
        config.html_baseurl = url if url.endswith("/") else url + "/"


def setup_listing(app: Any) -> None:
    """Register the listing and dashboard directives and the generated pages."""
    from codeml_repro.sphinx.dashboard import DashboardDirective
    from codeml_repro.sphinx.pages import collect_pages

    if "codeml_root" not in app.config.values:
        app.add_config_value("codeml_root", ".", "env", [str])
    app.add_config_value("codeml_posters_page", "book/posters", "env", [str])
    app.add_directive("codeml-posters", PostersDirective)
    app.add_directive("codeml-dashboard", DashboardDirective)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", collect_pages)
    app.connect("config-inited", _site_url_from_env)
    app.add_css_file("codeml-listing.css")
    app.add_js_file("codeml-listing.js", loading_method="defer")

"""Poster listing: one card per accepted submission, with badges and links.

The ``codeml-posters`` directive builds the cards from ``submissions/`` and
``results/`` under ``codeml_root`` with docutils nodes, so author text is
always a text node (escaped by the HTML writer), never MyST or HTML. Client-side
filtering (``codeml_repro/sphinx/static/codeml-listing.js``) only hides cards; without
JavaScript every card is shown. """

from __future__ import annotations

from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from codeml_repro.model.submission import SubmissionSpec
from codeml_repro.results.badges import REVIEWED, TIER_LABELS, TIERS
from codeml_repro.results.versions import matrix_summary
from codeml_repro.sphinx.html import tag
from codeml_repro.sphinx.nodes import link, text_par
from codeml_repro.sphinx.posters.entries import (
    Entry,
    load_build_entries,
    note_listing_doc,
    page_name,
    uri_from,
)
from codeml_repro.sphinx.posters.tierview import tier_nodes

#: The tiers a run earns, the best last: a card shows only the best it earned.
RUN_TIERS = ("functional", "reproduced")
LINK_LABELS = {"openreview": "OpenReview", "pdf": "PDF", "code": "Code", "video": "Video", "poster": "Poster"}

def badge_nodes(app: Any, docname: str, entry: Entry) -> list[nodes.Node]:
    """The badges the poster earned, each once (the best run tier only), linked to its definition.

    The status is added only when no run tier says it already (failed, pending, not checked here).
    """
    out = tier_nodes(app, docname, entry, earned_only=True)
    if entry.spec.example:  # the toolkit's (or a new site's) example, not an accepted paper
        out.insert(0, nodes.inline("example", "example", classes=["codeml-example"]))
    if not any(t in entry.tiers for t in RUN_TIERS):
        status = entry.status_label
        classes = ["codeml-status", f"codeml-status-{entry.status.value}"]
        out.append(nodes.inline(status, status, classes=classes))
    out += matrix_nodes(entry)
    if entry.regressed:
        out.append(nodes.Text(" "))
        out.append(nodes.inline("regressed", "regressed", classes=["codeml-regressed"]))
    return out


def matrix_nodes(entry: Entry) -> list[nodes.Node]:
    """"reproduced on 2 of 3 versions" for a result whose matrix cells did not all reproduce."""
    across = matrix_summary(entry.result) if entry.result is not None and not entry.stale else None
    if not across:
        return []
    return [nodes.Text(" "), nodes.inline(across, across, classes=["codeml-matrix-summary"])]


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
    href = uri_from(app, docname, page_name(app, entry.slug))
    heading = tag("h2", {"class": "codeml-card-title"}, tag("a", {"href": href}, entry.spec.title))
    box += nodes.raw("", str(heading), format="html")  # escaped by tag(): a heading docutils has no node for
    box += text_par("", "codeml-authors", *author_nodes(entry.spec))
    if entry.spec.session:
        box += text_par("", "codeml-session", nodes.Text("Session: " + entry.spec.session))
        box["classes"].append("codeml-has-session")
    box += text_par("", "codeml-badges", *badge_nodes(app, docname, entry))
    links = link_nodes(entry.spec)
    if links:
        box += text_par("", "codeml-links", *links)
    return box


def tier_counts(entries: list[Entry]) -> nodes.paragraph:
    """'8 posters: 1 Reusable (reviewed) · 1 Reproduced ... · 2 without a badge', above the cards."""
    parts: list[str] = []
    for tier in (REVIEWED, *reversed(TIERS)):
        count = sum(1 for e in entries if tier in e.tiers)
        if count:
            parts.append(f"{count} {TIER_LABELS[tier]}")
    none = sum(1 for e in entries if not e.tiers)
    if none:
        parts.append(f"{none} without a badge")
    total = f"{len(entries)} poster{'s' if len(entries) != 1 else ''}: "
    return text_par(total + " · ".join(parts), "codeml-tier-counts")


class PostersDirective(SphinxDirective):
    """``{codeml-posters}``: the cards of all accepted submissions, sorted by title.

    ``:edition: YEAR`` lists a past edition's posters instead of the current ones.
    """

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"edition": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        note_listing_doc(self.env, self.env.docname)
        entries = load_build_entries(self.env.app, edition=self.options.get("edition"))
        listing = nodes.container(classes=["codeml-listing"], ids=["codeml-listing"])
        if not entries:
            listing += text_par("No accepted submissions yet.", "codeml-empty")
            return [listing]
        out: list[nodes.Node] = [tier_counts(entries)]
        for entry in entries:
            listing += card(self.env.app, self.env.docname, entry)
        return [*out, listing]

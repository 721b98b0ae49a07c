"""How tiers are shown: badges linked to their definitions, why a tier is missing, the review.

Cards (docutils nodes) and generated pages (escaped HTML) show the same
words, from :mod:`codeml_repro.results.badges`; each badge links to the
section of the authors' guide that quotes ACM's definition and says what the
automated check does and does not establish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docutils import nodes

from codeml_repro.results.badges import REVIEWED, TIER_ANCHORS, TIER_LABELS, TIERS
from codeml_repro.sphinx.html import Child, Markup, tag
from codeml_repro.sphinx.posters.entries import Entry, uri_from

GUIDE_DOC = "book/authors"
#: Why Available is missing, told to readers (``check`` tells the authors what to add).
NO_ARCHIVE_WORDS = "no DOI or Software Heritage id of the code is given"


@dataclass(frozen=True)
class TierView:
    """One badge as shown: its tier, words, whether earned, and why not."""

    tier: str
    label: str
    earned: bool
    reason: str | None

    @property
    def classes(self) -> list[str]:
        state = "earned" if self.earned else "missing"
        return ["codeml-badge", f"codeml-badge-{self.tier}", f"codeml-badge-{state}"]


def tier_views(entry: Entry) -> list[TierView]:
    """The three tiers, earned or not, plus *Reusable (reviewed)* when a review exists."""
    earned = set(entry.tiers)
    review = entry.spec.review
    shown = [*TIERS, REVIEWED] if review is not None else list(TIERS)
    views = []
    for tier in shown:
        reason = None
        if tier == "available" and entry.spec.links.archival_id is None:
            reason = NO_ARCHIVE_WORDS
        elif tier == REVIEWED and entry.review_stale:
            reason = "the review is of an earlier version of the artifact"
        elif tier == REVIEWED and review is not None and not review.reusable:
            reason = "the reviewers did not judge it reusable"
        views.append(TierView(tier, TIER_LABELS[tier], tier in earned, reason))
    return views


def guide_uri(app: Any, docname: str, tier: str) -> str | None:
    """Where a badge links: its section of the authors' guide, when the book has the guide."""
    if GUIDE_DOC not in app.env.all_docs:
        return None
    return f"{uri_from(app, docname, GUIDE_DOC)}#{TIER_ANCHORS[tier]}"


def tier_nodes(app: Any, docname: str, entry: Entry, *, earned_only: bool = False) -> list[nodes.Node]:
    """Badges for a card: linked words, '(not earned)' told to screen readers too.

    ``earned_only``: the earned badges, Functional left out when Reproduced (which implies it) is there.
    """
    out: list[nodes.Node] = []
    views = tier_views(entry)
    if earned_only:
        implied = "functional" if "reproduced" in entry.tiers else None
        views = [v for v in views if v.earned and v.tier != implied]
    for view in views:
        badge = nodes.inline(view.label, view.label, classes=view.classes)
        if not view.earned:
            badge += nodes.inline(" (not earned)", " (not earned)", classes=["codeml-sr-only"])
        uri = guide_uri(app, docname, view.tier)
        if uri:
            ref = nodes.reference("", "", refuri=uri, classes=["codeml-badge-link"])
            ref += badge
            out.append(ref)
        else:
            out.append(badge)
        out.append(nodes.Text(" "))
    return out


def badge_html(app: Any, docname: str, view: TierView) -> Child:
    """One badge for a generated page, a link to its definition; '(not earned)' told to screen readers."""
    badge = tag(
        "span",
        {"class": " ".join(view.classes)},
        view.label,
        None if view.earned else tag("span", {"class": "codeml-sr-only"}, " (not earned)"),
    )
    uri = guide_uri(app, docname, view.tier)
    return tag("a", {"href": uri, "class": "codeml-badge-link"}, badge) if uri else badge


def review_html(entry: Entry) -> Markup | None:
    """Who reviewed the artifact, when, and what they found."""
    review = entry.spec.review
    if review is None:
        return None
    verdict = "reusable" if review.reusable else "not judged reusable"
    stale = " (of an earlier version: the artifact changed since)" if entry.review_stale else ""
    note = f" {review.note}" if review.note else ""
    text = f"Reviewed by {review.by} on {review.date.isoformat()}: {verdict}{stale}.{note}"
    return tag("p", {"class": "codeml-review"}, text)

"""The home page's hero: the workshop's name, venue and date, the next deadline, calls to action.

The next deadline is the first dated Important Date still ahead when the book
is built; a whole-day date ends at 23:59 on that day, Anywhere on Earth, as
deadlines do. The page says how many days are left at build time and
``codeml-countdown.js`` keeps that count current in the reader's browser (from
the ``datetime`` attribute, an ISO instant), so a page built weeks ago does
not lie. Links are checked cross-references: a missing page fails a ``-W`` build.
"""

from __future__ import annotations

import datetime as dt

from docutils import nodes
from sphinx import addnodes

from codeml_repro.sphinx.workshop.data import ImportantDate, SiteData, parse_timezone

#: (label, document) of the calls to action, in the order shown.
ACTIONS = (
    ("Submit a paper", "/book/call-for-papers"),
    ("See the posters", "/book/posters"),
    ("Read the authors' guide", "/book/authors"),
)
AOE = parse_timezone("AoE")


def deadline(item: ImportantDate) -> dt.datetime | None:
    """The instant a date ends: its time, or 23:59 AoE of a whole day; None for TBD."""
    moment = item.moment()
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment, dt.time(23, 59), tzinfo=AOE)


def next_deadline(site: SiteData, now: dt.datetime) -> tuple[ImportantDate, dt.datetime] | None:
    """The first Important Date still ahead of ``now`` (the workshop day counts too)."""
    ahead = [(item, end) for item in site.dates.dates if (end := deadline(item)) is not None and end > now]
    return min(ahead, key=lambda pair: pair[1]) if ahead else None


def days_left(end: dt.datetime, now: dt.datetime) -> str:
    days = (end - now).days
    return "today" if days < 1 else ("in 1 day" if days == 1 else f"in {days} days")


def _when(item: ImportantDate, end: dt.datetime) -> str:
    moment = item.moment()
    if isinstance(moment, dt.datetime):
        return f"{moment:%B} {moment.day}, {moment.year}, {moment:%H:%M} {item.timezone}"
    return f"{end:%B} {end.day}, {end.year}, 23:59 AoE"


def _para(*children: nodes.Node, cls: str) -> nodes.paragraph:
    return nodes.paragraph("", "", *children, classes=[cls])


def _xref(target: str, text: str, refdoc: str) -> addnodes.pending_xref:
    return addnodes.pending_xref(
        "", nodes.inline(text, text), refdomain="std", reftype="doc", reftarget=target,
        refexplicit=True, refwarn=True, refdoc=refdoc, classes=["codeml-action"],
    )


def deadline_nodes(site: SiteData, now: dt.datetime) -> nodes.paragraph:
    found = next_deadline(site, now)
    if found is None:
        return _para(nodes.Text("Dates to be announced."), cls="codeml-next-deadline")
    item, end = found
    stamp = end.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    count = nodes.raw("", f'<time class="codeml-countdown" datetime="{stamp}">{days_left(end, now)}</time>',
                      format="html")  # only digits and our own words: nothing to escape
    return _para(
        nodes.strong(f"{item.label}: ", f"{item.label}: "), nodes.Text(_when(item, end) + " ("), count,
        nodes.Text(")"), cls="codeml-next-deadline",
    )


def render_hero(site: SiteData, refdoc: str, now: dt.datetime | None = None) -> nodes.container:
    """Tagline, venue and day, the next deadline and the calls to action (the page's h1 is the name)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    w = site.workshop
    day = site.date("workshop")
    moment = day.moment() if day is not None else None
    on = f", {moment:%B} {moment.day}, {moment.year}" if moment is not None else ""
    hero = nodes.container(classes=["codeml-hero"])
    hero += _para(nodes.Text(w.tagline), cls="codeml-tagline")
    hero += _para(nodes.Text(f"A workshop at {w.venue} {w.year}{on}"), cls="codeml-venue")
    hero += deadline_nodes(site, now)
    actions = nodes.container(classes=["codeml-actions"])
    actions += _para(*[_xref(target, label, refdoc) for label, target in ACTIONS], cls="codeml-action-row")
    hero += actions
    return hero

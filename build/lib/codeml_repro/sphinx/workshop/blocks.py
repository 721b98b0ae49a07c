"""The site's blocks, rendered from the data: pure functions of :class:`SiteData` to docutils nodes.

Every value from the data files becomes a docutils text node, so the HTML
writer escapes it: data is never parsed as MyST or HTML. Links to other pages
are ``pending_xref`` nodes, so a missing target fails a ``-W`` build. Nothing
here reads a file or Sphinx's state: :mod:`.site`'s directives load the data and
call these, and tests call them on data built in the test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from docutils import nodes
from sphinx import addnodes

from codeml_repro.sphinx.nodes import table
from codeml_repro.sphinx.workshop.avatars import avatar_data_uri
from codeml_repro.sphinx.workshop.data import ImportantDate, SiteData
from codeml_repro.sphinx.workshop.hero import render_hero

TBA = "To be announced."  # an empty list in a new site's data
POSTERS_DOC = "/book/posters"
PAST_POSTERS_DOC = "/editions/{year}/posters"
SPEAKER_LABEL = "speaker-{id}"
PAST_SPEAKER_LABEL = "speaker-{year}-{id}"


def speaker_label(speaker_id: str, edition: int | None) -> str:
    """A speaker's target; past editions get their own, as a speaker may come back."""
    if edition is None:
        return SPEAKER_LABEL.format(id=speaker_id)
    return PAST_SPEAKER_LABEL.format(year=edition, id=speaker_id)


# -- small node helpers -------------------------------------------------------


def _para(*children: nodes.Node, classes: list[str] | None = None) -> nodes.paragraph:
    return nodes.paragraph("", "", *children, classes=classes or [])


def _link(url: str, *children: nodes.Node) -> nodes.reference:
    return nodes.reference("", "", *children, refuri=url, internal=False)


def _xref(reftype: str, target: str, text: str, refdoc: str) -> addnodes.pending_xref:
    """A checked cross-reference (``std:doc`` or ``std:ref``) with our own link text."""
    return addnodes.pending_xref(
        "", nodes.inline(text, text), refdomain="std", reftype=reftype, reftarget=target,
        refexplicit=True, refwarn=True, refdoc=refdoc,
    )


def format_date(item: ImportantDate) -> str:
    """``TBD``, ``July 18, 2025`` or ``May 30, 2025, 23:59 AoE``."""
    moment = item.moment()
    if moment is None:
        return "TBD"
    day = f"{moment:%B} {moment.day}, {moment.year}"
    if isinstance(moment, dt.datetime):
        return f"{day}, {moment:%H:%M} {item.timezone}"
    return day


def _portrait(name: str, photo: str | None) -> nodes.image:
    if photo is None:
        return nodes.image("", uri=avatar_data_uri(name), alt=name, classes=["codeml-avatar"])
    uri = photo if photo.startswith("https://") else "/" + photo  # "/": from the book root
    return nodes.image("", uri=uri, alt=name, classes=["codeml-avatar"])


# -- rendering (pure functions of the data) -------------------------------------


def render_workshop(site: SiteData, refdoc: str, edition: int | None = None) -> list[nodes.Node]:
    """The current edition's hero (deadline, calls to action) or a past one's tagline; then the intro.

    The logo is the theme's, once, in the navigation: the page's h1 is the workshop's name.
    """
    w = site.workshop
    if edition is None:
        hero = render_hero(site, refdoc)
    else:
        hero = nodes.container(classes=["codeml-hero"])
        hero += _para(nodes.Text(w.tagline), classes=["codeml-tagline"])
        hero += _para(nodes.Text(f"A workshop at {w.venue} {w.year}"), classes=["codeml-venue"])
    return [hero, *(_para(nodes.Text(text)) for text in w.intro)]


def render_dates(site: SiteData) -> list[nodes.Node]:
    rows: list[list[nodes.Node]] = [
        [nodes.strong(item.label, item.label), nodes.Text(format_date(item))] for item in site.dates.dates
    ]
    return [table([], rows, ["codeml-dates"])]


def render_cfp_topics(site: SiteData) -> list[nodes.Node]:
    topics = nodes.bullet_list(classes=["codeml-topics"])
    topics += [nodes.list_item("", _para(nodes.Text(text))) for text in site.cfp.topics]
    return [_para(nodes.Text(site.cfp.intro)), topics if site.cfp.topics else _para(nodes.Text(TBA))]


def render_cfp_submissions(site: SiteData) -> list[nodes.Node]:
    cfp = site.cfp
    *first, last = cfp.page_limit_excludes
    excludes = f"{', '.join(first)}, and {last}" if first else last
    rule = _para(
        nodes.Text("Submissions must be " + ("anonymous, in " if cfp.anonymous else "in ")),
        _link(cfp.format_url, nodes.Text(cfp.format_name)),
        nodes.Text(" and not longer than "),
        nodes.strong(cfp.page_limit, cfp.page_limit),
        nodes.Text(f", excluding {excludes}. {cfp.appendices} {cfp.review}"),
    )
    return [_para(nodes.Text(cfp.presentation)), rule, _para(nodes.Text(cfp.reviewing_duty))]


def render_schedule(site: SiteData, refdoc: str, edition: int | None = None) -> list[nodes.Node]:
    rows: list[list[nodes.Node]] = []
    for session in site.schedule.sessions:
        cell: nodes.Element = nodes.inline(classes=[f"codeml-kind-{session.kind}"])
        speaker = site.speaker(session.speaker) if session.speaker else None
        if session.kind == "posters":
            posters = POSTERS_DOC if edition is None else PAST_POSTERS_DOC.format(year=edition)
            cell += _xref("doc", posters, session.title, refdoc)
        else:
            cell += nodes.Text(session.title)
        if speaker is not None and speaker.visible:
            cell += nodes.Text(": ")
            cell += _xref("ref", speaker_label(speaker.id, edition), speaker.name, refdoc)
        if session.kind in ("break", "posters"):
            cell = nodes.emphasis("", "", cell)
        rows.append([nodes.Text(f"{session.start} - {session.end}"), cell])
    day = site.date(site.schedule.day)
    when = format_date(day) if day is not None else "TBD"
    caption = nodes.paragraph(
        "", "", nodes.Text(f"{when}; times are local ({site.schedule.timezone})."), classes=["codeml-day"]
    )
    if not rows:
        return [caption, _para(nodes.Text(TBA))]
    return [caption, table(["Time", "Session"], rows, ["codeml-schedule"])]


def render_speaker(speaker: Any, edition: int | None = None) -> nodes.container:
    card = nodes.container(classes=["codeml-speaker"])
    card["names"].append(speaker_label(speaker.id, edition))
    card += _portrait(speaker.name, speaker.photo)
    name = nodes.strong(speaker.name, speaker.name)
    card += _para(_link(speaker.url, name), nodes.Text(" " + speaker.bio))
    return card


def render_organizers(site: SiteData) -> list[nodes.Node]:
    grid = nodes.container(classes=["codeml-people"])
    for person in site.organizers.organizers:
        card = nodes.container(classes=["codeml-person"])
        card += _link(person.url, _portrait(person.name, person.photo))
        card += _para(_link(person.url, nodes.Text(person.name)), classes=["codeml-person-name"])
        card += [_para(nodes.Text(a), classes=["codeml-affiliation"]) for a in person.affiliations]
        grid += card
    return [grid] if site.organizers.organizers else [_para(nodes.Text(TBA))]


def render_news(site: SiteData, limit: int | None) -> list[nodes.Node]:
    items = nodes.bullet_list(classes=["codeml-news"])
    for item in site.news.newest(limit):
        when = f"{item.date:%b} {item.date.day}, {item.date.year}"
        text: nodes.Node = nodes.Text(item.text)
        if item.url:
            text = _link(item.url, text)
        items += nodes.list_item("", _para(nodes.strong(when, when), nodes.Text("  "), text))
    if not site.news.news:
        return [_para(nodes.Text("No news yet."))]
    return [items]


def render_calendar_note(uri: str, name: str) -> nodes.paragraph:
    """The line under the current schedule that links its ``.ics`` export (``uri``, shown as ``name``)."""
    return _para(
        nodes.Text("Calendar export (iCalendar): "),
        _link(uri, nodes.literal(name, name)),
        nodes.Text(". It holds the dated Important Dates, and the sessions once the day is set."),
        classes=["codeml-ics"],
    )


def render_coming_soon(site: SiteData) -> list[nodes.Node]:
    """What the speakers block shows while no speaker is visible."""
    return [_para(nodes.Text(site.speakers.coming_soon), classes=["codeml-coming-soon"])]

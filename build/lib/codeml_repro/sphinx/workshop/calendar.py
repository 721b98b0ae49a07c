"""iCalendar (RFC 5545) export of the Important Dates and the workshop schedule.

Only dated items become events: a TBD date is left out, and the schedule's
sessions appear only once the workshop day is a real date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.sphinx.workshop.data import SiteData, parse_timezone


def ics_name(site: SiteData) -> str:
    """The calendar file beside the pages, named after the workshop (``reproml.ics``)."""
    return f"{site.workshop.names.slug}.ics"


@dataclass(frozen=True)
class Event:
    """One VEVENT: a whole day (``date``) or a span between aware datetimes."""

    uid: str
    summary: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime


def _escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> Iterator[str]:
    """Fold a content line at 75 octets (RFC 5545 3.1), without splitting characters."""
    current = ""
    for char in line:
        if len((current + char).encode("utf-8")) > 75:
            yield current
            current = " "
        current += char
    yield current


def _stamp(value: dt.date | dt.datetime, name: str) -> str:
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.timezone.utc)
        return f"{name}:{utc:%Y%m%dT%H%M%SZ}"
    return f"{name};VALUE=DATE:{value:%Y%m%d}"


def events(site: SiteData) -> list[Event]:
    """Events for every dated Important Date and, on a dated workshop day, every session."""
    found: list[Event] = []
    name = site.workshop.name
    for item in site.dates.dates:
        moment = item.moment()
        if moment is None:
            continue
        end = moment + dt.timedelta(days=1) if not isinstance(moment, dt.datetime) else moment
        found.append(Event(f"{item.id}@{name.lower()}", f"{name}: {item.label}", moment, end))
    day = site.date(site.schedule.day)
    moment = day.moment() if day else None
    if moment is None:
        return found
    date = moment.date() if isinstance(moment, dt.datetime) else moment
    zone = parse_timezone(site.schedule.timezone)
    for session in site.schedule.sessions:
        start = dt.datetime.combine(date, dt.time.fromisoformat(session.start), tzinfo=zone)
        end = dt.datetime.combine(date, dt.time.fromisoformat(session.end), tzinfo=zone)
        speaker = site.speaker(session.speaker) if session.speaker else None
        who = f": {speaker.name}" if speaker is not None and speaker.visible else ""
        # Stable across edits elsewhere in the schedule, so subscribed calendars update in place.
        uid = f"{start:%Y%m%dT%H%M}-{_uid_part(session.title)}@{name.lower()}"
        found.append(Event(uid, f"{name}: {session.title}{who}", start, end))
    return found


def _uid_part(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) or "session"


def to_ics(site: SiteData, items: Iterable[Event], stamp: dt.datetime) -> str:
    """The calendar text with CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{_escape(site.workshop.name)}//codeml_repro//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(f'{site.workshop.name} {site.workshop.year}')}",
    ]
    for event in items:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{stamp.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}",
            _stamp(event.start, "DTSTART"),
            _stamp(event.end, "DTEND"),
            f"SUMMARY:{_escape(event.summary)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(f"{folded}\r\n" for line in lines for folded in _fold(line))


def calendar(site: SiteData, stamp: dt.datetime | None = None) -> str:
    """The site's calendar; ``stamp`` (DTSTAMP) defaults to now (UTC)."""
    return to_ics(site, events(site), stamp or dt.datetime.now(dt.timezone.utc))


def data_stamp(data_dir: Path) -> dt.datetime:
    """When the data last changed: the same data gives the same file, build after build."""
    times = [p.stat().st_mtime for p in data_dir.glob("*.yml")] or [0.0]
    return dt.datetime.fromtimestamp(int(max(times)), dt.timezone.utc)

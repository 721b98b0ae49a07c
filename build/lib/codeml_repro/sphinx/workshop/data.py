"""The data behind a workshop's site: ``book/_data/*.yml``, validated once.

Organizers edit these YAML files, never HTML. Each file maps to a frozen
pydantic model; :func:`load_site_data` reads them all and turns the first
problem into a one-line :class:`~codeml_repro.model.errors.DataInvalid` naming the
file, the entry and the field, e.g.
``book/_data/speakers.yml: speakers[2].visibel: unknown key; did you mean 'visible'?``.

Every string here is *data*: the directives render it as text nodes, never as
MyST or HTML.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codeml_repro.model.errors import DataInvalid
from codeml_repro.model.problems import first_problem
from codeml_repro.model.submission import SLUG_PATTERN
from codeml_repro.model.workshopname import WorkshopNames

DATA_FILES = ("workshop", "dates", "cfp", "schedule", "speakers", "organizers", "news")
TBD = "TBD"
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?$")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?$")


class _Model(BaseModel):
    """Frozen, strict about unknown keys (a typo must not pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def parse_timezone(name: str) -> dt.tzinfo:
    """``AoE`` (UTC-12), ``UTC``, an offset such as ``+02:00``, or an IANA name."""
    if name == "AoE":
        return dt.timezone(dt.timedelta(hours=-12), "AoE")
    if name in ("UTC", "Z"):
        return dt.timezone.utc
    match = _OFFSET.match(name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return dt.timezone(sign * delta, name)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use AoE, UTC, +HH:MM or e.g. Europe/Zurich)") from exc


class Workshop(_Model):
    """``workshop.yml``: who we are; the home page banner and intro."""

    name: str = Field(min_length=1, description="The workshop's name, e.g. Workshop on Reproducible ML.")
    short_name: str | None = Field(
        default=None, min_length=1, description="Short name, e.g. ReproML: cite keys, file names, titles."
    )
    badge_label: str | None = Field(
        default=None, min_length=1, description="Badges' left text [default: '<short_name> artifact']."
    )
    tagline: str = Field(min_length=1, description="What the acronym stands for.")
    venue: str = Field(min_length=1, description="Host conference, e.g. ICML.")
    year: int = Field(ge=2000, le=2100)
    logo: str | None = Field(default=None, description="Path from the book root; none shows no image.")
    intro: list[str] = Field(min_length=1, description="Paragraphs of the home page intro.")


    @property
    def names(self) -> WorkshopNames:
        return WorkshopNames(self.name, self.short_name or "", self.badge_label or "", self.venue, self.year)


class ImportantDate(_Model):
    """One row of Important Dates: a date, a date-time with time zone, or TBD."""

    id: str = Field(pattern=SLUG_PATTERN)
    label: str = Field(min_length=1)
    when: str | dt.date = Field(description="TBD, YYYY-MM-DD or 'YYYY-MM-DD HH:MM'.")
    timezone: str | None = Field(default=None, description="Needed with a time: AoE, UTC, +HH:MM, IANA.")

    @field_validator("when", mode="before")
    @classmethod
    def _when_format(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise ValueError("write the time as a string: 'YYYY-MM-DD HH:MM' plus a timezone key")
        if isinstance(value, str) and value != TBD and not _WHEN.match(value):
            raise ValueError(f"expected TBD, YYYY-MM-DD or 'YYYY-MM-DD HH:MM', got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timezone(value)
        return value

    @model_validator(mode="after")
    def _time_needs_zone(self) -> ImportantDate:
        match = _WHEN.match(self.when) if isinstance(self.when, str) else None
        if match is not None and match.group(2) is not None and self.timezone is None:
            raise ValueError("a date with a time needs a 'timezone' (e.g. AoE)")
        return self

    def moment(self) -> dt.datetime | dt.date | None:
        """None for TBD, a date for a whole day, an aware datetime otherwise."""
        if isinstance(self.when, dt.date):
            return self.when
        match = _WHEN.match(self.when)
        if match is None:
            return None
        day = dt.date.fromisoformat(match.group(1))
        if match.group(2) is None:
            return day
        clock = dt.time.fromisoformat(match.group(2))
        return dt.datetime.combine(day, clock, tzinfo=parse_timezone(self.timezone or "UTC"))


class Dates(_Model):
    """``dates.yml``: the Important Dates table."""

    dates: list[ImportantDate] = Field(min_length=1)


class Cfp(_Model):
    """``cfp.yml``: Call for Papers topics and submission rules."""

    intro: str
    topics: list[str] = Field(default_factory=list, description="Empty until announced.")
    presentation: str = Field(description="How accepted papers are presented and published.")
    anonymous: bool
    format_name: str = Field(description="Link text of the template, e.g. ICML format.")
    format_url: str = Field(pattern=r"^https?://")
    page_limit: str = Field(description="e.g. four pages")
    page_limit_excludes: list[str] = Field(min_length=1)
    appendices: str
    review: str
    reviewing_duty: str


class Session(_Model):
    """One row of the schedule."""

    start: str
    end: str
    title: str = Field(min_length=1)
    kind: Literal["talk", "invited", "break", "posters", "other"] = "other"
    speaker: str | None = Field(default=None, description="Speaker id from speakers.yml.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads 09:00 as a sexagesimal int.
            raise ValueError("quote the time, e.g. '09:00'")
        if isinstance(value, str) and not _CLOCK.match(value):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        return self


class Schedule(_Model):
    """``schedule.yml``: the day's programme, in the venue's local time."""

    day: str = Field(description="id of the Important Date the schedule happens on.")
    timezone: str = Field(description="Local time zone of the venue (for the calendar export).")
    sessions: list[Session] = Field(default_factory=list, description="Empty until announced.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        parse_timezone(value)
        return value


class Speaker(_Model):
    """An invited speaker; ``visible: false`` keeps a draft off the site."""

    id: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    photo: str | None = Field(default=None, description="Path from the book root, or none.")
    bio: str = Field(min_length=1)
    visible: bool = True


class Speakers(_Model):
    """``speakers.yml``."""

    coming_soon: str = "Coming soon!"
    speakers: list[Speaker]


class Organizer(_Model):
    """One organizer card."""

    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    photo: str | None = None
    affiliations: list[str] = Field(min_length=1)


class Organizers(_Model):
    """``organizers.yml``."""

    organizers: list[Organizer] = Field(default_factory=list)


class NewsItem(_Model):
    """A dated news item."""

    date: dt.date
    text: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")


class News(_Model):
    """``news.yml``: shown newest first."""

    news: list[NewsItem]

    def newest(self, limit: int | None = None) -> list[NewsItem]:
        items = sorted(self.news, key=lambda item: item.date, reverse=True)
        return items if limit is None else items[:limit]


class SiteData(_Model):
    """Everything the site pages show."""

    workshop: Workshop
    dates: Dates
    cfp: Cfp
    schedule: Schedule
    speakers: Speakers
    organizers: Organizers
    news: News

    def visible_speakers(self) -> list[Speaker]:
        return [speaker for speaker in self.speakers.speakers if speaker.visible]

    def speaker(self, speaker_id: str) -> Speaker | None:
        return next((s for s in self.speakers.speakers if s.id == speaker_id), None)

    def date(self, date_id: str) -> ImportantDate | None:
        return next((d for d in self.dates.dates if d.id == date_id), None)


_MODELS: dict[str, type[_Model]] = {
    "workshop": Workshop,
    "dates": Dates,
    "cfp": Cfp,
    "schedule": Schedule,
    "speakers": Speakers,
    "organizers": Organizers,
    "news": News,
}


def validation_error(path: str, model: type[BaseModel], exc: ValidationError) -> DataInvalid:
    """The first pydantic error as one line naming file, entry and field."""
    where, problem = first_problem(model, exc)
    return DataInvalid.at(path, where or None, problem)


def _read_yaml(path: Path, shown: str) -> Any:
    if not path.is_file():
        raise DataInvalid.at(shown, None, "file missing")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise DataInvalid.at(shown, line, f"YAML syntax error: {problem}") from exc
    except UnicodeDecodeError as exc:
        raise DataInvalid.at(shown, None, "not UTF-8 text") from exc
    except ValueError as exc:  # YAML builds dates itself: 2025-07-32 fails here
        raise DataInvalid.at(shown, None, f"invalid date or number: {exc}") from exc


def load_file(name: str, data_dir: Path, shown_dir: str) -> _Model:
    """Read and validate ``<data_dir>/<name>.yml``; errors name ``<shown_dir>/<name>.yml``."""
    model = _MODELS[name]
    shown = f"{shown_dir}/{name}.yml"
    raw = _read_yaml(data_dir / f"{name}.yml", shown)
    if not isinstance(raw, dict):
        raise DataInvalid.at(shown, None, f"expected a mapping of keys, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(shown, model, exc) from exc


def _check_links(site: SiteData, shown_dir: str, root: Path) -> None:
    """Cross-file checks: speaker ids, the schedule's day, photos on disk."""
    ids = [speaker.id for speaker in site.speakers.speakers]
    for index, speaker_id in enumerate(ids):
        if speaker_id in ids[:index]:
            raise DataInvalid.at(f"{shown_dir}/speakers.yml", f"speakers[{index}].id", "duplicate id")
    for index, session in enumerate(site.schedule.sessions):
        if session.speaker is not None and session.speaker not in ids:
            close = difflib.get_close_matches(session.speaker, ids, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            where = f"sessions[{index}].speaker"
            problem = f"unknown speaker {session.speaker!r}{hint}"
            raise DataInvalid.at(f"{shown_dir}/schedule.yml", where, problem)
    if site.date(site.schedule.day) is None:
        known = ", ".join(d.id for d in site.dates.dates)
        raise DataInvalid.at(f"{shown_dir}/schedule.yml", "day", f"no date with this id (known: {known})")
    people = [("speakers", i, p.photo) for i, p in enumerate(site.speakers.speakers)]
    people += [("organizers", i, p.photo) for i, p in enumerate(site.organizers.organizers)]
    for name, index, photo in people:
        if photo is not None and not photo.startswith("https://") and not (root / photo).is_file():
            raise DataInvalid.at(f"{shown_dir}/{name}.yml", f"{name}[{index}].photo", "file not found")


def load_site_data(data_dir: Path, root: Path) -> SiteData:
    """Load every data file; raise :class:`DataInvalid` (one line) on the first problem."""
    try:
        shown_dir = data_dir.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown_dir = data_dir.as_posix()
    parts = {name: load_file(name, data_dir, shown_dir) for name in DATA_FILES}
    site = SiteData.model_validate(parts)
    _check_links(site, shown_dir, root)
    return site

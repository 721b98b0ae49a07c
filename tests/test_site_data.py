"""The site data (book/_data/*.yml): loading, one-line errors, rendering, calendar."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from docutils import nodes
from docutils.core import publish_from_doctree
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx import addnodes

from codeml_repro.model.errors import DataInvalid
from codeml_repro.sphinx.workshop import calendar as ics
from codeml_repro.sphinx.workshop.avatars import avatar_data_uri, avatar_svg, initials
from codeml_repro.sphinx.workshop.blocks import format_date, render_news, render_schedule
from codeml_repro.sphinx.workshop.data import DATA_FILES, SiteData, load_site_data

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "_data"


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A copy of the book data under ``<tmp>/book/_data`` to break at will."""
    shutil.copytree(DATA, tmp_path / "book" / "_data")
    return tmp_path


Edit = Callable[[dict], None]  # type: ignore[type-arg]


def edit(root: Path, name: str, change: Edit) -> None:
    path = root / "book" / "_data" / f"{name}.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def load(root: Path) -> SiteData:
    return load_site_data(root / "book" / "_data", root)


def test_the_real_data_loads_and_matches_the_seed() -> None:
    site = load_site_data(DATA, ROOT)
    assert site.workshop.tagline == "Championing Open-source DEvelopment in Machine Learning"
    assert [d.label for d in site.dates.dates] == [
        "Submission Deadline",
        "Acceptance Notification Date",
        "Workshop Date",
    ]
    assert len(site.cfp.topics) == 5
    assert len(site.schedule.sessions) == 15  # the seed has 15 rows (the issue says 14)
    assert (site.schedule.sessions[0].start, site.schedule.sessions[-1].end) == ("09:00", "18:00")
    assert [s.name for s in site.visible_speakers()] == ["Matt Johnson"]
    assert len(site.speakers.speakers) == 6
    assert len(site.organizers.organizers) == 5


def _rename(entry: str, index: int, old: str, new: str) -> Edit:
    def change(raw: dict) -> None:  # type: ignore[type-arg]
        item = raw[entry][index] if index >= 0 else raw
        item[new] = item.pop(old)

    return change


def _set(entry: str | None, index: int, key: str, value: object) -> Edit:
    def change(raw: dict) -> None:  # type: ignore[type-arg]
        target = raw if entry is None else raw[entry][index]
        target[key] = value

    return change


BAD_DATA = [
    (
        "workshop",
        _rename("", -1, "tagline", "tagLine"),
        "book/_data/workshop.yml: tagLine: unknown key; did you mean 'tagline'?",
    ),
    (
        "workshop",
        _set(None, 0, "year", "next year"),
        "book/_data/workshop.yml: year: Input should be a valid integer, unable to parse string as an"
        " integer (got 'next year')",
    ),
    (
        "dates",
        _set("dates", 0, "when", "2025-05-30 23:59"),
        "book/_data/dates.yml: dates[0]: a date with a time needs a 'timezone' (e.g. AoE)",
    ),
    (
        "dates",
        _set("dates", 1, "when", "30 May"),
        "book/_data/dates.yml: dates[1].when: expected TBD, YYYY-MM-DD or 'YYYY-MM-DD HH:MM', got '30 May'",
    ),
    (
        "cfp",
        _set(None, 0, "topics", "one topic"),
        "book/_data/cfp.yml: topics: Input should be a valid list (got 'one topic')",
    ),
    (
        "schedule",
        _set("sessions", 3, "start", "9am"),
        "book/_data/schedule.yml: sessions[3].start: expected HH:MM, got '9am'",
    ),
    (
        "schedule",
        _set("sessions", 1, "speaker", "matt-jonson"),
        "book/_data/schedule.yml: sessions[1].speaker: unknown speaker 'matt-jonson';"
        " did you mean 'matt-johnson'?",
    ),
    (
        "speakers",
        _rename("speakers", 2, "visible", "visibel"),
        "book/_data/speakers.yml: speakers[2].visibel: unknown key; did you mean 'visible'?",
    ),
    (
        "speakers",
        _set("speakers", 5, "visible", "perhaps"),
        "book/_data/speakers.yml: speakers[5].visible: Input should be a valid boolean, unable to interpret"
        " input (got 'perhaps')",
    ),
    (
        "organizers",
        _set("organizers", 0, "affiliations", []),
        "book/_data/organizers.yml: organizers[0].affiliations: List should have at least 1 item after"
        " validation, not 0",
    ),
    (
        "news",
        _set("news", 0, "date", "soon"),
        "book/_data/news.yml: news[0].date: Input should be a valid date or datetime, input is too short"
        " (got 'soon')",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "message"), BAD_DATA, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_DATA)]
)
def test_bad_data_is_one_line_naming_file_entry_and_field(
    data_root: Path, name: str, change: Edit, message: str
) -> None:
    edit(data_root, name, change)
    with pytest.raises(DataInvalid) as caught:
        load(data_root)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_every_data_file_is_covered_by_a_bad_data_case() -> None:
    assert {case[0] for case in BAD_DATA} == set(DATA_FILES)


def test_yaml_syntax_error_and_missing_file(data_root: Path) -> None:
    path = data_root / "book" / "_data" / "news.yml"
    path.write_text("news:\n  - date: 2025-01-01\n    text: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataInvalid, match=r"^book/_data/news.yml: line \d+: YAML syntax error: "):
        load(data_root)
    path.unlink()
    with pytest.raises(DataInvalid, match=r"^book/_data/news.yml: file missing$"):
        load(data_root)


def test_missing_photo_is_reported(data_root: Path) -> None:
    edit(data_root, "organizers", _set("organizers", 1, "photo", "book/_static/people/nobody.jpg"))
    expected = r"^book/_data/organizers.yml: organizers\[1\].photo: file not found$"
    with pytest.raises(DataInvalid, match=expected):
        load(data_root)


def test_date_display() -> None:
    site = load_site_data(DATA, ROOT)
    assert format_date(site.dates.dates[0]) == "TBD"
    deadline = site.dates.dates[0].model_copy(update={"when": "2025-05-30 23:59", "timezone": "AoE"})
    assert format_date(deadline) == "May 30, 2025, 23:59 AoE"
    day = site.dates.dates[2].model_copy(update={"when": dt.date(2025, 7, 18)})
    assert format_date(day) == "July 18, 2025"


def _dated(root: Path) -> SiteData:
    def change(raw: dict) -> None:  # type: ignore[type-arg]
        raw["dates"][0].update(when="2025-05-30 23:59", timezone="AoE")
        raw["dates"][2]["when"] = dt.date(2025, 7, 18)

    edit(root, "dates", change)
    return load(root)


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines: list[str] = []
    for line in text.split("\r\n")[:-1]:
        assert len(line.encode("utf-8")) <= 75
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def test_calendar_has_events_only_for_dated_items(data_root: Path) -> None:
    undated = _unfold(ics.calendar(load(data_root)))
    assert undated[0] == "BEGIN:VCALENDAR" and undated[-1] == "END:VCALENDAR"
    assert "BEGIN:VEVENT" not in undated

    lines = _unfold(ics.calendar(_dated(data_root), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)))
    summaries = [line.removeprefix("SUMMARY:") for line in lines if line.startswith("SUMMARY:")]
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2 + 15
    assert "CODEML: Submission Deadline" in summaries
    assert "CODEML: Acceptance Notification Date" not in summaries  # still TBD
    assert "DTSTART:20250531T115900Z" in lines  # 23:59 AoE (UTC-12)
    assert "DTSTART;VALUE=DATE:20250718" in lines
    assert "DTSTART:20250718T160000Z" in lines  # 09:00 in Vancouver (PDT, UTC-7)
    assert "SUMMARY:CODEML: Contributed talks/demos" in lines
    assert len({line for line in lines if line.startswith("UID:")}) == 17


def _html(*children: nodes.Node) -> str:
    document = new_document("test", get_default_settings(Parser))
    document += children
    return str(publish_from_doctree(document, writer_name="html5").decode("utf-8"))


def test_data_text_is_escaped_never_markup(data_root: Path) -> None:
    edit(data_root, "news", _set("news", 0, "text", "<script>alert(1)</script> **not bold**"))
    rendered = _html(*render_news(load(data_root), limit=None))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **not bold**" in rendered
    assert "<script>alert" not in rendered


def test_news_newest_first_and_limited() -> None:
    site = load_site_data(DATA, ROOT)
    dates = [item.date for item in site.news.newest()]
    assert dates == sorted(dates, reverse=True)
    assert len(site.news.newest(1)) == 1


def test_talk_links_to_its_speaker_only_when_visible(data_root: Path) -> None:
    def assign(raw: dict) -> None:  # type: ignore[type-arg]
        raw["sessions"][1]["speaker"] = "sara-hooker"  # hidden draft
        raw["sessions"][12]["speaker"] = "matt-johnson"

    edit(data_root, "schedule", assign)
    caption, table = render_schedule(load(data_root), "book/schedule")
    assert caption.astext() == "TBD; times are local (America/Vancouver)."
    refs = {x["reftarget"]: x.astext() for x in table.findall(addnodes.pending_xref)}
    assert refs == {"/book/posters": "Poster session", "speaker-matt-johnson": "Matt Johnson"}
    assert "Sara Hooker" not in table.astext()


def test_initials_avatar() -> None:
    assert initials("Geoff Pleiss") == "GP"
    assert initials("Frank  Schneider") == "FS"
    assert initials("Cher") == "C"
    svg = avatar_svg('<A "B">')
    assert "&lt;A &quot;B&quot;&gt;" in svg and '<A "B">' not in svg
    assert avatar_data_uri("Tri Dao").startswith("data:image/svg+xml;base64,")


def test_impossible_calendar_date_is_one_line(data_root: Path) -> None:
    news = data_root / "book" / "_data" / "news.yml"
    news.write_text("news:\n  - {date: 2025-15-03, text: Hello}\n", encoding="utf-8")
    with pytest.raises(DataInvalid) as info:
        load(data_root)
    assert str(info.value).startswith("book/_data/news.yml: invalid date or number:")
    assert "\n" not in str(info.value)


def test_calendar_uids_are_stable_and_name_the_speaker(data_root: Path) -> None:
    stamp = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    before = {line for line in _unfold(ics.calendar(_dated(data_root), stamp)) if line.startswith("UID:")}

    def change(raw: dict) -> None:  # type: ignore[type-arg]
        raw["sessions"].insert(1, {"start": "09:15", "end": "09:20", "title": "Group photo"})
        raw["sessions"][-3]["speaker"] = "matt-johnson"  # 16:30 invited talk

    edit(data_root, "schedule", change)
    lines = _unfold(ics.calendar(load(data_root), stamp))
    after = {line for line in lines if line.startswith("UID:")}
    assert before < after and len(after - before) == 1  # one new event, every old UID kept
    assert "SUMMARY:CODEML: Invited talk: Matt Johnson" in lines
    data_dir = data_root / "book" / "_data"
    assert ics.data_stamp(data_dir) == ics.data_stamp(data_dir)

"""The home page's next deadline: the first dated Important Date still ahead, a whole day ending
at 23:59 Anywhere on Earth, with the days left (kept current by codeml-countdown.js)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from codeml_repro.sphinx.workshop.data import SiteData, load_site_data
from codeml_repro.sphinx.workshop.hero import days_left, deadline_nodes, next_deadline

REPO = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc


def _site(tmp_path: Path, dates: list[dict[str, str]]) -> SiteData:
    data = tmp_path / "book" / "_data"
    shutil.copytree(REPO / "book" / "_data", data)
    (data / "dates.yml").write_text(yaml.safe_dump({"dates": dates}), encoding="utf-8")
    return load_site_data(data, tmp_path)


def test_the_next_deadline_is_the_first_ahead_and_a_day_ends_at_midnight_aoe(tmp_path: Path) -> None:
    site = _site(tmp_path, [
        {"id": "submission", "label": "Submission Deadline", "when": "2025-05-30"},
        {"id": "notification", "label": "Acceptance Notification Date", "when": "2025-06-20 12:00",
         "timezone": "UTC"},
        {"id": "workshop", "label": "Workshop Date", "when": "TBD"},
    ])
    # 2025-05-30 23:59 AoE is 2025-05-31 11:59 UTC: still ahead at 11:00 UTC on the 31st.
    found = next_deadline(site, dt.datetime(2025, 5, 31, 11, 0, tzinfo=UTC))
    assert found is not None and found[0].id == "submission"
    assert found[1].astimezone(UTC) == dt.datetime(2025, 5, 31, 11, 59, tzinfo=UTC)
    later = next_deadline(site, dt.datetime(2025, 5, 31, 12, 0, tzinfo=UTC))
    assert later is not None and later[0].id == "notification"
    assert next_deadline(site, dt.datetime(2025, 7, 1, tzinfo=UTC)) is None
    line = deadline_nodes(site, dt.datetime(2025, 5, 20, 11, 59, tzinfo=UTC)).astext()
    countdown = '<time class="codeml-countdown" datetime="2025-05-31T11:59:00Z">in 11 days</time>'
    assert line == f"Submission Deadline: May 30, 2025, 23:59 AoE ({countdown})"


def test_days_left_in_words() -> None:
    end = dt.datetime(2025, 5, 31, 12, 0, tzinfo=UTC)
    assert days_left(end, end - dt.timedelta(hours=5)) == "today"
    assert days_left(end, end - dt.timedelta(days=1, hours=1)) == "in 1 day"
    assert days_left(end, end - dt.timedelta(days=9)) == "in 9 days"

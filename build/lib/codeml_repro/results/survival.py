"""How long a workshop's artifacts keep reproducing, from the recorded history.

For one edition and each whole month ``m`` since its workshop day, look at
every artifact's runs finished by that date (``history/<slug>.jsonl``): of
the artifacts that had reproduced at least once by then, the share whose
latest run still reproduced. The month at which that share first drops
below one half is the edition's *half-life*. Only recorded lines count:
no run is guessed, and a month before any run has no point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from codeml_repro.model.result import RunRecord, Status

MAX_MONTHS = 120


@dataclass(frozen=True)
class SurvivalPoint:
    months: int
    reproduced: int  # whose latest run by then reproduced
    ever: int  # that had reproduced at least once by then

    @property
    def share(self) -> float:
        return self.reproduced / self.ever


def parse_time(text: str) -> dt.datetime | None:
    """A history timestamp (ISO 8601, ``Z`` or an offset) in UTC; None if unreadable."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the 31st becomes the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has at least 28 days")


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if add_months(start, months) > end else months


def _timeline(history: Sequence[RunRecord]) -> list[tuple[dt.datetime, Status]]:
    runs = [(parse_time(r.finished_at), r.status) for r in history if r.finished_at]
    return sorted((t, s) for t, s in runs if t is not None)


def survival(histories: Sequence[Sequence[RunRecord]], workshop: dt.date,
             now: dt.datetime) -> list[SurvivalPoint]:
    """The edition's points for months 0 .. (now - workshop), skipping months with nothing to say.

    Month ``m`` is the state at the end of the day ``m`` months after the workshop; the last
    one is the state at ``now``.
    """
    timelines = [_timeline(h) for h in histories]
    points = []
    last = min(months_between(workshop, now.date()), MAX_MONTHS)
    for month in range(0, last + 1):
        cutoff = dt.datetime.combine(add_months(workshop, month), dt.time.max, dt.timezone.utc)
        if month == last:
            cutoff = max(cutoff, now)  # the month under way shows the newest runs
        ever = reproduced = 0
        for runs in timelines:
            done = [status for when, status in runs if when <= cutoff]
            if Status.REPRODUCED in done:
                ever += 1
                reproduced += done[-1] is Status.REPRODUCED
        if ever:
            points.append(SurvivalPoint(month, reproduced, ever))
    return points


def half_life(points: Sequence[SurvivalPoint]) -> int | None:
    """The first month at which fewer than half still reproduce, or None (not yet)."""
    return next((p.months for p in points if p.share < 0.5), None)

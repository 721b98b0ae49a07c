"""Where each edition of the workshop lives in the project.

The current edition is ``book/_data/`` and ``submissions/``; a closed one is
``editions/<year>/`` with its own ``_data/`` and ``submissions/``, moved there
by ``codeml-repro edition close``. Results stay in the one ``results/`` store,
keyed by slug, so a past edition's history goes on where it was and every
edition's artifacts keep being run. Slugs are therefore unique across
editions; :func:`codeml_repro.model.submission.discover` refuses a repeat.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from codeml_repro.model.safeyaml import load_bounded

EDITIONS_DIR = "editions"
CURRENT_DATA_DIR = "book/_data"
YEAR_RE = re.compile(r"^(19|20|21)\d{2}$")


def past_editions(root: Path) -> list[int]:
    """The closed editions under ``root/editions``, newest first."""
    base = root / EDITIONS_DIR
    if not base.is_dir():
        return []
    return sorted((int(p.name) for p in base.iterdir() if p.is_dir() and YEAR_RE.match(p.name)),
                  reverse=True)


def edition_dir(root: Path, year: int) -> Path:
    return root / EDITIONS_DIR / str(year)


def data_dir(root: Path, year: int | None) -> Path:
    """The data files of an edition (None: the current one)."""
    return root / CURRENT_DATA_DIR if year is None else edition_dir(root, year) / "_data"


def submission_bases(root: Path) -> list[tuple[int | None, Path]]:
    """``(edition, submissions folder)`` of every edition, the current one (None) first."""
    bases: list[tuple[int | None, Path]] = [(None, root / "submissions")]
    bases += [(year, edition_dir(root, year) / "submissions") for year in past_editions(root)]
    return bases


def edition_of(folder: Path) -> int | None:
    """The edition of a submission folder: a year under ``editions/``, or None (current)."""
    parts = folder.parts
    if len(parts) >= 4 and parts[-2] == "submissions" and parts[-4] == EDITIONS_DIR:
        year = parts[-3]
        return int(year) if YEAR_RE.match(year) else None
    return None


def workshop_day(root: Path, year: int | None) -> dt.date | None:
    """The day of an edition's workshop: ``schedule.yml``'s ``day``, looked up in ``dates.yml``.

    Read leniently (the book's build validates these files): None when unset or TBD.
    """
    folder = data_dir(root, year)
    try:
        schedule = load_bounded(folder / "schedule.yml")
        dates = load_bounded(folder / "dates.yml")
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    day_id = schedule.get("day") if isinstance(schedule, dict) else None
    entries = dates.get("dates") if isinstance(dates, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == day_id:
            when = entry.get("when")
            if isinstance(when, dt.date):
                return when
            try:
                return dt.date.fromisoformat(str(when)[:10])
            except ValueError:
                return None
    return None

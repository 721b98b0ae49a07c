"""The workshop's names, as its site data says (``book/_data/workshop.yml``): no name in the code.

One reader for every text the toolkit writes about the workshop outside the
site's own pages: cite keys and the workshop's ``.bib`` file, the BibTeX
booktitle, the badges' label, the calendar file, the CLI's table title and the
schema's title. A missing or odd file gives neutral words ("the workshop",
"artifact"), never another workshop's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from codeml_repro.model.safeyaml import load_bounded

DATA_FILE = Path("book") / "_data" / "workshop.yml"
_WORD_WORKSHOP = re.compile(r"\bworkshop\b", re.IGNORECASE)


def slugify(text: str) -> str:
    """Lowercase letters and digits joined by ``-``: safe in a file name and a URL."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass(frozen=True)
class WorkshopNames:
    """``name`` (e.g. "Workshop on Reproducible ML"), ``short_name`` (e.g. "ReproML"), ``badge_label``."""

    name: str = ""
    short_name: str = ""
    badge_label: str = ""
    venue: str = ""
    year: int | None = None

    @property
    def short(self) -> str:
        """The short name, else the name: what a title or a label starts with."""
        return self.short_name or self.name

    @property
    def slug(self) -> str:
        """The short name as a file-name stem (``reproml``); ``workshop`` when there is none."""
        return slugify(self.short) or "workshop"

    @property
    def label(self) -> str:
        """The badges' left-hand text."""
        return self.badge_label or (f"{self.short} artifact" if self.short else "artifact")

    def booktitle(self, year: int) -> str:
        """BibTeX booktitle: "Workshop on X at ICML 2027", "CODEML Workshop at ICML 2025" (one "Workshop")."""
        name = self.name or self.short or "Workshop"
        suffix = "" if _WORD_WORKSHOP.search(name) else " Workshop"
        venue = f" at {self.venue}" if self.venue else ""
        return f"{name}{suffix}{venue} {year}"

    def cite_key(self, slug: str, year: int) -> str:
        """``reproml2027-<slug>``: the short name's letters and digits, the year, the poster."""
        return f"{self.slug.replace('-', '')}{year}-{slug}"

    def titled(self, what: str) -> str:
        """``"ReproML artifacts"`` for ``what="artifacts"``; ``"Artifacts"`` without a name."""
        return f"{self.short} {what}" if self.short else what[:1].upper() + what[1:]


def _text(raw: dict[object, object], key: str) -> str:
    value = raw.get(key)
    return " ".join(value.split()) if isinstance(value, str) else ""


def names_from(data_file: Path) -> WorkshopNames:
    """The names in ``data_file``; neutral defaults when it is missing, not YAML or not a mapping."""
    try:
        raw = load_bounded(data_file)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return WorkshopNames()
    if not isinstance(raw, dict):
        return WorkshopNames()
    year = raw.get("year")
    return WorkshopNames(
        name=_text(raw, "name"),
        short_name=_text(raw, "short_name"),
        badge_label=_text(raw, "badge_label"),
        venue=_text(raw, "venue"),
        year=year if isinstance(year, int) and not isinstance(year, bool) else None,
    )


def workshop_names(root: Path) -> WorkshopNames:
    """The names of the site rooted at ``root`` (``<root>/book/_data/workshop.yml``)."""
    return names_from(root / DATA_FILE)

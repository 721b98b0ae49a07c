"""How to cite a poster: a BibTeX entry, a ``CITATION.cff``, and one ``.bib`` for the workshop.

BibTeX is written by pybtex (it escapes ``%``, ``&`` and the like, and refuses
unbalanced braces, which author text could otherwise use to break out of a
field); CITATION.cff follows the Citation File Format 1.2 and is dumped by
PyYAML, so author text is always a YAML string. Both are built from
submission.yml and the workshop's ``workshop.yml`` only: no network.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from codeml_repro.model.archival import SWHID_RE
from codeml_repro.model.submission import Author, SubmissionSpec
from codeml_repro.model.workshopname import WorkshopNames, names_from

CFF_MESSAGE = "If you use this artifact, please cite the paper as below."
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Workshop:
    """What a citation needs of the workshop: its names (from workshop.yml) and the edition's year."""

    names: WorkshopNames
    year: int

    @property
    def booktitle(self) -> str:
        return self.names.booktitle(self.year)

    def for_year(self, year: int) -> Workshop:
        """The same workshop's edition of ``year`` (a past edition's poster)."""
        return replace(self, year=year)


def read_workshop(data_dir: Path, fallback_year: int) -> Workshop:
    """``workshop.yml`` of the book's data folder; neutral defaults when it is missing or odd."""
    names = names_from(data_dir / "workshop.yml")
    return Workshop(names, names.year if names.year is not None else fallback_year)


def plain(text: str) -> str:
    """One line of text with no control characters."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _bib_text(text: str) -> str:
    """Text pybtex accepts: balanced braces, or none at all."""
    text = plain(text)
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    return text if depth == 0 else text.replace("{", "").replace("}", "")


def cite_key(slug: str, workshop: Workshop) -> str:
    return workshop.names.cite_key(slug, workshop.year)


def bibtex(spec: SubmissionSpec, slug: str, workshop: Workshop, url: str | None) -> str:
    """One ``@inproceedings`` entry: workshop, year, authors, title, URL and DOI when known."""
    from pybtex.database import BibliographyData, Entry, Person

    fields = {"title": _bib_text(spec.title), "booktitle": _bib_text(workshop.booktitle),
              "year": str(workshop.year)}
    if url:
        fields["url"] = url
    if spec.links.doi:
        fields["doi"] = spec.links.doi
    persons = {"author": [Person(_bib_text(a.name)) for a in spec.authors]}
    data = BibliographyData(entries={cite_key(slug, workshop): Entry("inproceedings", fields, persons)})
    # The BibTeX writer itself: BibliographyData.to_string("bibtex") looks the format up among the
    # installed packages' entry points on every call (84 ms each; 500 posters took 40 s of a build).
    text: str = _writer().to_string(data)
    return text


@functools.lru_cache(maxsize=1)
def _writer() -> Any:
    from pybtex.database.output.bibtex import Writer

    return Writer()


def _cff_person(author: Author) -> dict[str, str]:
    name = plain(author.name)
    given, _, family = name.rpartition(" ")
    person = {"given-names": given, "family-names": family} if given else {"name": name}
    if author.affiliation:
        person["affiliation"] = plain(author.affiliation)
    if author.url:
        person["website"] = author.url
    return person


def _identifiers(spec: SubmissionSpec) -> list[dict[str, str]]:
    swh = spec.links.swh
    core = swh.split(";", 1)[0] if swh else None
    return [{"type": "swh", "value": core}] if core and SWHID_RE.match(core) else []


def citation_cff(spec: SubmissionSpec, workshop: Workshop, url: str | None) -> str:
    """``CITATION.cff`` (CFF 1.2.0) for the artifact, citing the poster as its preferred citation."""
    authors = [_cff_person(a) for a in spec.authors]
    paper: dict[str, Any] = {
        "type": "conference-paper",
        "title": plain(spec.title),
        "authors": authors,
        "year": workshop.year,
        "conference": {"name": plain(workshop.booktitle)},
    }
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": CFF_MESSAGE,
        "type": "software",
        "title": plain(spec.title),
        "authors": authors,
    }
    if spec.abstract.strip():
        cff["abstract"] = spec.abstract.strip()
    if spec.links.doi:
        cff["doi"] = paper["doi"] = spec.links.doi
    if url:
        cff["url"] = paper["url"] = url
    if spec.links.code:
        cff["repository-code"] = spec.links.code
    if _identifiers(spec):
        cff["identifiers"] = _identifiers(spec)
    cff["preferred-citation"] = paper
    return yaml.dump(cff, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)


class _NoAliases(yaml.SafeDumper):
    """A safe dumper that writes a repeated value (the authors) out again instead of ``&id001``/``*id001``:
    CFF tools and people reading the file expect plain YAML."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

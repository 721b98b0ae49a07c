"""Archival identifiers of an artifact: a DOI or a Software Heritage id (SWHID).

ACM's *Artifacts Available* badge asks for a permanent archive with a DOI or a
similar identifier, not a folder in a repository that can be rewritten. These
checks are syntax only (no network): a DOI as ``10.<registrant>/<suffix>`` or
its ``https://doi.org/`` URL, and an SWHID as ``swh:1:<type>:<40 hex>`` with
optional qualifiers, as the SWHID specification writes them.
"""

from __future__ import annotations

import re

# The Citation File Format 1.2 pattern, so a DOI valid here is valid in CITATION.cff too.
DOI_RE = re.compile(r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-.()\[\]\\]+$")
DOI_URL_RE = re.compile(r"^https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/\S+)$", re.IGNORECASE)
SWHID_RE = re.compile(r"^swh:1:(?:cnt|dir|rev|rel|snp):[0-9a-f]{40}(?:;[a-z]+=[^;\s]+)*$")
SWH_URL_PREFIX = "https://archive.softwareheritage.org/"


def normalize_doi(value: str) -> str:
    """A DOI, bare or as a ``https://doi.org/`` URL, as the bare DOI; ValueError if neither."""
    text = value.strip()
    match = DOI_URL_RE.match(text)
    doi = match.group(1) if match else text
    if not DOI_RE.match(doi):
        raise ValueError(
            f"{value!r} is not a DOI: write it as 10.5281/zenodo.1234567 or https://doi.org/10.5281/zenodo.1234567"
        )
    return doi


def normalize_swhid(value: str) -> str:
    """A Software Heritage id (``swh:1:dir:<40 hex>``, or its archive URL) as the bare id."""
    text = value.strip()
    if text.startswith(SWH_URL_PREFIX):
        text = text[len(SWH_URL_PREFIX) :].rstrip("/")
    if not SWHID_RE.match(text):
        raise ValueError(
            f"{value!r} is not a Software Heritage id: write it as swh:1:dir: followed by 40 hex digits "
            "(copy it from the archive's permalinks tab)"
        )
    return text

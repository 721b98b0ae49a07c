"""The workshop's machine-readable register: ``register.json`` and ``register.csv`` beside the HTML.

One row per submission of the current edition, the way CODECHECK publishes its
register, so others can count, link and archive without scraping pages. The
columns (:data:`COLUMNS`) are documented in the README; the CSV has the same
columns, lists joined with ``"; "`` and links as ``key=url``, every value (each item of a list
too) prefixed with ``'`` when it starts like a spreadsheet formula (:func:`guard`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from codeml_repro import __version__
from codeml_repro.results.badges import TIER_LABELS
from codeml_repro.sphinx.posters.entries import Entry

COLUMNS = (
    "slug",
    "title",
    "authors",
    "links",
    "archival_id",
    "status",
    "tiers",
    "tier_labels",
    "last_run",
    "toolkit_version",
    "page",
)


def row(entry: Entry, page: str) -> dict[str, Any]:
    """One submission's row; ``last_run`` is the finish time of its last recorded run, or None."""
    links = {k: v for k, v in entry.spec.links.model_dump().items() if v}
    return {
        "slug": entry.slug,
        "title": entry.spec.title,
        "authors": [a.name for a in entry.spec.authors],
        "links": links,
        "archival_id": entry.spec.links.archival_id,
        "status": entry.status.value,
        "tiers": entry.tiers,
        "tier_labels": [TIER_LABELS[t] for t in entry.tiers],
        "last_run": entry.result.finished_at if entry.result else None,
        "toolkit_version": __version__,
        "page": page,
    }


def register_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "|", "%", "\t", "\r")
"""A spreadsheet reads a cell that starts with one of these as a formula (or DDE), OWASP's list
plus ``|`` and ``%``. defusedcsv guards the same way but misses tab and CR and sees only whole
cells, while a list's items are split back apart by whoever reads them."""


def guard(text: str) -> str:
    """``text`` kept as text by a spreadsheet: a leading ``'`` when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    """One CSV cell; every item of a list or a mapping is guarded, and so is the joined cell."""
    if value is None:
        return ""
    if isinstance(value, list):
        return guard("; ".join(guard(str(v)) for v in value))
    if isinstance(value, dict):
        return guard("; ".join(f"{guard(str(k))}={guard(str(v))}" for k, v in value.items()))
    return guard(str(value))


def register_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r[c]) for c in COLUMNS])
    return out.getvalue()

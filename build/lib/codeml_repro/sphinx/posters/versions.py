"""The submission page's "Versions" section: each matrix cell against each claim.

One row per cell (oldest versions first), one column per claim with the value observed
on that version and pass/fail; the first version that failed after one that passed is
highlighted. Every value is author data, escaped by :mod:`codeml_repro.sphinx.html`.
"""

from __future__ import annotations

import json
from typing import Any

from codeml_repro.model.result import MatrixCellResult, Status
from codeml_repro.results.badges import message
from codeml_repro.results.versions import first_failing, matrix_summary, ordered_cells
from codeml_repro.sphinx.html import Child, Markup, table, tag
from codeml_repro.sphinx.posters.entries import Entry


def value_text(value: Any) -> str:
    """A claim value as text: strings as they are, the rest as JSON."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


def _claim_cell(cell: MatrixCellResult, name: str) -> Child:
    got = next((c for c in cell.claims if c.name == name), None)
    if got is None or not got.recorded:
        return tag("span", {"class": "codeml-claim-not-recorded"}, "not recorded")
    verdict = "pass" if got.ok else "fail"
    return [value_text(got.observed), " ", tag("span", {"class": f"codeml-claim-{verdict}"}, verdict)]


def _versions_text(cell: MatrixCellResult) -> Child:
    parts: list[Child] = []
    for package, version in cell.versions.items():
        asked = cell.requested.get(package)
        note = f" ({asked})" if asked and asked != version else ""
        parts += ["; " if parts else None, tag("code", None, f"{package} {version}"), note]
    return parts


def versions_html(entry: Entry) -> Markup | None:
    """The versions × claims table, or None when the last result has no matrix."""
    result = entry.result
    if result is None or not result.matrix or entry.stale:
        return None
    cells = ordered_cells(result)
    broke = first_failing(cells)
    names = [c.name for c in entry.spec.claims]
    rows: list[list[Child]] = []
    for cell in cells:
        shown = cell.status.value
        status = tag("span", {"class": f"codeml-status codeml-status-{shown}"}, message(cell.status))
        mark = None
        if cell is broke:
            mark = tag("mark", {"class": "codeml-first-failing"}, "first failing version")
        claims = [_claim_cell(cell, n) for n in names]
        rows.append([[_versions_text(cell), " ", mark], status, *claims, f"{cell.duration_s:.1f} s"])
    held = sum(c.status is Status.REPRODUCED for c in cells)
    summary = matrix_summary(result) or f"reproduced on all {len(cells)} versions"
    if not held:
        summary = f"reproduced on none of the {len(cells)} versions"
    return tag(
        "section",
        {"id": "versions"},
        tag("h2", None, "Versions"),
        tag("p", {"class": "codeml-matrix-summary"}, summary.capitalize() + "."),
        table(["Versions", "Status", *names, "Duration"], rows, "codeml-matrix"),
    )

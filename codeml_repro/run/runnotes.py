"""Notes a run's result carries beyond what the kernel saw: an upgraded notebook format, and
cells that used more than 80 % of their time budget (they would time out on a slower runner).

Each cell's budget is the one it ran under: the policy's per-cell budget, lowered by the
notebook's or the cell's own ``execution.timeout`` (:func:`.kernel.conventions.budget_of`).
The notes go into the result's warnings, so ``check``, the poster page and the dashboard
show them alike.
"""

from __future__ import annotations

from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebookfile import format_note, load_notebook_json
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ResourceReport
from codeml_repro.model.submission import Submission
from codeml_repro.run.kernel import conventions

WARN_FRACTION = 0.8


def slow_cell_warnings(cells: list[Any], metadata: Any, report: ResourceReport | None,
                       policy_s: float) -> list[str]:
    """A warning for each author cell that took more than 80 % of its own time budget."""
    if report is None or not report.cells:
        return []
    settings = conventions.notebook_settings(metadata if isinstance(metadata, dict) else {})
    out = []
    for timed in report.cells:
        found = cells[timed.cell] if 0 <= timed.cell < len(cells) else None
        cell = found if isinstance(found, dict) else {}
        budget = conventions.budget_of(cell, policy_s, settings)
        if budget > 0 and timed.duration_s / budget > WARN_FRACTION:
            source = conventions.timeout_source(cell, policy_s, settings)
            out.append(
                f"cell {timed.cell} took {timed.duration_s:.1f} s, {timed.duration_s / budget:.0%} of its "
                f"{budget:g} s budget{source}: a slower runner may time out; split it or lower its work"
            )
    return out


def run_notes(sub: Submission, policy: RunPolicy, report: ResourceReport | None) -> list[str]:
    """The notes for one run of ``sub``: the notebook's format, and its cells near their budget."""
    try:
        raw = load_notebook_json(sub.notebook_path)  # bounded, as every reader
    except SubmissionInvalid:
        return []
    notes = [note] if (note := format_note(raw)) else []
    cells = raw.get("cells") if isinstance(raw, dict) else None
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    if isinstance(cells, list):  # an nbformat 3 notebook's cells are in worksheets: no per-cell budgets
        notes += slow_cell_warnings(cells, metadata, report, policy.cell_timeout_s)
    return notes

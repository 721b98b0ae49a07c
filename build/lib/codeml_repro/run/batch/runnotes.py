"""Notes a run's result carries beyond what the kernel saw: an upgraded notebook format,
cells that used more than 80 % of their time budget (they would time out on a slower runner),
and ``!pip install`` lines that did not leave the packages already there.

Each cell's budget is the one it ran under: the policy's per-cell budget, lowered by the
notebook's or the cell's own ``execution.timeout`` (:func:`.kernel.conventions.budget_of`).
A package installed by a cell (``!pip install``, ``%pip install``, conda, ``uv pip``)
cannot make a run's environment: it is built from ``requirements.txt`` before the kernel
starts, the sandbox has no network, and a ``pip`` found on the kernel's PATH may be the
host's, installing for another interpreter. A cell whose installer printed only
"Requirement already satisfied" is left alone: it changed nothing.

The notes go into the result's warnings, so ``check``, the poster page and the dashboard
show them alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebookfile import format_note, load_notebook_json
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ResourceReport
from codeml_repro.model.submission import Submission
from codeml_repro.model.text import cell_source, shorten
from codeml_repro.run.batch.outputclaims import author_cells, cell_text
from codeml_repro.run.kernel import conventions, shellstatus

WARN_FRACTION = 0.8
_INSTALL = shellstatus.INSTALL
_ALREADY = re.compile(r"^Requirement already satisfied:", re.M)
_CHANGED_OR_FAILED = re.compile(r"^(?:Successfully installed|ERROR|error|Collecting|Downloading)\b", re.M)


def install_notes(cells: Iterable[Any]) -> list[str]:
    """A warning for each author cell that installs packages, unless they were all already there."""
    notes = []
    for index, cell in enumerate(author_cells(cells)):
        if cell.get("cell_type") != "code":
            continue
        line = _INSTALL.search(cell_source(cell.get("source")))
        if line is None:
            continue
        printed = cell_text(cell)
        if _ALREADY.search(printed) and not _CHANGED_OR_FAILED.search(printed):
            continue  # every package was already in the environment: nothing to say
        notes.append(
            f"cell {index}: `{shorten(line.group(0).strip(), 80)}` cannot set up the environment here: "
            "a run's packages come from requirements.txt, installed before the notebook starts (the "
            "sandbox has no network, and a pip on the PATH may be another Python's); list the "
            "packages in requirements.txt"
        )
    return notes


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


def run_notes(sub: Submission, policy: RunPolicy, report: ResourceReport | None,
              executed: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """The notes for one run of ``sub``: the notebook's format, its cells near their budget, and
    the package installs among the ``executed`` notebook's cells."""
    try:
        raw = load_notebook_json(sub.notebook_path)  # bounded, as every reader
    except SubmissionInvalid:
        return []
    notes = [note] if (note := format_note(raw)) else []
    notes += install_notes(executed)
    cells = raw.get("cells") if isinstance(raw, dict) else None
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    if isinstance(cells, list):  # an nbformat 3 notebook's cells are in worksheets: no per-cell budgets
        notes += slow_cell_warnings(cells, metadata, report, policy.cell_timeout_s)
    return notes

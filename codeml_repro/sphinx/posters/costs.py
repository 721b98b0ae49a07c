"""A submission page's cost of a run: one line near the badges, the five slowest cells in the run section."""

from __future__ import annotations

from codeml_repro.model.result import Result
from codeml_repro.results.costs import cost_line, slowest_cells
from codeml_repro.sphinx.html import Child, tag
from codeml_repro.sphinx.posters.entries import Entry


def cost_html(entry: Entry) -> Child:
    """'runs in 3 min 12 s, peak memory 1.4 GB, no GPU' for the last run (nothing when none ran)."""
    if entry.result is None or entry.stale:
        return None
    line = cost_line(entry.result, entry.spec.artifact.resources.gpu)
    return tag("p", {"class": "codeml-cost"}, line) if line else None


def slowest_html(result: Result) -> Child:
    """The five slowest cells, each linked to the cell in the rendered notebook."""
    cells = slowest_cells(result)
    if not cells:
        return None
    items = [
        tag("li", None, tag("a", {"href": f"#nb-cell-{c.cell}"}, f"cell {c.cell}"), f": {c.duration_s:.1f} s")
        for c in cells
    ]
    return tag("ol", {"class": "codeml-slowest-cells"}, items)

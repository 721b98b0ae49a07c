"""A poster page's last run for readers: one line, and the rest folded in ``<details>``.

The line says what a reader wants first (status, date, duration, sandbox,
Python and the packages the notebook imports); the environment (lock, limits,
every package), the per-cell times and the warnings stay one click away in
``<details>`` sections, as text and tables, never as raw JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeml_repro.model.artifact import Claim
from codeml_repro.model.imports import IMPORT_TO_DIST, imported_modules, normalize
from codeml_repro.model.result import Result
from codeml_repro.results.costs import cost_line, human_duration
from codeml_repro.sphinx.html import Child, Markup, table, tag
from codeml_repro.sphinx.posters.entries import Entry
from codeml_repro.sphinx.posters.inputs import DATA_ERROR_WORDS

PACKAGES_SHOWN = 5
#: Cells faster than this are left out of the per-cell times (a blank line or an import).
CELL_SHOWN_S = 0.05
TOOL_ERROR_WORDS = {
    "RunnerFailed": "The toolkit failed while running this submission (no fault of the notebook's); "
    "the next run tries again.",
}


def rounded(value: Any, claim: Claim | None) -> str:
    """A claim value to the precision its tolerance tells apart: ``0.9689`` at abs_tol 0.01 is ``0.97``."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)
    tol = _tolerance(claim)
    if tol is None or tol <= 0:
        return f"{value:.6g}"
    decimals = max(0, -math.floor(math.log10(tol)))
    return f"{value:.{decimals}f}"


def _tolerance(claim: Claim | None) -> float | None:
    if claim is None:
        return None
    expected = claim.expected if isinstance(claim.expected, (int, float)) else 0.0
    relative = None if claim.rel_tol is None else claim.rel_tol * abs(expected)
    parts = [t for t in (claim.abs_tol, relative) if t]
    return max(parts) if parts else None


def imported_packages(
    notebook: Path | None, packages: Mapping[str, Any], count: int = PACKAGES_SHOWN
) -> list[str]:
    """``name version`` of the first ``count`` installed distributions the notebook imports."""
    if notebook is None or not packages:
        return []
    versions = {normalize(str(k)): (str(k), str(v)) for k, v in packages.items()}
    out: list[str] = []
    for module in imported_modules(notebook):
        found = versions.get(normalize(IMPORT_TO_DIST.get(module, module)))
        if found and f"{found[0]} {found[1]}" not in out:
            out.append(f"{found[0]} {found[1]}")
    return out[:count]


def run_line(entry: Entry, result: Result, notebook_href: str | None) -> Markup:
    """'Reproduced · 2025-07-01 · 3.2 s · sandbox bwrap · Python 3.11.2 · numpy 2.1.0, ...'."""
    env = result.environment
    parts: list[Child] = [
        tag("span", {"class": f"codeml-status codeml-status-{result.status.value}"}, entry.status_label),
        (result.finished_at or "")[:10] or None,
        human_duration(result.duration_s),
        f"sandbox {result.sandbox}",
        f"Python {env['python']}" if isinstance(env.get("python"), str) else None,
        ", ".join(imported_packages(entry.notebook, env.get("packages") or {})) or None,
    ]
    shown: list[Child] = []
    for part in parts:
        if part is not None:
            shown += [" · " if shown else None, part]
    if notebook_href:
        shown += [" · ", tag("a", {"href": notebook_href}, "executed notebook")]
    return tag("p", {"class": "codeml-run-line"}, shown)


def _cell_link(cell: int | None) -> Child:
    return None if cell is None else [" ", tag("a", {"href": f"#nb-cell-{cell}"}, f"in cell {cell}")]


def _error(result: Result) -> Child:
    err = result.error
    if err is None:
        return None
    where = None if err.cell is None else tag("a", {"href": f"#nb-cell-{err.cell}"}, f"in cell {err.cell}")
    words = DATA_ERROR_WORDS.get(err.type) or TOOL_ERROR_WORDS.get(err.type)
    return tag("p", {"class": "codeml-run-error"}, words, " " if words else None,
               tag("code", None, err.type), ": ", err.message, " ", where)


def _plain(value: Any) -> str:
    """A recorded value as words: ``a 1; b 2`` for a mapping, ``x, y`` for a list."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fold(title: str, *children: Child, ident: str | None = None) -> Markup:
    return tag("details", {"class": "codeml-more", "id": ident}, tag("summary", None, title), *children)


def _pairs(items: list[tuple[str, Any]]) -> Markup:
    rows: list[list[Child]] = [[k, _plain(v)] for k, v in items if v not in (None, "", [], {})]
    return table(["Item", "Value"], rows, "codeml-pairs")


SKIP_ENV = {"packages", "lock", "limits", "python_executable"}


def details_html(entry: Entry, result: Result) -> list[Child]:
    """The folded sections: what happened, the environment, per-cell times."""
    env = result.environment
    happened: list[Child] = [
        _error(result),
        tag("p", None, "Not run here: ", result.skip_reason) if result.skip_reason else None,
        tag("p", None, f"Profile: {result.profile} (not the full run)") if result.profile != "full" else None,
        tag("p", None, "Flaky: recorded values differed between repeats.") if result.flaky else None,
    ]
    if result.allowed_errors:
        happened.append(tag("p", None, "Errors the notebook allows (raises-exception, allow_errors):"))
        happened.append(tag("ul", {"class": "codeml-allowed-errors"}, [
            tag("li", None, tag("code", None, e.type), ": ", e.message, _cell_link(e.cell))
            for e in result.allowed_errors
        ]))
    if result.warnings:
        warnings = tag("ul", None, [tag("li", None, w) for w in result.warnings])
        happened += [tag("p", None, "Warnings:"), warnings]
    cost = cost_line(result, entry.spec.artifact.resources.gpu)
    happened.append(tag("p", {"class": "codeml-cost"}, f"Cost: {cost}.") if cost else None)
    packages = env.get("packages") or {}
    lock = env.get("lock") or []
    limits = env.get("limits") or {}
    cells = [c for c in (result.resources.cells if result.resources else []) if c.duration_s >= CELL_SHOWN_S]
    return [
        _fold("What happened in this run", happened, ident="run-details")
        if any(h is not None for h in happened) else None,
        _fold("Environment", _pairs([(str(k), v) for k, v in env.items() if k not in SKIP_ENV]),
              ident="run-environment") if env else None,
        _fold(f"All {len(packages)} packages", table(
            ["Package", "Version"], [[tag("code", None, str(k)), str(v)] for k, v in packages.items()],
            "codeml-packages")) if isinstance(packages, Mapping) and packages else None,
        _fold("Lock (the resolved set)", tag("pre", {"class": "codeml-lock"}, "\n".join(map(str, lock))))
        if isinstance(lock, list) and lock else None,
        _fold("Limits of the run", _pairs([(str(k), v) for k, v in limits.items()]))
        if isinstance(limits, Mapping) and limits else None,
        _fold("Time per cell", table(
            ["Cell", "Time"],
            [[tag("a", {"href": f"#nb-cell-{c.cell}"}, f"cell {c.cell}"), human_duration(c.duration_s)]
             for c in sorted(cells, key=lambda c: (-c.duration_s, c.cell))],
            "codeml-cell-times")) if cells else None,
    ]


def last_run_html(entry: Entry, notebook_href: str | None) -> Markup:
    """The "Last run" section: the line, then the folded details."""
    result = entry.result
    title = tag("h2", None, "Last run")
    if result is None:
        pending = tag("p", None, "Pending: this submission has not been run yet.")
        return tag("section", {"id": "run"}, title, pending)
    words = "Pending: its inputs changed since this run; what follows is from the last run."
    stale = tag("p", {"class": "codeml-stale"}, words) if entry.stale else None
    href = notebook_href if entry.notebook is not None else None
    line = run_line(entry, result, href)
    return tag("section", {"id": "run"}, title, stale, line, details_html(entry, result))

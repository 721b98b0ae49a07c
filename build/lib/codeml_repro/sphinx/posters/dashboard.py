"""The reproducibility dashboard: counts, a table of all submissions, tiers over runs.

Tables are docutils nodes (author text stays text). The chart is an SVG made
at build time from ``results/history``: for every day with a run, how many
submissions held each top tier at the end of that day. It contains only
numbers, dates and fixed labels.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from codeml_repro.model.result import Status
from codeml_repro.results.badges import NO_ARCHIVE_REASON, PALETTE, TIER_LABELS, TIERS, message, top_tier
from codeml_repro.results.versions import Holds, holds
from codeml_repro.sphinx.html import tag
from codeml_repro.sphinx.nodes import Cell, link, table, text_par
from codeml_repro.sphinx.posters.entries import (
    LEFT_OUT,
    Entry,
    build_entries,
    note_listing_doc,
    page_name,
    uri_from,
)

CHART_DAYS = 30
TIER_ORDER = ("none", *TIERS)
TIER_COLORS = {tier: PALETTE[tier] for tier in TIER_ORDER}

def left_out_count(problems: list[str]) -> int:
    """Folders the book could not load (each has a problem note): invalid wherever counted."""
    return sum(p.startswith(LEFT_OUT) for p in problems)


def counts_tables(entries: list[Entry], left_out: int = 0) -> list[nodes.Node]:
    """The status and badge counts; ``left_out`` folders (not loadable, so no entry, no page)
    count as ``invalid`` with no badge, as ``status`` shows them."""
    statuses = Counter(e.status for e in entries)
    statuses[Status.INVALID] += left_out
    tiers = Counter(t for e in entries for t in e.tiers)
    status_rows: list[list[Cell]] = [[message(s), str(statuses[s])] for s in Status if statuses[s]]
    tier_rows: list[list[Cell]] = [[TIER_LABELS[t], str(tiers[t])] for t in reversed(TIERS)]
    tier_rows.append(["No badge", str(sum(1 for e in entries if not e.tiers) + left_out)])
    out = [
        table(["Status", "Submissions"], status_rows or [["(none)", "0"]], ["codeml-status-counts"]),
        table(["Badge", "Submissions"], tier_rows, ["codeml-tier-counts"]),
    ]
    across = Counter(holds(e.result) for e in entries if e.result is not None and not e.stale)
    across.pop(None, None)
    if across:  # submissions with artifact.matrix: on how many of their versions the claims hold
        labels: dict[Holds | None, str] = {
            "every": "On every version", "some": "On some versions", "none": "On no version"
        }
        rows: list[list[Cell]] = [[label, str(across[k])] for k, label in labels.items()]
        out.append(table(["Claims hold", "Submissions"], rows, ["codeml-matrix-counts"]))
    return out


def last_run(entries: list[Entry]) -> str | None:
    times = [e.result.finished_at for e in entries if e.result and e.result.finished_at]
    times += [r.finished_at for e in entries for r in e.history if r.finished_at]
    return max(times) if times else None


def tiers_over_runs(entries: list[Entry]) -> list[tuple[str, Counter[str]]]:
    """For each day with a run (last ``CHART_DAYS``): submissions per top tier that day."""
    days = sorted({r.finished_at[:10] for e in entries for r in e.history if r.finished_at})[-CHART_DAYS:]
    series = []
    for day in days:
        counts: Counter[str] = Counter()
        for entry in entries:
            done = [r for r in entry.history if r.finished_at and r.finished_at[:10] <= day]
            status = done[-1].status if done else Status.PENDING
            counts[top_tier(status, entry.spec.links.archival_id is not None)] += 1
        series.append((day, counts))
    return series


_CHART_WIDTH, _CHART_HEIGHT, _CHART_PAD, _BAR_GAP = 640.0, 220.0, 30.0, 4.0


def _bar(day: str, counts: Counter[str], x: float, bar_w: float, scale: float) -> list[str]:
    """One day's stacked bar: a rect per tier present, bottom to top, each titled with its count."""
    rects = []
    y = _CHART_HEIGHT - _CHART_PAD
    for tier in TIER_ORDER:
        h = counts[tier] * scale
        if h:
            y -= h
            box: dict[str, str | None] = {
                "x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{bar_w:.1f}", "height": f"{h:.1f}",
                "fill": TIER_COLORS[tier],
            }
            rects.append(str(tag("rect", box, tag("title", None, f"{day}: {counts[tier]} {tier}"))))
    return rects


def _legend() -> str:
    """One coloured label per tier, best first, in two columns."""
    return "".join(
        str(tag("text", {"x": str(_CHART_PAD + 300 * (j % 2)), "y": str(12 + 13 * (j // 2)),
                         "font-size": "11", "fill": TIER_COLORS[t]},
                f"■ {TIER_LABELS.get(t, 'no badge')}"))
        for j, t in enumerate(reversed(TIER_ORDER))
    )


def chart_svg(series: list[tuple[str, Counter[str]]], total: int) -> str:
    """Stacked bars, one per day, coloured by top tier; the first and last days labelled."""
    width, height, pad = _CHART_WIDTH, _CHART_HEIGHT, _CHART_PAD
    n = max(len(series), 1)
    bar_w = min(max((width - 2 * pad) / n - _BAR_GAP, 2), 48)
    scale = (height - 2 * pad) / max(total, 1)
    parts = []
    for i, (day, counts) in enumerate(series):
        x = pad + i * (bar_w + _BAR_GAP)
        parts += _bar(day, counts, x, bar_w, scale)
        if i in (0, len(series) - 1):
            parts.append(str(tag("text", {"x": f"{x:.1f}", "y": str(height - 10), "font-size": "10"}, day)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="codeml-chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Top badge tier of every submission per day of runs">'
        f"{_legend()}{''.join(parts)}</svg>"
    )


def submissions_table(app: Any, docname: str, entries: list[Entry]) -> nodes.table:
    rows: list[list[Cell]] = []
    for e in entries:
        title = link(uri_from(app, docname, page_name(app, e.slug)), e.spec.title)
        status: list[nodes.Node] = [
            nodes.inline("", e.status_label, classes=["codeml-status", f"codeml-status-{e.status.value}"])
        ]
        if e.regressed:
            status += [nodes.Text(" "), nodes.inline("", "regressed", classes=["codeml-regressed"])]
        claims = e.result.claims if e.result and not e.stale else []
        passed = f"{sum(c.ok for c in claims)}/{len(e.spec.claims)}" if e.spec.claims else "—"
        duration = f"{e.result.duration_s:.1f} s" if e.result else "—"
        finished = (e.result.finished_at if e.result else None) or "—"
        tiers = ", ".join(TIER_LABELS[t] for t in e.tiers) or "none"
        # Advice addressed to the authors lives here and in `check`, not on the public poster page.
        advice = NO_ARCHIVE_REASON if e.spec.links.archival_id is None else ""
        rows.append([title, status, tiers, passed, duration, finished, advice])
    return table(
        ["Submission", "Status", "Badges", "Claims passed", "Duration", "Last run", "For the authors"],
        rows,
        ["codeml-dashboard-table"],
    )


def problem_notes(problems: list[str]) -> list[nodes.Node]:
    """What the book could not read, as a note under the table (the build log has it too)."""
    if not problems:
        return []
    items = nodes.bullet_list(classes=["codeml-problems"])
    for problem in problems[:50]:
        items += nodes.list_item("", text_par(problem, "codeml-problem"))
    head = f"Note: {len(problems)} problem(s) while reading submissions and results; shown is what was read."
    return [text_par(head, "codeml-problems-note"), items]


class DashboardDirective(SphinxDirective):
    """``{codeml-dashboard}``: counts, the tiers chart and the table of submissions."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        note_listing_doc(self.env, self.env.docname)
        everything, problems = build_entries(self.env.app)
        entries = [e for e in everything if not e.spec.example]  # examples are not counted
        examples = len(everything) - len(entries)
        total_note = f" (and {examples} examples)." if examples else "."
        left_out = left_out_count(problems)
        when = last_run(entries)
        out: list[nodes.Node] = [
            text_par(
                f"Last run: {when}" if when else "Last run: never (every submission is pending).",
                "codeml-last-run",
            ),
            text_par(f"{len(entries) + left_out} submissions{total_note}", "codeml-total"),
            *counts_tables(entries, left_out),
        ]
        series = tiers_over_runs(entries)
        if series:
            out.append(
                text_par("Top badge tier of every submission, per day with runs:", "codeml-chart-caption")
            )
            out.append(nodes.raw("", chart_svg(series, len(entries)), format="html"))
        out.append(submissions_table(self.env.app, self.env.docname, everything))
        out.extend(problem_notes(problems))
        return [nodes.container("", *out, classes=["codeml-dashboard"])]

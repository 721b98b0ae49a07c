"""``{codeml-artifacts-over-time}``: each edition's share of artifacts still reproduced.

One line per edition (the current one once its workshop day is set, and every
closed one under ``editions/``), by months since its workshop, computed by
:mod:`codeml_repro.results.survival` from the recorded history only. The
"now" of the chart is the newest recorded run, not the build's clock, so the
same results always give the same page. The SVG holds only numbers, years and
fixed labels; the table says the same for readers without images.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from codeml_repro.model.editions import past_editions, workshop_day
from codeml_repro.results.survival import SurvivalPoint, half_life, parse_time, survival
from codeml_repro.sphinx.html import Markup, tag
from codeml_repro.sphinx.nodes import Cell, table, text_par
from codeml_repro.sphinx.posters.entries import Entry, codeml_root, load_build_entries, note_listing_doc

COLORS = ("#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")
ASSUMED_MONTH = 7  # a past edition without a workshop date: July of its year


@dataclass(frozen=True)
class EditionCurve:
    label: str
    day: dt.date
    assumed: bool
    artifacts: int
    points: list[SurvivalPoint]


def newest_run(entries: list[Entry]) -> dt.datetime | None:
    times = [parse_time(r.finished_at) for e in entries for r in e.history if r.finished_at]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def edition_curves(root: Any, entries: list[Entry]) -> list[EditionCurve]:
    """A curve per edition that has a workshop day (assumed for closed ones) and submissions."""
    now = newest_run(entries)
    if now is None:
        return []
    curves = []
    for edition in [None, *past_editions(root)]:
        group = [e for e in entries if e.edition == edition]
        day, assumed = workshop_day(root, edition), False
        if day is None and edition is not None:
            day, assumed = dt.date(edition, ASSUMED_MONTH, 1), True
        if day is None or not group:
            continue
        points = survival([e.history for e in group], day, now)
        label = str(edition) if edition is not None else f"{day.year} (current)"
        curves.append(EditionCurve(label, day, assumed, len(group), points))
    return curves


def _share(point: SurvivalPoint) -> str:
    return f"{point.share:.0%} ({point.reproduced}/{point.ever})"


def curves_table(curves: list[EditionCurve]) -> nodes.table:
    rows: list[list[Cell]] = []
    for c in curves:
        first, last = (c.points[0], c.points[-1]) if c.points else (None, None)
        life = half_life(c.points)
        rows.append([
            c.label,
            f"{c.day.isoformat()}{' (assumed)' if c.assumed else ''}",
            str(c.artifacts),
            f"{_share(first)} at month {first.months}" if first else "—",
            f"{_share(last)} at month {last.months}" if last else "—",
            f"{life} months" if life is not None else ("not yet" if c.points else "—"),
        ])
    headers = ["Edition", "Workshop day", "Artifacts", "First", "Latest", "Half-life"]
    return table(headers, rows, ["codeml-over-time-table"])


def curves_svg(curves: list[EditionCurve]) -> Markup:
    """One polyline per edition: x months since the workshop, y share still reproduced."""
    width, height, pad = 640.0, 240.0, 40.0
    span = max([p.months for c in curves for p in c.points] + [1])

    def xy(point: SurvivalPoint) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * point.months / span
        return x, height - pad - (height - 2 * pad) * point.share

    parts: list[Markup] = [
        tag("line", {"x1": str(pad), "x2": str(width - pad), "y1": str(height / 2), "y2": str(height / 2),
                     "stroke": "#bbb", "stroke-dasharray": "4 4"}),
        tag("text", {"x": "4", "y": str(pad + 4), "font-size": "10"}, "100%"),
        tag("text", {"x": "4", "y": str(height / 2 + 4), "font-size": "10"}, "50%"),
        tag("text", {"x": "4", "y": str(height - pad + 4), "font-size": "10"}, "0%"),
        tag("text", {"x": str(pad), "y": str(height - 10), "font-size": "10"}, "0"),
        tag("text", {"x": str(width - pad), "y": str(height - 10), "font-size": "10"}, str(span)),
        tag("text", {"x": str(width / 2 - 70), "y": str(height - 10), "font-size": "10"},
            "months since the workshop"),
    ]
    for i, curve in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        coords = [xy(p) for p in curve.points]
        parts.append(tag("polyline", {"fill": "none", "stroke": color, "stroke-width": "2",
                                      "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}))
        for point, (x, y) in zip(curve.points, coords, strict=True):
            title = f"{curve.label}, month {point.months}: {_share(point)}"
            parts.append(tag("circle", {"cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": "3", "fill": color},
                             tag("title", None, title)))
        parts.append(tag("text", {"x": str(pad + 110 * i), "y": "14", "font-size": "11", "fill": color},
                         f"■ {curve.label}"))
    return tag("svg", {"xmlns": "http://www.w3.org/2000/svg", "class": "codeml-chart codeml-over-time",
                       "viewBox": f"0 0 {width} {height}", "role": "img",
                       "aria-label": "Share of each edition's artifacts still reproduced, by months "
                       "since its workshop"}, parts)


class ArtifactsOverTimeDirective(SphinxDirective):
    """The chart and table of every edition's artifacts over time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        note_listing_doc(self.env, self.env.docname)  # results change without a source change
        root = codeml_root(self.env.app)
        curves = edition_curves(root, load_build_entries(self.env.app, warn=False, every_edition=True))
        curves = [c for c in curves if c.points]
        if not curves:
            return [text_par("No edition has a reproduced artifact in its recorded history yet.",
                             "codeml-over-time-empty")]
        return [nodes.container(
            "",
            nodes.raw("", str(curves_svg(curves)), format="html"),
            curves_table(curves),
            classes=["codeml-over-time"],
        )]

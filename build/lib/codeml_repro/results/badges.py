"""Status to badge tiers, their words, one colour palette, SVG badges and shields.io JSON.

The tiers borrow ACM's badge names only as far as the checks earn them:

- *Available* needs an archival identifier (a DOI or a Software Heritage id)
  in ``links``, as ACM's *Artifacts Available* needs a permanent archive;
- *Functional (automated run)* and *Reproduced (automated re-run)* say that a
  machine re-ran the authors' own notebook, which is weaker than ACM's
  evaluation by a committee and its *Results Reproduced* by another team;
- *Reusable (reviewed)* comes only from a human ``review`` in submission.yml.

The JSON status values and tier ids (``available``, ``reproduced``, ...) do not
change; only the words shown to readers do. Every colour a badge is drawn in
comes from :data:`PALETTE`; each gives white text a contrast of at least 4.5:1
(WCAG AA), and ``codeml_repro/sphinx/static/codeml-listing.css`` uses the same values.
"""

from __future__ import annotations

from html import escape

from codeml_repro.model.result import Status
from codeml_repro.model.review import Review
from codeml_repro.model.submission import SubmissionSpec

TIERS = ("available", "functional", "reproduced")
REVIEWED = "reusable"

TIER_LABELS = {
    "available": "Available",
    "functional": "Functional (automated run)",
    "reproduced": "Reproduced (automated re-run)",
    REVIEWED: "Reusable (reviewed)",
}

#: The section of the authors' guide (``book/authors.md``) that explains each tier.
TIER_ANCHORS = {tier: f"badge-{tier}" for tier in TIER_LABELS}

NO_ARCHIVE_REASON = "add a Zenodo DOI of your code to earn Available"

#: Earned by the run alone; *available* is added only with an archival id.
_RUN_TIERS: dict[Status, tuple[str, ...]] = {
    Status.REPRODUCED: ("functional", "reproduced"),
    Status.FUNCTIONAL: ("functional",),
    Status.NOT_REPRODUCED: ("functional",),
    Status.FAILED: (),
    Status.TIMEOUT: (),
    Status.KERNEL_DIED: (),
    Status.OUTPUT_LIMIT: (),
    Status.PENDING: (),
    Status.SKIPPED: (),  # not run here: Available (with an archive) at most
}

PALETTE = {
    "earned": "#2e7d32",
    "missing": "#595959",
    "label": "#555555",
    "reproduced": "#2e7d32",
    "functional": "#1565c0",
    "not_reproduced": "#a84300",
    "failed": "#c62828",
    "invalid": "#616161",
    "pending": "#6b6b6b",
    "skipped": "#6b6b6b",
    "available": "#8a5a00",
    "none": "#6b6b6b",
    REVIEWED: "#6a1b9a",
}

_FAILED = (Status.FAILED, Status.TIMEOUT, Status.KERNEL_DIED, Status.OUTPUT_LIMIT)

COLORS = {s: PALETTE["failed" if s in _FAILED else s.value] for s in Status}

SHIELDS_COLORS = {
    Status.REPRODUCED: "brightgreen",
    Status.FUNCTIONAL: "blue",
    Status.NOT_REPRODUCED: "orange",
    Status.FAILED: "red",
    Status.TIMEOUT: "red",
    Status.KERNEL_DIED: "red",
    Status.OUTPUT_LIMIT: "red",
    Status.INVALID: "lightgrey",
    Status.PENDING: "lightgrey",
    Status.SKIPPED: "lightgrey",
}

_AUTOMATED_WORDS = {
    Status.REPRODUCED: "reproduced (automated re-run)",
    Status.FUNCTIONAL: "functional (automated run)",
    Status.NOT_REPRODUCED: "not reproduced (automated re-run)",
}


def badges_for(status: Status, archived: bool = False, reviewed: bool = False) -> list[str]:
    """The tiers earned, lowest first: *available* only when ``archived``, *reusable* when ``reviewed``.

    ``archived`` defaults to False because nothing is *Available* without proof.
    An invalid submission earns nothing.
    """
    if status is Status.INVALID or status not in _RUN_TIERS:
        return []
    tiers = (["available"] if archived else []) + list(_RUN_TIERS[status])
    return tiers + ([REVIEWED] if reviewed else [])


def review_current(review: Review | None, inputs: str | None) -> bool:
    """A review applies only to the version it reviewed (same inputs key)."""
    return review is not None and inputs is not None and review.inputs == inputs


def earned_tiers(status: Status, spec: SubmissionSpec, inputs: str | None) -> list[str]:
    """The tiers of a submission: its status, its archival id and a current reusable review."""
    review = spec.review
    reviewed = review is not None and review.reusable and review_current(review, inputs)
    return badges_for(status, spec.links.archival_id is not None, reviewed)


def top_tier(status: Status, archived: bool = False, reviewed: bool = False) -> str:
    """The best tier earned, or 'none'."""
    tiers = badges_for(status, archived, reviewed)
    return tiers[-1] if tiers else "none"


def message(status: Status) -> str:
    """The status value as words (``not reproduced``), for tables."""
    return status.value.replace("_", " ")


def badge_message(status: Status) -> str:
    """The status as a badge says it: automated outcomes say that they are automated."""
    return _AUTOMATED_WORDS.get(status, message(status))


def endpoint_json(status: Status, label: str = "artifact") -> dict[str, object]:
    """shields.io endpoint schema v1; ``label`` is the workshop's ``badge_label``."""
    return {
        "schemaVersion": 1,
        "label": label,
        "message": badge_message(status),
        "color": SHIELDS_COLORS[status],
    }


def _text_width(text: str) -> int:
    # Verdana 11px averages ~6.5 px per character; good enough for a badge.
    return int(len(text) * 6.5) + 10


def _svg(parts: list[tuple[str, str]], title: str) -> str:
    """A flat badge of coloured segments (text, colour), escaped."""
    widths = [_text_width(text) for text, _ in parts]
    total = sum(widths)
    rects, texts, x = [], [], 0
    for (text, color), w in zip(parts, widths, strict=True):
        rects.append(f'<rect x="{x}" width="{w}" height="20" fill="{escape(color)}"/>')
        cx = x + w / 2
        texts.append(
            f'<text x="{cx:.1f}" y="14" fill="#fff" text-anchor="middle">{escape(text)}</text>'
        )
        x += w
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<g shape-rendering="crispEdges">{"".join(rects)}</g>'
        '<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'{"".join(texts)}</g></svg>'
    )


def status_svg(status: Status, label: str = "artifact") -> str:
    """Label plus status, the badge authors embed in their README."""
    words = badge_message(status)
    return _svg([(label, PALETTE["label"]), (words, COLORS[status])], f"{label}: {words}")


def tiers_svg(status: Status, archived: bool = False, reviewed: bool = False) -> str:
    """The combined badge: one segment per tier, earned or not (*reusable* only when reviewed)."""
    earned = set(badges_for(status, archived, reviewed))
    shown = [*TIERS, REVIEWED] if reviewed else list(TIERS)
    parts = [
        (TIER_LABELS[t], PALETTE["earned"] if t in earned else PALETTE["missing"]) for t in shown
    ]
    title = "badges: " + (", ".join(TIER_LABELS[t] for t in shown if t in earned) or "none")
    return _svg(parts, title)

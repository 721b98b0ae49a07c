"""Status to badge tiers (ACM-style), SVG badges and shields.io endpoint JSON."""

from __future__ import annotations

from html import escape

from codeml_repro.model.result import Status

TIERS = ("available", "functional", "reproduced")

TIER_LABELS = {
    "available": "Artifacts Available",
    "functional": "Artifacts Evaluated – Functional",
    "reproduced": "Results Reproduced",
}

_BADGES: dict[Status, tuple[str, ...]] = {
    Status.REPRODUCED: TIERS,
    Status.FUNCTIONAL: TIERS[:2],
    Status.NOT_REPRODUCED: TIERS[:2],
    Status.FAILED: TIERS[:1],
    Status.TIMEOUT: TIERS[:1],
    Status.KERNEL_DIED: TIERS[:1],
    Status.OUTPUT_LIMIT: TIERS[:1],
    Status.INVALID: (),
    Status.PENDING: TIERS[:1],
}

COLORS = {
    Status.REPRODUCED: "#2e7d32",
    Status.FUNCTIONAL: "#1565c0",
    Status.NOT_REPRODUCED: "#ef6c00",
    Status.FAILED: "#c62828",
    Status.TIMEOUT: "#c62828",
    Status.KERNEL_DIED: "#c62828",
    Status.OUTPUT_LIMIT: "#c62828",
    Status.INVALID: "#616161",
    Status.PENDING: "#9e9e9e",
}

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
}


def badges_for(status: Status) -> list[str]:
    """The tiers a status earns, lowest first."""
    return list(_BADGES[status])


def top_tier(status: Status) -> str:
    """The best tier earned, or 'none'."""
    tiers = _BADGES[status]
    return tiers[-1] if tiers else "none"


def message(status: Status) -> str:
    return status.value.replace("_", " ")


def endpoint_json(status: Status, label: str = "CODEML artifact") -> dict[str, object]:
    """shields.io endpoint schema v1."""
    return {
        "schemaVersion": 1,
        "label": label,
        "message": message(status),
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


def status_svg(status: Status, label: str = "CODEML artifact") -> str:
    """Label plus status, the badge authors embed in their README."""
    return _svg([(label, "#555"), (message(status), COLORS[status])], f"{label}: {message(status)}")


def tiers_svg(status: Status) -> str:
    """The combined badge for the listing: one segment per tier, earned or not."""
    earned = set(_BADGES[status])
    parts = [(tier, "#2e7d32" if tier in earned else "#bdbdbd") for tier in TIERS]
    title = "badges: " + (", ".join(t for t in TIERS if t in earned) or "none")
    return _svg(parts, title)

"""Initials avatars: the fallback picture for people without a photo in the repo."""

from __future__ import annotations

import base64
import hashlib
import html

# Colour pairs (background, text) with a contrast ratio above 4.5:1.
_PALETTE = (
    ("#1f4e79", "#ffffff"),
    ("#6b2c91", "#ffffff"),
    ("#0b6e4f", "#ffffff"),
    ("#8a3b12", "#ffffff"),
    ("#234e52", "#ffffff"),
    ("#5c3d2e", "#ffffff"),
)


def initials(name: str) -> str:
    """Up to two initials: first and last word ("Geoff Pleiss" -> "GP")."""
    words = [word for word in name.replace("-", " ").split() if word[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def avatar_svg(name: str, size: int = 128) -> str:
    """A round SVG with the initials of ``name``; the colour is stable per name."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    background, foreground = _PALETTE[digest[0] % len(_PALETTE)]
    half = size // 2
    text = html.escape(initials(name))
    label = html.escape(name, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" aria-label="{label}">'
        f'<circle cx="{half}" cy="{half}" r="{half}" fill="{background}"/>'
        f'<text x="50%" y="50%" dy=".35em" text-anchor="middle" fill="{foreground}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="{size * 0.4:.0f}" '
        f'font-weight="600">{text}</text></svg>'
    )


def avatar_data_uri(name: str, size: int = 128) -> str:
    """The avatar as a ``data:`` URI, usable as an ``<img src>`` without a file."""
    encoded = base64.b64encode(avatar_svg(name, size).encode("utf-8")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"

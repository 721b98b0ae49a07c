"""``/favicon.ico`` at the site root, drawn at build time (no image library, no binary in git).

Browsers ask for ``/favicon.ico`` on pages that name no icon, such as the
redirect page Jupyter Book writes at the site root; without the file every
visit logs a 404. The icon repeats ``codeml_repro/sphinx/static/favicon.svg``: ``</>`` in
amber on a dark rounded square, as a 32x32 PNG inside an ICO container.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

SIZE = 32
BACKGROUND = (0x0F, 0x2A, 0x44, 255)
INK = (0xF2, 0xB3, 0x3D, 255)
# "</>" as strokes: (x0, y0, x1, y1) in pixels of the 32x32 icon.
STROKES = (
    (11, 9, 4, 16), (4, 16, 11, 23),
    (19, 7, 13, 25),
    (21, 9, 28, 16), (28, 16, 21, 23),
)


def _near_stroke(x: float, y: float) -> bool:
    for x0, y0, x1, y1 in STROKES:
        dx, dy = x1 - x0, y1 - y0
        t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - (x0 + t * dx), y - (y0 + t * dy)) <= 1.3:
            return True
    return False


def _inside_rounded(x: float, y: float, radius: float = 6.0) -> bool:
    cx = min(max(x, radius), SIZE - radius)
    cy = min(max(y, radius), SIZE - radius)
    return math.hypot(x - cx, y - cy) <= radius


def _pixel(x: int, y: int) -> tuple[int, int, int, int]:
    cx, cy = x + 0.5, y + 0.5
    if not _inside_rounded(cx, cy):
        return (0, 0, 0, 0)
    return INK if _near_stroke(cx, cy) else BACKGROUND


def _png() -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(_pixel(x, y)) for x in range(SIZE)) for y in range(SIZE))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(
        b"IEND", b""
    )


def favicon_ico() -> bytes:
    """An ICO file holding one 32x32 PNG image (supported by every current browser)."""
    png = _png()
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(png), 6 + 16)
    return directory + entry + png


def _write_favicon(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "favicon.ico"
    if not target.exists():  # a favicon.ico from html_extra_path wins
        target.write_bytes(favicon_ico())


def setup_favicon(app: Any) -> None:
    app.connect("build-finished", _write_favicon)

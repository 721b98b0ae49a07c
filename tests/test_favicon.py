"""The /favicon.ico the build writes at the site root (the root's redirect page names no icon)."""

from __future__ import annotations

import struct
import zlib

from codeml_repro.sphinx.workshop.favicon import BACKGROUND, INK, SIZE, favicon_ico


def test_favicon_is_an_ico_holding_a_32px_png() -> None:
    data = favicon_ico()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, _, _, _, bits, size, offset = struct.unpack("<BBBBHHII", data[6:22])
    assert (width, height, bits, offset, size) == (SIZE, SIZE, 32, 22, len(data) - 22)
    png = data[offset:]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    (length,) = struct.unpack(">I", png[33:37])
    assert png[37:41] == b"IDAT"
    pixels = zlib.decompress(png[41 : 41 + length])
    assert len(pixels) == SIZE * (1 + 4 * SIZE)
    row = pixels[(1 + 4 * SIZE) * 16 : (1 + 4 * SIZE) * 17][1:]
    colours = {tuple(row[i : i + 4]) for i in range(0, len(row), 4)}
    assert BACKGROUND in colours and INK in colours  # the "</>" crosses the middle row
    assert tuple(pixels[1:5]) == (0, 0, 0, 0)  # rounded corner: transparent

"""Text as the toolkit handles it everywhere: a notebook cell's source, a message cut to length.

One definition each, so a cell reads the same to the skip key, the checks, the
advice and the book, and every shortened message ends the same way.
"""

from __future__ import annotations

from typing import Any

ELLIPSIS = "…"


def cell_source(source: Any) -> str:
    """A cell's ``source`` as one string: nbformat allows a string or a list of lines."""
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return "" if source is None else str(source)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply a decoded JSON value nests lists and dicts, counted up to ``limit + 1``.

    Iterative, so a hostile value cannot exhaust the stack here; callers refuse a value past
    ``limit`` before a recursive walker (nbformat, jsonschema, a repr) sees it.
    """
    depth, level = 0, [value] if isinstance(value, dict | list) else []
    while level and depth <= limit:  # one level at a time: only containers are kept
        depth += 1
        children = (c for item in level for c in (item.values() if isinstance(item, dict) else item))
        level = [c for c in children if isinstance(c, dict | list)]
    return depth


def bracket_depth(text: str, brackets: str = "[]{}") -> int:
    """The deepest nesting of ``brackets`` (opening and closing characters in pairs) in ``text``.

    An upper bound (brackets inside strings count too), cheap enough to check before a
    recursive parser sees author text that could exhaust its stack.
    """
    opening, closing = brackets[0::2], brackets[1::2]
    depth = deepest = 0
    for char in text:
        if char in opening:
            depth += 1
            deepest = max(deepest, depth)
        elif char in closing:
            depth = max(0, depth - 1)
    return deepest

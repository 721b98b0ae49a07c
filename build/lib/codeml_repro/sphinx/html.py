"""A tiny escaping HTML builder for pages Sphinx does not write from documents.

Everything that is not :class:`Markup` is escaped on the way in, so author text
can only ever be text.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TypeAlias


class Markup(str):
    """HTML that is already safe: built by :func:`tag` from escaped parts."""

    __slots__ = ()


Child: TypeAlias = "str | Markup | Iterable[Child] | None"


def _render_children(children: Iterable[Child]) -> str:
    out = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, Markup):
            out.append(str(child))
        elif isinstance(child, str):
            out.append(escape(child, quote=False))
        else:
            out.append(_render_children(child))
    return "".join(out)


def tag(name: str, attrs: dict[str, str | None] | None = None, *children: Child) -> Markup:
    """``<name attrs>children</name>`` with every attribute and text escaped."""
    parts = [name]
    for key, value in (attrs or {}).items():
        if value is not None:
            parts.append(f'{key}="{escape(value, quote=True)}"')
    return Markup(f"<{' '.join(parts)}>{_render_children(children)}</{name}>")


def void(name: str, attrs: dict[str, str | None]) -> Markup:
    """A void element (``img``, ``br``) with escaped attributes."""
    parts = [name] + [f'{k}="{escape(v, quote=True)}"' for k, v in attrs.items() if v is not None]
    return Markup(f"<{' '.join(parts)}>")


def table(headers: list[str], rows: list[list[Child]], cls: str) -> Markup:
    """An HTML table with a head row; every cell escaped unless it is :class:`Markup`.

    Wrapped as the theme wraps document tables (``pst-scrollable-table-container``), so a table
    wider than a phone scrolls inside its own box and the theme's script makes that box focusable.
    """
    head = tag("thead", None, tag("tr", None, [tag("th", None, h) for h in headers]))
    body = tag("tbody", None, [tag("tr", None, [tag("td", None, c) for c in row]) for row in rows])
    box: dict[str, str | None] = {"class": "pst-scrollable-table-container"}
    return tag("div", box, tag("table", {"class": f"table {cls}"}, head, body))

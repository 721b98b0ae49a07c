"""Docutils helpers every page of the book builds with: one table, paragraphs, links.

Author text always enters as a ``nodes.Text`` (escaped by the HTML writer),
never as markup.
"""

from __future__ import annotations

from typing import TypeAlias

from docutils import nodes

Cell: TypeAlias = "str | nodes.Node | list[nodes.Node]"


def _cell_par(cell: Cell) -> nodes.paragraph:
    par = nodes.paragraph()
    if isinstance(cell, str):
        par += nodes.Text(cell)
    elif isinstance(cell, list):
        par.extend(cell)
    else:
        par += cell
    return par


def table(headers: list[str], rows: list[list[Cell]], classes: list[str]) -> nodes.table:
    """A docutils table; string cells become text nodes, an empty ``headers`` means no head row."""
    columns = len(headers) if headers else (len(rows[0]) if rows else 0)
    tab = nodes.table(classes=classes)
    group = nodes.tgroup(cols=columns)
    tab += group
    group.extend(nodes.colspec(colwidth=1) for _ in range(columns))
    if headers:
        group += nodes.thead("", nodes.row("", *(nodes.entry("", _cell_par(h)) for h in headers)))
    body = nodes.tbody()
    for cells in rows:
        body += nodes.row("", *(nodes.entry("", _cell_par(c)) for c in cells))
    group += body
    return tab


def text_par(text: str, cls: str, *children: nodes.Node) -> nodes.paragraph:
    """A paragraph of plain text (escaped on output) and extra nodes."""
    par = nodes.paragraph(classes=[cls])
    if text:
        par += nodes.Text(text)
    for child in children:
        par += child
    return par


def link(uri: str, text: str, cls: str = "") -> nodes.reference:
    """An external or relative link whose text is plain text."""
    ref = nodes.reference("", "", refuri=uri, classes=[cls] if cls else [])
    ref += nodes.Text(text)
    return ref

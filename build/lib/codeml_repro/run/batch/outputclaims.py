"""A claim's value read from what a cell printed (``output: {cell, regex}``), no notebook edit.

The cell is found by its index among the author's cells (papermill's injected parameters cell
is not counted, as ``check`` prints indices) or by its nbformat ``id``. Its text is its stream
outputs (stdout and stderr, in order) and the ``text/plain`` of its results, joined by newlines;
the regex's first match gives the value, its first group read as a number when it is one.

Both the regex and the text are the author's: the search runs under a timeout with the
``regex`` package, on at most :data:`MAX_TEXT_CHARS` of text, so a pattern that backtracks
catastrophically ends one claim's search, never the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from codeml_repro.model.artifact import Claim, OutputSource

MAX_TEXT_CHARS = 1_000_000
"""A cell's text searched: the first million characters (a log's numbers are near its top)."""
SEARCH_TIMEOUT_S = 1.0
INJECTED_TAG = "injected-parameters"


def _joined(text: Any) -> str:
    if isinstance(text, list):
        return "".join(t for t in text if isinstance(t, str))
    return text if isinstance(text, str) else ""


def cell_text(cell: Mapping[str, Any]) -> str:
    """What a cell printed: its streams and its results' text/plain, in order."""
    parts = []
    for out in cell.get("outputs") or ():
        if not isinstance(out, Mapping):
            continue
        if out.get("output_type") == "stream":
            parts.append(_joined(out.get("text")))
        elif out.get("output_type") in {"execute_result", "display_data"}:
            data = out.get("data")
            parts.append(_joined(data.get("text/plain")) if isinstance(data, Mapping) else "")
    return "\n".join(p for p in parts if p)[:MAX_TEXT_CHARS]


def _tags(cell: Mapping[str, Any]) -> list[Any]:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, Mapping) else None
    return tags if isinstance(tags, list) else []


def author_cells(cells: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The author's cells of an executed notebook, in order (papermill's injected cell left out)."""
    return [c for c in cells if isinstance(c, Mapping) and INJECTED_TAG not in _tags(c)]


def find_cell(cells: list[Mapping[str, Any]], where: int | str) -> Mapping[str, Any] | None:
    """The cell at index ``where`` (an int) or with nbformat id ``where`` (a str)."""
    if isinstance(where, int):
        return cells[where] if where < len(cells) else None
    return next((c for c in cells if c.get("id") == where), None)


def number_or_text(text: str) -> int | float | str:
    """``'0.953'`` -> 0.953, ``'450'`` -> 450; anything else stays text (compared as text)."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def search(source: OutputSource, text: str) -> str | None:
    """The first group of the first match, or None (no match, or the search ran out of time)."""
    import regex

    try:
        match = regex.search(source.regex, text, timeout=SEARCH_TIMEOUT_S)
    except TimeoutError:
        return None
    if match is None:
        return None
    group = match.group(1)
    return group if isinstance(group, str) else None


def output_values(claims: Iterable[Claim], cells: Iterable[Any]) -> dict[str, Any]:
    """The value of each claim that reads a cell's output, by claim name (absent: not found)."""
    mine = author_cells(cells)
    values: dict[str, Any] = {}
    for claim in claims:
        if claim.output is None:
            continue
        cell = find_cell(mine, claim.output.cell)
        found = None if cell is None else search(claim.output, cell_text(cell))
        if found is not None:
            values[claim.name] = number_or_text(found)
    return values

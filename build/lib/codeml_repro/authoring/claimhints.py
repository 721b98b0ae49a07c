"""``check``'s suggestion of claims for numbers a notebook prints (``accuracy: 0.953``).

An author whose notebook already prints its results needs no ``record()`` call: the claim reads
the printed value (``output: {cell, regex}``, see :mod:`codeml_repro.run.batch.outputclaims`). Only a
label printed once in its cell is suggested (a training log's repeated ``loss: ...`` lines are
not results), and only in cells no claim reads yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from codeml_repro.model.artifact import Claim
from codeml_repro.run.batch.outputclaims import author_cells, cell_text

NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_PRINTED = re.compile(
    rf"^[ \t]*(?P<label>[A-Za-z][A-Za-z0-9 _.()/%-]{{0,40}}?)[ \t]*[:=]"
    rf"[ \t]*(?P<value>{NUMBER})[ \t]*%?[ \t]*$",
    re.M,
)
MAX_SUGGESTIONS = 3


def _name(label: str) -> str:
    """A claim name from a printed label: 'Test accuracy (%)' -> 'test_accuracy'."""
    words = re.findall(r"[A-Za-z0-9]+", label.lower())
    name = "_".join(words)[:40] or "value"
    return name if name[0].isalpha() else f"v_{name}"


def suggestions(cells: Iterable[Any], claims: Iterable[Claim]) -> list[tuple[int, str, str, str]]:
    """(cell, name, printed value, regex) for the last few labelled numbers printed once in a cell."""
    claimed = {c.output.cell for c in claims if c.output is not None}
    found: list[tuple[int, str, str, str]] = []
    for index, cell in enumerate(author_cells(cells)):
        if index in claimed or cell.get("id") in claimed:
            continue
        matches = list(_PRINTED.finditer(cell_text(cell)))
        labels = [m.group("label") for m in matches]
        for m in matches:
            label = m.group("label")
            if labels.count(label) == 1:
                regex = re.escape(label) + r"\s*[:=]\s*(" + NUMBER + ")"
                found.append((index, _name(label), m.group("value"), regex))
    return found[-MAX_SUGGESTIONS:]


def suggestion_lines(cells: Iterable[Mapping[str, Any]], claims: Iterable[Claim]) -> list[str]:
    """The tip ``check`` prints: claims to paste into submission.yml, the notebook unchanged."""
    found = suggestions(cells, claims)
    if not found:
        return []
    lines = ["tip: the notebook prints numbers a claim can read with no edit to it; in submission.yml:",
             "  claims:"]
    for cell, name, value, regex in found:
        quoted = "'" + regex.replace("'", "''") + "'"  # YAML single quotes: backslashes stay as they are
        lines += [
            f"    - name: {name}",
            f"      expected: {value}   # the value your paper reports; add rel_tol or abs_tol",
            f"      output: {{cell: {cell}, regex: {quoted}}}",
        ]
    return lines

"""How a result with ``artifact.matrix`` cells reads: on how many versions it held, and in what order.

Shared by the listing, the submission page and the dashboard, so all three say the same.
"""

from __future__ import annotations

from typing import Literal

from packaging.version import InvalidVersion, Version

from codeml_repro.model.result import MatrixCellResult, Result, Status

Holds = Literal["every", "some", "none"]


def held_on(result: Result) -> tuple[int, int]:
    """On how many of its cells the result reproduced, of how many (0, 0 without a matrix)."""
    return sum(c.status is Status.REPRODUCED for c in result.matrix), len(result.matrix)


def matrix_summary(result: Result) -> str | None:
    """"reproduced on 2 of 3 versions" when some cell did not reproduce; None otherwise."""
    held, total = held_on(result)
    if total == 0 or held == total:
        return None
    return f"reproduced on {held} of {total} versions"


def holds(result: Result) -> Holds | None:
    """Whether the claims hold on every, some or no version (None: no matrix)."""
    held, total = held_on(result)
    if total == 0:
        return None
    return "every" if held == total else "some" if held else "none"


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def ordered_cells(result: Result) -> list[MatrixCellResult]:
    """Cells oldest versions first (package by package, in the order the matrix names them)."""
    return sorted(result.matrix, key=lambda c: [_version_key(v) for v in c.versions.values()])


def first_failing(cells: list[MatrixCellResult]) -> MatrixCellResult | None:
    """The first cell (in the order given) that did not reproduce, after one that did."""
    seen_good = False
    for cell in cells:
        if cell.status is Status.REPRODUCED:
            seen_good = True
        elif seen_good:
            return cell
    return None

"""A submission's claims compared with the values its notebook recorded: one result per claim.

Numbers within the claim's tolerance (``rel_tol``, ``abs_tol``), anything else equal and of the same
type. The values come from :mod:`codeml_repro.run.batch.recorded`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from codeml_repro.model.artifact import Claim
from codeml_repro.model.result import ClaimResult


def is_number(value: Any) -> bool:
    """A real number, not a bool (True == 1 in Python)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def matches(claim: Claim, observed: Any) -> bool:
    """Within tolerance for numbers; equal otherwise."""
    expected = claim.expected
    if is_number(expected) and is_number(observed):
        if claim.rel_tol is None and claim.abs_tol is None:
            return bool(observed == expected)
        try:
            value = float(observed)  # an int past float range raises OverflowError
        except (OverflowError, ValueError):
            return False
        if not math.isfinite(value):
            return False
        rel, tol = claim.rel_tol or 0.0, claim.abs_tol or 0.0
        return math.isclose(value, float(expected), rel_tol=rel, abs_tol=tol)
    return type(observed) is type(expected) and bool(observed == expected)


def check_claims(claims: Iterable[Claim], values: Mapping[str, Any], *, stopped: bool = False
                 ) -> list[ClaimResult]:
    """One result per claim; a claim never recorded fails (not reached, when the notebook ``stopped``
    itself with ``sys.exit(0)`` before recording it)."""
    out = []
    for claim in claims:
        recorded = claim.name in values
        observed = values.get(claim.name)
        out.append(
            ClaimResult(
                name=claim.name,
                expected=claim.expected,
                observed=observed,
                ok=recorded and matches(claim, observed),
                rel_tol=claim.rel_tol,
                abs_tol=claim.abs_tol,
                description=claim.description,
                recorded=recorded,
                reached=recorded or not stopped,
            )
        )
    return out

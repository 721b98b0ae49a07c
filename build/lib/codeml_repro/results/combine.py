"""A matrix submission's result from its cells: one function for a run and for a merge.

A run combines the cells it ran (and those read back by key); ``merge`` combines the cells
of a submission whose cells ran on several CI shards. Both call :func:`combine_cells`, so a
sharded run says "reproduced on N of M versions" exactly as a single run does.
"""

from __future__ import annotations

from codeml_repro.model.result import ErrorInfo, MatrixCellResult, Result, Status
from codeml_repro.model.submission import SubmissionSpec
from codeml_repro.results.badges import earned_tiers

_RAN = {Status.REPRODUCED, Status.NOT_REPRODUCED, Status.FUNCTIONAL}
_HELD = (Status.REPRODUCED, Status.FUNCTIONAL)


def matrix_status(statuses: list[Status]) -> Status:
    """One status for all cells: theirs when they agree; ``not_reproduced`` when some held."""
    if len(set(statuses)) == 1:
        return statuses[0]
    if Status.INVALID in statuses:
        return Status.INVALID
    if any(s in _RAN for s in statuses):
        return Status.NOT_REPRODUCED
    return next(s for s in statuses if s not in _RAN)


def describe_versions(versions: dict[str, str]) -> str:
    """``scikit-learn 1.5.2, numpy 2.0.1``: a cell as the log and errors name it."""
    return ", ".join(f"{package} {version}" for package, version in versions.items())


def combine_cells(
    slug: str, spec: SubmissionSpec, cells: list[MatrixCellResult], *, key: str, inputs_key: str,
    finished_at: str,
) -> Result:
    """The submission's result from ``cells`` (in matrix order, at least one).

    The submission reports its first cell that did not hold (else its last): that cell's
    claims, error (prefixed by its versions), notebook and lock; durations add up.
    """
    worst = next((c for c in cells if c.status not in _HELD), cells[-1])
    status = matrix_status([c.status for c in cells])
    error = None
    if worst.error is not None:
        message = f"{describe_versions(worst.versions)}: {worst.error.message}"
        error = ErrorInfo(type=worst.error.type, message=message, cell=worst.error.cell)
    return Result(
        slug=slug,
        status=status,
        badges=earned_tiers(status, spec, inputs_key),
        claims=worst.claims,
        duration_s=round(sum(c.duration_s for c in cells), 3),
        error=error,
        finished_at=finished_at,
        key=key,
        inputs_key=inputs_key,
        title=spec.title,
        sandbox=worst.sandbox,
        environment={"packages": worst.lock, "matrix_cell": worst.versions} if worst.lock else {},
        notebook=worst.notebook,
        warnings=sorted({w for c in cells for w in c.warnings}),
        matrix=cells,
    )

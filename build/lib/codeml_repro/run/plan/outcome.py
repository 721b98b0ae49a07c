"""Outcome classification: the design's status table, and the Result of every kind of run.

A result is built here for every outcome (completed, failed, timed out, invalid,
environment failed, pending), so no other module assembles a ``Result`` by hand.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from codeml_repro.model.errors import DataProblem, DataUnavailable, EnvironmentFailed, RunnerFailed
from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
from codeml_repro.model.shownpaths import from_root, project_root
from codeml_repro.model.skipkey import locked_key
from codeml_repro.model.submission import Submission
from codeml_repro.results.badges import badges_for, earned_tiers
from codeml_repro.run.plan.planning import Planned

if TYPE_CHECKING:
    from codeml_repro.run.kernel.execute import Execution

_RUN_STATUS = {
    "failed": Status.FAILED,
    "timeout": Status.TIMEOUT,
    "kernel_died": Status.KERNEL_DIED,
    "output_limit": Status.OUTPUT_LIMIT,
}


def now_iso() -> str:
    """UTC, to the second, as every recorded result writes it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def invalid_status(slug: str, message: str) -> Result:
    """A submission that cannot be run: no badge, and the one-line problem as its error."""
    return Result(
        slug=slug,
        status=Status.INVALID,
        badges=badges_for(Status.INVALID),
        error=ErrorInfo(type="SubmissionInvalid", message=message, cell=None),
    )


def invalid_result(planned: Planned) -> Result:
    """The recorded result of an invalid submission, keyed like any run."""
    problem = from_root(planned.problem or "invalid", project_root(planned.folder))  # published
    base = invalid_status(planned.slug, problem)
    keys = {"finished_at": now_iso(), "key": planned.key, "inputs_key": planned.inputs}
    return base.model_copy(update=keys)


def final_status(outcome: str, claims: list[ClaimResult]) -> Status:
    """The design's status table, from the runner's outcome and the claims."""
    if outcome != "completed":
        return _RUN_STATUS[outcome]
    if not claims:
        return Status.FUNCTIONAL
    return Status.REPRODUCED if all(c.ok for c in claims) else Status.NOT_REPRODUCED

def result_from(planned: Planned, sub: Submission, ex: Execution, claims: list[ClaimResult]) -> Result:
    status = final_status(ex.outcome, claims)
    return Result(
        slug=planned.slug,
        status=status,
        badges=earned_tiers(status, sub.spec, planned.inputs),
        claims=claims,
        duration_s=round(ex.duration_s, 3),
        error=ex.error,
        finished_at=now_iso(),
        key=locked_key(planned.key, ex.environment.get("lock")),  # what the run resolved to
        inputs_key=planned.inputs,
        title=sub.spec.title,
        sandbox=ex.sandbox,
        environment=ex.environment,
        notebook=f"notebooks/{planned.slug}.ipynb",
        output_truncated=ex.output_truncated,
        warnings=list(ex.warnings),
        allowed_errors=list(ex.allowed_errors),
        stopped_at=ex.stopped_at,
        profile=sub.profile,
        resources=ex.resources,
    )

def environment_failed(planned: Planned, sub: Submission, exc: EnvironmentFailed) -> Result:
    """The author's environment could not be built: a failed run, with no cell to blame."""
    message = " ".join(exc.message.split())  # one line
    return Result(
        slug=planned.slug,
        status=Status.FAILED,
        badges=earned_tiers(Status.FAILED, sub.spec, planned.inputs),
        error=ErrorInfo(type="EnvironmentFailed", message=message, cell=None),
        finished_at=now_iso(),
        key=planned.key,
        inputs_key=planned.inputs,
        title=sub.spec.title,
    )

def tool_failure(planned: Planned, exc: BaseException) -> Result:
    """The tool could not handle this one submission: recorded as its ``failed`` result.

    ``error.type`` stays ``RunnerFailed`` (the book words it as the tool's failure, not the
    author's); an unexpected exception is named in the message, on one line.
    """
    if isinstance(exc, RunnerFailed):
        message = exc.message
    else:
        message = f"{planned.slug}: the runner failed ({type(exc).__name__}: {exc})"
    message = " ".join(message.split())[:1000]
    return Result(
        slug=planned.slug,
        status=Status.FAILED,
        badges=earned_tiers(Status.FAILED, planned.submission.spec, planned.inputs)
        if planned.submission is not None
        else [],
        error=ErrorInfo(type="RunnerFailed", message=message, cell=None),
        finished_at=now_iso(),
        key="",  # never equal to a skip key: the next run tries again
        inputs_key=planned.inputs,
        title=planned.submission.spec.title if planned.submission is not None else "",
    )


def data_failed(planned: Planned, sub: Submission, exc: DataProblem) -> Result:
    """A declared input could not be fetched or verified: failed, no notebook run, no cell to blame."""
    return Result(
        slug=planned.slug,
        status=Status.FAILED,
        badges=badges_for(Status.FAILED),
        error=ErrorInfo(type=type(exc).__name__, message=" ".join(exc.message.split()), cell=None),
        finished_at=now_iso(),
        # A source that could not be reached may be back tomorrow: the next run tries again.
        key="" if isinstance(exc, DataUnavailable) else planned.key,
        inputs_key=planned.inputs,
        title=sub.spec.title,
    )


def skipped_result(planned: Planned, sub: Submission, reason: str) -> Result:
    """Not run here: this machine lacks a declared resource. Never a failure, never a regression."""
    return Result(
        slug=planned.slug,
        status=Status.SKIPPED,
        badges=badges_for(Status.SKIPPED),
        skip_reason=reason,
        finished_at=now_iso(),
        key=planned.key,
        inputs_key=planned.inputs,
        title=sub.spec.title,
        profile=sub.profile,
    )


def pending_result(slug: str, title: str = "") -> Result:
    """Never run, or its inputs changed since the last run."""
    return Result(slug=slug, status=Status.PENDING, badges=badges_for(Status.PENDING), title=title)

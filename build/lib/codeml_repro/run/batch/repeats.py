"""Running one planned submission, once or ``--repeat N`` times, and recording the last run.

A run whose repeats recorded different values (or ended differently) is
``flaky``. The kernel of the next run can be started during this one (see
:class:`~codeml_repro.run.kernel.execute.KernelPipeline`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeml_repro.model.errors import DataProblem, EnvironmentFailed
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result
from codeml_repro.model.submission import Submission, is_slug
from codeml_repro.results.cells import CellCache
from codeml_repro.results.store import ResultStore, atomic_write
from codeml_repro.run.plan.hardware import missing_resource, this_machine
from codeml_repro.run.plan.outcome import (
    data_failed,
    environment_failed,
    invalid_result,
    result_from,
    skipped_result,
)
from codeml_repro.run.plan.planning import Planned, plan

if TYPE_CHECKING:
    from codeml_repro.run.kernel.execute import KernelPipeline

def _timed(planned: Planned | None, policy: RunPolicy) -> tuple[Submission, float] | None:
    """A planned run's submission and whole-run budget (None when there is nothing to run)."""
    if planned is None or planned.submission is None:
        return None
    sub = planned.submission
    return sub, policy.effective_timeout(sub.spec.artifact.timeout)


@dataclass(frozen=True)
class _Run:
    """One run of a planned submission: its result, the executed notebook, what it recorded."""

    result: Result
    notebook: Any = None  # None when no notebook ran (its environment could not be built)
    values: str = ""  # every recorded value, canonical: repeats are compared on it


def _canonical(values: dict[str, Any]) -> str:
    """Recorded values as text that is equal exactly when the values are (NaN included)."""
    try:
        return json.dumps(values, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types, or a value json cannot hold
        return repr(sorted(values.items(), key=lambda item: item[0]))

def _execute_once(
    planned: Planned,
    policy: RunPolicy,
    runner: KernelPipeline | None = None,
    then: tuple[Submission, float] | None = None,
) -> _Run:
    from codeml_repro.run.batch.claims import check_claims
    from codeml_repro.run.batch.recorded import claim_values
    from codeml_repro.run.batch.runnotes import run_notes
    from codeml_repro.run.kernel.execute import execute

    sub = planned.submission
    assert sub is not None
    timeout = policy.effective_timeout(sub.spec.artifact.timeout)
    try:
        if runner is None:
            ex = execute(sub, policy, timeout_s=timeout)
        else:
            ex = runner.execute(sub, timeout, then=then)
    except EnvironmentFailed as exc:  # the author's requirements: a result; tool errors raise
        return _Run(environment_failed(planned, sub, exc))
    except DataProblem as exc:  # an input left the cache after the fetch stage
        return _Run(data_failed(planned, sub, exc))
    cells = ex.notebook.get("cells", []) if ex.notebook is not None else []
    ex = replace(ex, warnings=[*ex.warnings, *run_notes(sub, policy, ex.resources, cells)])
    values = claim_values(sub.spec.claims, cells)
    claims = check_claims(sub.spec.claims, values, stopped=ex.stopped_at is not None)
    return _Run(result_from(planned, sub, ex, claims), ex.notebook, _canonical(values))


def run_planned(
    planned: Planned,
    policy: RunPolicy,
    store: ResultStore | None,
    repeat: int = 1,
    *,
    runner: KernelPipeline | None = None,
    then: Planned | None = None,
) -> Result:
    """Run one planned submission ``repeat`` times and record the last run.

    The result is ``flaky`` when the repeats recorded different values (any recorded value,
    claimed or not) or ended with different statuses. With a ``runner``, the kernel of the run
    after each one (the next repeat, else ``then``) is started while it runs.
    """
    sub = planned.submission
    if sub is None:
        result = invalid_result(planned)
        if store is not None and is_slug(planned.slug):  # an odd folder name is no file name
            store.write(result)
        return result
    lacking = missing_resource(sub.spec.artifact.resources, this_machine())
    if lacking is not None:  # not run here: an earlier run's notebook must not be shown with it
        return record_without_run(skipped_result(planned, sub, lacking), store)
    runs = _repeated_runs(planned, policy, repeat, runner, then)
    last = runs[-1]
    flaky = len({r.values for r in runs}) > 1 or len({r.result.status for r in runs}) > 1
    result = last.result.model_copy(update={"flaky": flaky, "repeats": len(runs)})
    if store is not None:
        _record_run(store, result, last.notebook, matrix_cell=bool(sub.pins))
    return result


def _repeated_runs(
    planned: Planned,
    policy: RunPolicy,
    repeat: int,
    runner: KernelPipeline | None,
    then: Planned | None,
) -> list[_Run]:
    """Up to ``repeat`` runs, each starting the next one's kernel; stops early when no notebook ran."""
    count = max(1, repeat)
    runs = []
    for i in range(count):
        after = _timed(planned if i + 1 < count else then, policy)
        runs.append(_execute_once(planned, policy, runner, after))
        if runs[-1].notebook is None:
            break  # no notebook ran: the environment failed, and would fail again
    return runs


def _record_run(store: ResultStore, result: Result, notebook: Any, *, matrix_cell: bool) -> None:
    """Record the last run's result and executed notebook; a matrix cell records its notebook only."""
    body = None
    if notebook is not None:
        import nbformat

        body = nbformat.writes(notebook).encode("utf-8")
    else:  # no notebook ran: an earlier run's notebook must not be shown with this result
        with contextlib.suppress(OSError):
            store.notebook_path(result.slug).unlink()
    if matrix_cell:  # the batch records the submission's result
        if body is not None:
            atomic_write(store.notebook_path(result.slug), body)
    else:
        store.write(result, body)


def run_submission(
    sub: Submission, policy: RunPolicy, root: Path, *, repeat: int = 1, save: bool = True
) -> Result:
    """Run one loaded submission now, changed or not (the authors' ``check`` path)."""
    from codeml_repro.run.inputs.fetch import fetch_inputs

    planned = plan(sub.folder, policy, profile=sub.profile)
    store = ResultStore(root) if save else None
    failure = fetch_inputs([planned.submission], policy).failures if planned.submission else {}
    if planned.submission is not None and planned.slug in failure:
        return record_without_run(data_failed(planned, planned.submission, failure[planned.slug]), store)
    return run_planned(planned, policy, store, repeat)


def record_without_run(result: Result, store: ResultStore | None) -> Result:
    """Record a result no notebook ran for (an earlier run's notebook must not be shown with it)."""
    if store is not None:
        with contextlib.suppress(OSError):
            store.notebook_path(result.slug).unlink()
        store.write(result)
    return result


def run_matrix_now(sub: Submission, policy: RunPolicy, cache: CellCache) -> Result:
    """Every cell of ``sub`` run now, one after another, nothing recorded but the cells in
    ``cache`` (the authors' ``check`` path; a batch runs cells through the worker pool)."""
    from codeml_repro.run.matrix.cellruns import MatrixRuns

    runs = MatrixRuns(policy, cache, force=True)
    units, ready = runs.split([plan(sub.folder, policy)])
    if ready:
        return ready[0]
    finished = None
    for unit in units:
        finished = runs.take(run_planned(unit, policy, None)) or finished
    assert finished is not None  # the last cell completes the submission
    return finished

"""From submissions to recorded results: validate, skip, run, check, store.

This is the library API the CLI is a thin layer over. ``run_submission``
returns a :class:`Result` for every outcome; only tool failures raise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeml_repro.badges import badges_for
from codeml_repro.errors import EnvironmentFailed, ReproError, SubmissionInvalid
from codeml_repro.policy import RunPolicy
from codeml_repro.result import ClaimResult, ErrorInfo, Result, Status
from codeml_repro.skipkey import inputs_key, skip_key
from codeml_repro.store import ResultStore
from codeml_repro.submission import Submission, check_notebook, discover, load_submission

if TYPE_CHECKING:
    from codeml_repro.runner import Execution, KernelPipeline

_RUN_STATUS = {
    "failed": Status.FAILED,
    "timeout": Status.TIMEOUT,
    "kernel_died": Status.KERNEL_DIED,
    "output_limit": Status.OUTPUT_LIMIT,
}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def submission_inputs(folder: Path, sub: Submission | None) -> str:
    """The inputs key of a folder, loaded or not (an invalid one hashes its raw files)."""
    if sub is None:
        return inputs_key(folder, folder / "artifact.ipynb")
    return inputs_key(folder, sub.notebook_path, sub.run_inputs())


@dataclass(frozen=True)
class Planned:
    """A submission folder, loaded or not, with the keys of its inputs."""

    slug: str
    folder: Path
    submission: Submission | None
    problem: str | None
    inputs: str
    key: str


def plan(folder: Path, policy: RunPolicy, *, check: bool = True) -> Planned:
    """Load and validate one folder without importing the execution stack.

    ``check=False`` skips the notebook schema check: the skip test only needs
    the keys, and an unchanged notebook was checked when it last ran.
    """
    sub: Submission | None = None
    problem: str | None = None
    try:
        sub = load_submission(folder)
        if check:
            check_notebook(sub)
    except SubmissionInvalid as exc:
        problem = exc.message
    inputs = submission_inputs(folder, sub)
    timeout = policy.effective_timeout(sub.spec.artifact.timeout if sub else None)
    key = skip_key(inputs, {**policy.budget_key(), "effective_timeout_s": timeout})
    return Planned(folder.name, folder, sub if problem is None else None, problem, inputs, key)


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
    base = invalid_status(planned.slug, planned.problem or "invalid")
    keys = {"finished_at": now_iso(), "key": planned.key, "inputs_key": planned.inputs}
    return base.model_copy(update=keys)


def final_status(outcome: str, claims: list[ClaimResult]) -> Status:
    """The design's status table, from the runner's outcome and the claims."""
    if outcome != "completed":
        return _RUN_STATUS[outcome]
    if not claims:
        return Status.FUNCTIONAL
    return Status.REPRODUCED if all(c.ok for c in claims) else Status.NOT_REPRODUCED


def _result_from(planned: Planned, sub: Submission, ex: Execution, claims: list[ClaimResult]) -> Result:
    status = final_status(ex.outcome, claims)
    return Result(
        slug=planned.slug,
        status=status,
        badges=badges_for(status),
        claims=claims,
        duration_s=round(ex.duration_s, 3),
        error=ex.error,
        finished_at=now_iso(),
        key=planned.key,
        inputs_key=planned.inputs,
        title=sub.spec.title,
        sandbox=ex.sandbox,
        environment=ex.environment,
        notebook=f"notebooks/{planned.slug}.ipynb",
        output_truncated=ex.output_truncated,
        warnings=list(ex.warnings),
    )


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


def environment_failed(planned: Planned, sub: Submission, exc: EnvironmentFailed) -> Result:
    """The author's environment could not be built: a failed run, with no cell to blame."""
    message = " ".join(exc.message.split())  # one line
    return Result(
        slug=planned.slug,
        status=Status.FAILED,
        badges=badges_for(Status.FAILED),
        error=ErrorInfo(type="EnvironmentFailed", message=message, cell=None),
        finished_at=now_iso(),
        key=planned.key,
        inputs_key=planned.inputs,
        title=sub.spec.title,
    )


def _execute_once(
    planned: Planned,
    policy: RunPolicy,
    runner: KernelPipeline | None = None,
    then: tuple[Submission, float] | None = None,
) -> _Run:
    from codeml_repro.claims import check_claims, recorded_values
    from codeml_repro.runner import execute

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
    values = recorded_values(ex.notebook.get("cells", []))
    claims = check_claims(sub.spec.claims, values)
    return _Run(_result_from(planned, sub, ex, claims), ex.notebook, _canonical(values))


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
    if planned.submission is None:
        result = invalid_result(planned)
        if store is not None:
            store.write(result)
        return result
    count = max(1, repeat)
    runs = []
    for i in range(count):
        after = _timed(planned if i + 1 < count else then, policy)
        runs.append(_execute_once(planned, policy, runner, after))
        if runs[-1].notebook is None:
            break  # no notebook ran: the environment failed, and would fail again
    last = runs[-1]
    flaky = len({r.values for r in runs}) > 1 or len({r.result.status for r in runs}) > 1
    result = last.result.model_copy(update={"flaky": flaky, "repeats": len(runs)})
    if store is not None:
        body = None
        if last.notebook is not None:
            import nbformat

            body = nbformat.writes(last.notebook).encode("utf-8")
        else:  # no notebook ran: an earlier run's notebook must not be shown with this result
            with contextlib.suppress(OSError):
                store.notebook_path(planned.slug).unlink()
        store.write(result, body)
    return result


def run_submission(
    sub: Submission, policy: RunPolicy, root: Path, *, repeat: int = 1, save: bool = True
) -> Result:
    """Run one loaded submission now, changed or not (the authors' ``check`` path)."""
    planned = plan(sub.folder, policy)
    return run_planned(planned, policy, ResultStore(root) if save else None, repeat)


@dataclass
class RunReport:
    """What ``run`` did: every result, and which were skipped."""

    results: list[Result] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    slugs: list[str] | None = None
    jobs: int = 1
    force: bool = False
    repeat: int = 1
    shard: tuple[int, int] | None = None


def select(root: Path, options: RunOptions, store: ResultStore) -> list[Path]:
    """The folders this run is responsible for (after sharding)."""
    folders = discover(root, options.slugs)
    if options.shard is None:
        return folders
    from codeml_repro.merge import select_shard

    durations = {slug: r.duration_s for slug, r in store.read_all().items() if r.duration_s}
    chosen = set(select_shard([f.name for f in folders], *options.shard, durations=durations))
    return [f for f in folders if f.name in chosen]


def _todo(
    folders: list[Path], policy: RunPolicy, options: RunOptions, store: ResultStore, report: RunReport
) -> list[Planned]:
    todo = []
    for folder in folders:
        planned = plan(folder, policy, check=False)
        previous = store.read(planned.slug)
        rerun = options.force or options.repeat > 1  # --repeat asks for fresh runs
        if not rerun and previous is not None and previous.key == planned.key:
            report.skipped.append(planned.slug)
            report.results.append(previous)
        else:
            todo.append(plan(folder, policy) if planned.problem is None else planned)
    return todo


def run_all(
    root: Path,
    policy: RunPolicy,
    options: RunOptions,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> RunReport:
    """Run every selected submission that needs it; never raises for a notebook."""
    store = ResultStore(root)
    report = RunReport()
    todo = _todo(select(root, options, store), policy, options, store, report)
    if on_start is not None:
        on_start(len(todo), len(report.skipped))
    from codeml_repro.workers import run_pool

    for result in run_pool(todo, policy, root, options):
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    report.results.sort(key=lambda r: r.slug)
    report.problems.extend(store.problems)
    return report


def current_status(root: Path) -> tuple[list[Result], list[str]]:
    """The status of every submission: its last result, or pending."""
    store = ResultStore(root)
    out = []
    for folder in discover(root):
        result = store.read(folder.name)
        sub = None
        with contextlib.suppress(ReproError):
            sub = load_submission(folder)
        if result is None or result.inputs_key != submission_inputs(folder, sub):
            result = pending_result(folder.name, title=sub.spec.title if sub else "")
        out.append(result)
    return out, store.problems


def pending_result(slug: str, title: str = "") -> Result:
    """Never run, or its inputs changed since the last run."""
    return Result(slug=slug, status=Status.PENDING, badges=badges_for(Status.PENDING), title=title)

"""From submissions to recorded results: validate, skip, run, check, store.

This is the library API the CLI is a thin layer over. ``run_submission``
returns a :class:`Result` for every outcome; only tool failures raise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeml_repro.badges import badges_for
from codeml_repro.errors import ReproError, SubmissionInvalid
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


def invalid_result(planned: Planned) -> Result:
    return Result(
        slug=planned.slug,
        status=Status.INVALID,
        badges=badges_for(Status.INVALID),
        error=ErrorInfo(type="SubmissionInvalid", message=planned.problem or "invalid", cell=None),
        finished_at=now_iso(),
        key=planned.key,
        inputs_key=planned.inputs,
    )


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


def _execute_once(
    planned: Planned,
    policy: RunPolicy,
    runner: KernelPipeline | None = None,
    then: tuple[Submission, float] | None = None,
) -> tuple[Result, Any]:
    from codeml_repro.claims import check_claims, recorded_values
    from codeml_repro.runner import execute

    sub = planned.submission
    assert sub is not None
    timeout = policy.effective_timeout(sub.spec.artifact.timeout)
    if runner is None:
        ex = execute(sub, policy, timeout_s=timeout)
    else:
        ex = runner.execute(sub, timeout, then=then)
    values = recorded_values(ex.notebook.get("cells", []))
    claims = check_claims(sub.spec.claims, values)
    return _result_from(planned, sub, ex, claims), ex.notebook


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

    With a ``runner``, the kernel of the run after each one (the next repeat, else ``then``) is
    started while it runs.
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
    result, notebook = runs[-1]
    observed = {tuple((c.name, repr(c.observed)) for c in r.claims) for r, _ in runs}
    statuses = {r.status for r, _ in runs}
    flaky = len(observed) > 1 or len(statuses) > 1
    result = result.model_copy(update={"flaky": flaky, "repeats": len(runs)})
    if store is not None:
        import nbformat

        store.write(result, nbformat.writes(notebook).encode("utf-8"))
    return result


def run_submission(
    sub: Submission, policy: RunPolicy, root: Path, *, force: bool = True, repeat: int = 1, save: bool = True
) -> Result:
    """Run one loaded submission (the authors' ``check`` path)."""
    planned = plan(sub.folder, policy)
    store = ResultStore(root)
    if not force:
        previous = store.read(planned.slug)
        if previous is not None and previous.key == planned.key:
            return previous
    return run_planned(planned, policy, store if save else None, repeat)


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
        if not options.force and previous is not None and previous.key == planned.key:
            report.skipped.append(planned.slug)
            report.results.append(previous)
        else:
            todo.append(plan(folder, policy) if planned.problem is None else planned)
    return todo


def prestart_enabled() -> bool:
    """Kernel pre-start is on unless ``CODEML_PREWARM=0`` (a hidden switch for benchmarks)."""
    return os.environ.get("CODEML_PREWARM", "1").strip() != "0"


def _run_pool(todo: list[Planned], policy: RunPolicy, root: Path, options: RunOptions) -> Iterator[Result]:
    """Results as they come: in this process for one job, else from worker processes."""
    if not todo:
        return
    if options.jobs <= 1 or len(todo) <= 1:
        yield from _run_serial(iter(todo), policy, ResultStore(root), options.repeat, prestart_enabled())
        return
    yield from _run_workers(todo, policy, root, options, prestart_enabled())


def _with_next(items: Iterator[Planned], lookahead: bool) -> Iterator[tuple[Planned, Planned | None]]:
    """Each item with the one after it (taken early: its kernel starts during this one's run)."""
    current = next(items, None)
    while current is not None:
        following = next(items, None) if lookahead else None
        yield current, following
        current = following if lookahead else next(items, None)


def _run_serial(
    todo: Iterator[Planned], policy: RunPolicy, store: ResultStore, repeat: int, prestart: bool
) -> Iterator[Result]:
    """One notebook after another; with ``prestart`` the next kernel starts during each run."""
    from codeml_repro.runner import KernelPipeline

    with KernelPipeline(policy, prestart=prestart) as runner:
        for planned, then in _with_next(todo, prestart):
            yield run_planned(planned, policy, store, repeat, runner=runner, then=then)


def _run_workers(
    todo: list[Planned], policy: RunPolicy, root: Path, options: RunOptions, prestart: bool
) -> Iterator[Result]:
    """Worker processes take submissions from one queue (each holding the next one whose kernel
    it pre-starts) and send each result back as soon as it is recorded."""
    import multiprocessing

    ctx: Any = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    count = min(options.jobs, len(todo))
    tasks: Any = ctx.Queue()
    results: Any = ctx.Queue()
    for item in [*todo, *[None] * count]:
        tasks.put(item)
    args = (tasks, results, policy, root, options.repeat, prestart)
    workers = [ctx.Process(target=_worker, args=args, name=f"codeml-worker-{i}") for i in range(count)]
    for proc in workers:
        proc.start()
    finished = False
    try:
        yield from _collect(results, workers, len(todo))
        finished = True
    finally:
        tasks.cancel_join_thread()
        _stop_workers(workers, finished)


def _collect(results: Any, workers: list[Any], expected: int) -> Iterator[Result]:
    """Yield results until ``expected``; re-raise a worker's tool error; fail if workers are gone
    with results missing (a worker killed from outside loses the submissions it held)."""
    import queue

    received = 0
    last_look = False
    while received < expected:
        try:
            kind, payload = results.get(timeout=0.5)
        except queue.Empty:
            if all(p.exitcode is not None for p in workers):
                if last_look:
                    codes = sorted({p.exitcode for p in workers})
                    raise ReproError(
                        f"worker processes ended (exit codes {codes}) before {expected - received} "
                        "submission(s) got a result; run again, or with --jobs 1"
                    ) from None
                last_look = True  # what they sent before exiting is in the pipe: one more look
            continue
        if kind == "error":
            raise payload
        received += 1
        yield payload


def _stop_workers(workers: list[Any], finished: bool) -> None:
    """Let finished workers exit; stop the others (SIGTERM: they clean up their runs)."""
    for proc in workers:
        if not finished and proc.is_alive():
            proc.terminate()
    for proc in workers:
        proc.join(timeout=15)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _worker(tasks: Any, results: Any, policy: RunPolicy, root: Path, repeat: int, prestart: bool) -> None:
    """A worker process: run submissions from ``tasks`` until a None, sending each result."""
    import pickle
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))  # run finally blocks
    todo = iter(tasks.get, None)
    try:
        for result in _run_serial(todo, policy, ResultStore(root), repeat, prestart):
            results.put(("result", result))
    except Exception as exc:  # a tool error: the parent raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ReproError(f"{type(exc).__name__}: {exc}")
        results.put(("error", exc))


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
    for result in _run_pool(todo, policy, root, options):
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
            result = pending_result(folder.name, previous=result)
        out.append(result)
    return out, store.problems


def pending_result(slug: str, previous: Result | None = None) -> Result:
    """Never run, or its inputs changed since the last run."""
    base = previous.title if previous else ""
    return Result(slug=slug, status=Status.PENDING, badges=badges_for(Status.PENDING), title=base)

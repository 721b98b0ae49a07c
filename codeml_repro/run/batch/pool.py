"""Running planned submissions: one after another in this process, or in worker processes.

Each worker (or this process, for one job) runs its submissions through one
:class:`~codeml_repro.run.kernel.execute.KernelPipeline`, so the next kernel starts while
a notebook runs. Results stream back as they are recorded; a tool error in a
worker is raised again here.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import ReproError, SandboxUnavailable, StoreError, UvMissing
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.repeats import run_planned
from codeml_repro.run.batch.stopsignals import raise_on
from codeml_repro.run.plan.outcome import tool_failure
from codeml_repro.run.plan.planning import Planned, RunOptions

Recorded = tuple[Result, list[str]]
"""A recorded result, and the store's warnings while recording it (an unreadable history line)."""


def run_pool(todo: list[Planned], policy: RunPolicy, root: Path, options: RunOptions) -> Iterator[Recorded]:
    """Results as they come, each with the store's warnings: in this process for one job, else from
    worker processes (whose warnings would otherwise be lost with them)."""
    if not todo:
        return
    if options.jobs <= 1 or len(todo) <= 1:
        yield from _run_serial(iter(todo), policy, ResultStore(root), options.repeat, policy.prestart)
        return
    yield from _run_workers(todo, policy, root, options, policy.prestart)


def _with_next(items: Iterator[Planned], lookahead: bool) -> Iterator[tuple[Planned, Planned | None]]:
    """Each item with the one after it (taken early: its kernel starts during this one's run)."""
    current = next(items, None)
    while current is not None:
        following = next(items, None) if lookahead else None
        yield current, following
        current = following if lookahead else next(items, None)


def _run_serial(
    todo: Iterator[Planned], policy: RunPolicy, store: ResultStore, repeat: int, prestart: bool
) -> Iterator[Recorded]:
    """One notebook after another; with ``prestart`` the next kernel starts during each run."""
    from codeml_repro.run.kernel.execute import KernelPipeline

    with KernelPipeline(policy, prestart=prestart) as runner:
        for planned, then in _with_next(todo, prestart):
            seen = len(store.problems)
            result = _run_guarded(planned, policy, store, repeat, runner, then)
            yield result, store.problems[seen:]


HOST_ERRORS = (SandboxUnavailable, StoreError, UvMissing)
"""What ends the batch: the host cannot run anything (the same for every submission)."""


def _run_guarded(
    planned: Planned, policy: RunPolicy, store: ResultStore, repeat: int, runner: Any, then: Planned | None
) -> Result:
    """One submission's run; whatever goes wrong handling it is its own result, not the batch's end."""
    try:
        return run_planned(planned, policy, store, repeat, runner=runner, then=then)
    except HOST_ERRORS:
        raise
    except Exception as exc:  # a parser error, a refused path, a spoofed sandbox error, a bug
        result = tool_failure(planned, exc)
    if planned.submission is None or not planned.submission.pins:  # a matrix cell: the batch records
        with contextlib.suppress(OSError, ReproError):
            store.write(result)
    return result


def _run_workers(
    todo: list[Planned], policy: RunPolicy, root: Path, options: RunOptions, prestart: bool
) -> Iterator[Recorded]:
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
    start_workers(workers)
    finished = False
    try:
        yield from _collect(results, workers, len(todo))
        finished = True
    finally:
        tasks.cancel_join_thread()
        _stop_workers(workers, finished)


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def start_workers(workers: list[Any]) -> None:
    """Start ``workers`` with SIGTERM and SIGINT blocked; each unblocks them once its own handler is set.

    A forked worker begins with a copy of this process: its signal handlers (the CLI's turns
    SIGTERM into ``KeyboardInterrupt``) and its stack. Signalled before its own handler is in
    place (a worker stopped at once because another hit a tool error, a cancelled CI job), the
    copy raised that ``KeyboardInterrupt`` outside the worker's code and unwound through the
    parent's: it ran the parent's clean-up and reported an interrupted run (under pytest-xdist, a
    crashed test worker). Blocked, the signal waits for the worker's own handler.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        for proc in workers:
            proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _die_with_parent() -> None:
    """A worker orphaned by a runner killed outright stops too (Linux: PR_SET_PDEATHSIG)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: an orphan finishes its current submission and stops at the queue


def _collect(results: Any, workers: list[Any], expected: int) -> Iterator[Recorded]:
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

    raise_on(signal.SIGTERM, lambda signum: SystemExit(128 + signum))  # its finally blocks clean up
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by start_workers until now
    _die_with_parent()
    todo = iter(tasks.get, None)
    try:
        for recorded in _run_serial(todo, policy, ResultStore(root), repeat, prestart):
            results.put(("result", recorded))
    except Exception as exc:  # a tool error: the parent raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ReproError(f"{type(exc).__name__}: {exc}")
        results.put(("error", exc))

"""Execute one artifact notebook with papermill under budgets.

papermill gets an explicit kernel name, injects the parameters and drives the
client of :mod:`codeml_repro.run.kernel.client`, which counts output bytes as messages
arrive. The kernel is started by :mod:`codeml_repro.run.kernel.manager` (the ``codeml-sandbox``
provisioner)
over IPC sockets. A watchdog enforces the whole-run budget by killing the
kernel. The outcome comes from the exception and from who stopped the kernel,
never from the saved notebook (papermill marks cells "completed" even after a
timeout). A failure of the tool itself (the kernel could not be launched, the
sandbox refused to start, the kernel never replied, a bug here) raises
:class:`RunnerFailed`; it is never reported as the author's ``kernel_died``.

A run has two steps: :func:`prepare` (environment, sandbox, scratch dir,
kernel command; optionally launching the kernel, see :mod:`codeml_repro.run.kernel.prepare`)
and :func:`run_prepared`. :class:`KernelPipeline` uses them to start the next
notebook's kernel while the current one runs (kernel pre-start). Budgets: the
whole-run budget, the watchdog and ``duration_s`` start with the run step,
pre-started or not. A kernel launched early is not charged for waiting for its
turn (that would charge one notebook for another's run time); what is left of
its start-up when its turn comes (the client waiting for its first reply) is
charged as before and bounded by the start-up timeout. While it waits it is
already inside its own sandbox, with its own limits, cgroup and run marker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from codeml_repro.model.errors import ReproError, RunnerFailed
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ErrorInfo, ResourceReport
from codeml_repro.model.submission import Submission
from codeml_repro.model.text import shorten
from codeml_repro.run.env.ahead import EnvAhead
from codeml_repro.run.kernel import conventions, hostpaths, usage, wire
from codeml_repro.run.kernel.client import RunState
from codeml_repro.run.kernel.kernel_log import BWRAP_ERROR, kernel_log_tail, read_log, signal_name
from codeml_repro.run.kernel.prepare import (
    KERNEL_NAME,
    Prepared,
    as_written,
    author_index,
    discard,
    kernel_arguments,
    km_pgid,
    launch_early,
    prepare,
)
from codeml_repro.run.sandbox import reaping, runuid, scratchfs
from codeml_repro.run.sandbox.cgroups import cgroup_record

Outcome = Literal["completed", "failed", "timeout", "kernel_died", "output_limit"]

ERROR_MARKER_TAG = "papermill-error-cell-tag"


@dataclass(frozen=True)
class Execution:
    """What happened when a notebook ran; returned for every notebook outcome."""

    outcome: Outcome
    error: ErrorInfo | None
    notebook: Any  # the executed nbformat NotebookNode (outputs truncated at the cap)
    duration_s: float
    environment: dict[str, Any]
    sandbox: str  # "bwrap" or "off"
    warnings: list[str]
    output_truncated: bool = False
    run_id: str = ""  # also the value of CODEML_RUN_ID in every process of the run
    kernel_prestarted: bool = False  # the kernel was started while another notebook ran
    allowed_errors: list[ErrorInfo] = dataclasses.field(default_factory=list)  # errors the notebook allowed
    stopped_at: int | None = None  # the cell whose sys.exit(0) / SystemExit stopped the run
    resources: ResourceReport | None = None  # what the run cost (memory, CPU, cell times)


def _author_index(nb: Any, index: int | None) -> int | None:
    """Index in the author's notebook of cell ``index`` of the executed one (None if injected)."""
    if nb is None or index is None or not 0 <= index < len(nb.cells):
        return None
    return author_index(nb.cells[index])


def _drop_error_markers(nb: Any) -> Any:
    """Drop the cells papermill inserts on error, so indices match the executed notebook."""
    nb.cells = [c for c in nb.cells if ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    return nb


def _clean_notebook(nb: Any, sub: Submission) -> Any:
    with contextlib.suppress(AttributeError, KeyError):
        nb.metadata.papermill["input_path"] = str(sub.notebook_path)
    return nb


def _tool_fault(exc: BaseException, state: RunState, prep: Prepared) -> str | None:
    """Why ``exc`` is the tool's failure, not the notebook's (None when the kernel died by itself).

    A kernel still alive when the run failed did not die: the run broke around it. A kernel that
    exited during start-up, before any cell, is the tool's doing when bwrap refused the sandbox or
    when it ran the toolkit's own interpreter or the base environment; in an environment built
    from the author's requirements, those are to blame.
    """
    what = f"{type(exc).__name__}: {shorten(str(exc).strip(), 300)}"
    if state.exit_code is None:
        stage = "while the notebook ran" if state.kernel_ready else "while starting the kernel"
        return f"the runner failed {stage} ({what})"
    if state.kernel_ready:
        return None
    log = read_log(prep.dirs.root / "kernel.log")
    found = BWRAP_ERROR.search(log) or scratchfs.SETUP_ERROR.search(log)
    if found:
        line = log[found.start() :].splitlines()[0]
        return f"bwrap could not start the kernel's sandbox ({line}); check `--sandbox auto` or the host"
    if prep.env.kind in ("current", "kernel") or prep.env.base:
        tail = kernel_log_tail(prep.dirs.root / "kernel.log") or "no output"
        code = signal_name(state.exit_code, prep.choice.kind == "bwrap")
        which = "the base environment" if prep.env.base else "the toolkit's own environment"
        if prep.env.kind == "kernel":
            which = f"the configured kernelspec {prep.env.kernelspec!r}"
        return f"the kernel of {which} did not start: {code} ({tail})"
    return None


def _with_memory_note(prep: Prepared, error: ErrorInfo | None) -> ErrorInfo | None:
    """Say so when the run's cgroup killed a process for memory: the budget, not only the symptom."""
    if error is None or prep.cgroup is None or not prep.cgroup.oom_killed():
        return error
    budget = prep.cgroup.memory_bytes
    note = f"; the run's memory budget ({budget} bytes, all its processes and tmpfs) ran out"
    return error.model_copy(update={"message": error.message + note})


def _after_cell(prep: Prepared, sampler: usage.UsageSampler, watch: scratchfs.ScratchWatch) -> None:
    """A look at the live kernel when a cell ends: its memory, and its folder's disk budget."""
    sampler.sample()
    if prep.limits.scratch is not None:
        watch.look()


def _with_disk_note(
    prep: Prepared, error: ErrorInfo | None, watch: scratchfs.ScratchWatch
) -> ErrorInfo | None:
    """Say so when the run folder's disk budget was exhausted (the notebook saw ``ENOSPC``)."""
    budget = prep.limits.scratch
    if error is None or budget is None or watch.exhausted is None:
        return error
    return error.model_copy(update={"message": error.message + scratchfs.note(budget, watch.exhausted)})


def _classify(
    exc: BaseException | None, state: RunState, prep: Prepared, log_tail: str = ""
) -> tuple[Outcome, ErrorInfo | None]:
    """Outcome from who stopped the kernel and what was raised, never from the notebook."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    cell = _author_index(state.nb, state.cell)
    malformed = wire.malformed_reason(getattr(state.client, "km", None) or prep.km)
    if malformed is not None:  # the notebook forged it: its failure, its cell, its notebook kept
        message = f"the kernel sent a message that cannot be read ({malformed}); the run was stopped"
        return "failed", ErrorInfo(type=wire.ERROR_TYPE, message=message, cell=cell)
    if state.stop_reason == "output_limit":
        msg = f"outputs exceeded {state.max_output_bytes} bytes; the kernel was stopped"
        if state.refused is not None:
            msg += f" (a message on {state.refused} was larger than that cap and was refused unread)"
        return "output_limit", ErrorInfo(type="OutputLimit", message=msg, cell=cell)
    if state.stop_reason == "run_timeout":
        return "timeout", ErrorInfo(type="RunTimeout", message="whole-run time budget exceeded", cell=cell)
    if state.errors and (exc is None or isinstance(exc, PapermillExecutionError)):
        fatal = conventions.summarize(state.errors, lambda i: _author_index(state.nb, i)).fatal
        return ("completed", None) if fatal is None else ("failed", fatal)
    if exc is None:
        return "completed", None
    if isinstance(exc, PapermillExecutionError):
        where = _author_index(state.nb, exc.cell_index)
        return "failed", ErrorInfo(type=str(exc.ename), message=str(exc.evalue), cell=where)
    if isinstance(exc, CellTimeoutError):
        message = str(exc).splitlines()[0] + _timeout_source(state, prep)
        return "timeout", ErrorInfo(type="CellTimeout", message=message, cell=cell)
    fault = None if isinstance(exc, DeadKernelError) else _tool_fault(exc, state, prep)
    if fault is not None:
        raise RunnerFailed(f"{prep.sub.slug}: {fault}") from exc
    message = signal_name(state.exit_code, prep.choice.kind == "bwrap")
    if not state.kernel_ready:
        message += " during start-up, before any cell ran"
    if not isinstance(exc, DeadKernelError):
        message += f" ({type(exc).__name__}: {shorten(str(exc).strip(), 300)})"
    if log_tail:
        message += f"; kernel stderr: {log_tail}"
    return "kernel_died", ErrorInfo(type="KernelDied", message=message, cell=cell)


def _timeout_source(state: RunState, prep: Prepared) -> str:
    """Which metadata set the budget the cell ran past, when the author's lowered the policy's."""
    index = _author_index(state.nb, state.cell)
    if index is None or not 0 <= index < len(prep.nb.cells):
        return ""
    return conventions.timeout_source(prep.nb.cells[index], prep.policy.cell_timeout_s, state.settings)


def _run_papermill(prep: Prepared, state: RunState) -> BaseException | None:
    """Run papermill; return the exception it raised (None when the notebook completed).

    Every exception is returned, to be classified once the run's processes are gone; the
    ones that are the tool's own failure are raised again by :func:`_classify`.
    """
    import papermill

    from codeml_repro.run.kernel.engine import ENGINE_NAME  # registers the engine, once

    def cell_budget(cell: Any) -> int:  # nbclient's per-cell hook; the policy's is never raised
        budget = conventions.budget_of(as_written(prep, cell), prep.policy.cell_timeout_s, state.settings)
        return max(1, math.ceil(min(budget, prep.timeout_s)))

    try:
        papermill.execute_notebook(
            str(prep.nb_path),
            None,
            parameters=dict(prep.sub.spec.artifact.parameters) or None,
            engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            start_timeout=max(1, math.ceil(min(60.0, prep.timeout_s))),
            run_state=state,
            km=prep.km,  # not started when the early launch failed: the client starts it again
            extra_arguments=kernel_arguments(prep),
            timeout=cell_budget({}),  # nbclient's fallback, when it has no cell to ask about
            timeout_func=cell_budget,
            allow_errors=state.settings.allow_errors,
            shutdown_kernel="immediate",
        )
    except Exception as exc:  # classified (or raised again) by _classify, after clean-up
        return exc
    return None


def run_prepared(prep: Prepared) -> Execution:
    """Run a prepared notebook; the whole-run budget starts now, even if its kernel started earlier."""
    state = RunState(
        max_output_bytes=prep.policy.max_output_bytes,
        pgid=km_pgid(prep.km),
        settings=conventions.notebook_settings(prep.nb.metadata),
    )
    prestarted = prep.km is not None
    start = time.monotonic()
    watchdog = threading.Timer(prep.timeout_s, state.stop, args=("run_timeout",))
    watchdog.daemon = True
    try:
        watchdog.start()
        watch = scratchfs.ScratchWatch(state.kernel_pgid, prep.dirs.work)
        with usage.UsageSampler(state.kernel_pgid) as sampler:  # peak memory and CPU of the run
            state.sample_memory = lambda: _after_cell(prep, sampler, watch)  # a short peak is not missed
            state.pgid = launch_early(prep) or state.pgid  # starts while papermill is imported
            exc = _run_papermill(prep, state)
        watchdog.cancel()  # the budget is over: nothing stops the kernel from now on
        duration = time.monotonic() - start
        reaping.kill_group(state.kernel_pgid())
        log_tail = kernel_log_tail(prep.dirs.root / "kernel.log")
        state.nb = _drop_error_markers(state.nb if state.nb is not None else prep.nb)
        outcome, error = _classify(exc, state, prep, log_tail)  # may raise RunnerFailed
        error = hostpaths.scrub_error(error, prep.dirs, prep.policy.cache)
        error = _with_memory_note(prep, error)
        error = _with_disk_note(prep, error, watch)
    finally:
        watchdog.cancel()
        reaping.kill_group(state.kernel_pgid())
        discard(prep, state.kernel_pgid())
    ex = _execution(prep, state, outcome, error, duration, prestarted)
    return dataclasses.replace(ex, resources=usage.report(sampler, state.nb, author_index))


def _execution(prep: Prepared, state: RunState, outcome: Outcome, error: ErrorInfo | None, duration: float,
               prestarted: bool) -> Execution:
    _clean_notebook(state.nb, prep.sub)
    errors = conventions.summarize(state.errors, lambda i: _author_index(state.nb, i))
    warnings = [*prep.choice.warnings, *prep.env.notes]
    if prep.sub.spec.artifact.parameters:
        note = conventions.parameters_note(prep.sub.spec.artifact.notebook, prep.nb.cells)
        warnings += [note] if note else []
    warnings += conventions.shell_failures(state.nb.cells, lambda i: _author_index(state.nb, i),
                                            state.shell_status)
    sandboxed = prep.choice.kind == "bwrap"
    warnings += runuid.process_cap_warnings(prep.run_uid, sandboxed=sandboxed, pids_capped=prep.pids_capped)
    stopped = errors.stopped_at if outcome == "completed" else None
    if stopped is not None:
        warnings.append(conventions.stop_note(stopped, len(prep.nb.cells)))
    environment = {
        **prep.env.describe(),
        "sandbox": prep.choice.kind,
        "bwrap_version": prep.choice.version,
        "limits": {**dataclasses.asdict(prep.limits), **cgroup_record(prep.cgroup),
                   **runuid.uid_record(prep.run_uid, sandboxed=sandboxed, pids_capped=prep.pids_capped)},
    }
    if prep.gpu is not None:  # model, driver and CUDA version, with the result
        environment["gpu"] = prep.gpu.describe()
    return Execution(
        outcome=outcome,
        error=error,
        notebook=state.nb,
        duration_s=round(duration, 3),
        environment=environment,
        sandbox=prep.choice.kind,
        warnings=warnings,
        output_truncated=state.stop_reason == "output_limit",
        run_id=prep.marker,
        kernel_prestarted=prestarted,
        allowed_errors=[e for e in (hostpaths.scrub_error(a, prep.dirs, prep.policy.cache)
                                    for a in errors.allowed) if e],
        stopped_at=stopped,
    )


def execute(sub: Submission, policy: RunPolicy, *, timeout_s: float) -> Execution:
    """Run ``sub``'s notebook under ``policy``; raise only when the tool itself cannot work."""
    return run_prepared(prepare(sub, policy, timeout_s=timeout_s))


class KernelPipeline:
    """Runs notebooks one after another; while one runs, the next one's kernel is starting.

    ``execute(sub, timeout_s, then=(next_sub, next_timeout))`` names the run that comes next. With
    ``prestart``, that run is prepared (its own environment, sandbox, scratch dir, cgroup) and its
    kernel launched *before* the current notebook runs, so the kernel's start-up overlaps the
    current run. A pre-started run is used only by the call for the same submission and timeout;
    otherwise it is discarded. Leaving the ``with`` block discards one whose turn never came.
    If preparing the next run fails, nothing is pre-started: at its own turn, a
    :class:`~codeml_repro.model.errors.ReproError` (e.g. its environment failed) is raised again without
    a second try; any other error recurs when it is prepared again. When the next run's environment
    is not built yet, it is built in the background during the current run instead
    (:class:`~codeml_repro.run.env.ahead.EnvAhead`), and that run is prepared at its turn.
    """

    def __init__(self, policy: RunPolicy, *, prestart: bool = True) -> None:
        self.policy = policy
        self.prestart = prestart
        self._next: Prepared | None = None
        self._failed: tuple[Any, float, ReproError] | None = None
        self._ahead = EnvAhead(policy.env, cache=policy.cache, index=policy.package_sources(),
                               offline=policy.offline)

    def __enter__(self) -> KernelPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        prep, self._next, self._failed = self._next, None, None
        if prep is not None:
            discard(prep)
        # A build still in progress is left to finish in its daemon thread: an interrupted
        # run does not wait for uv.

    def _take(self, sub: Submission, timeout_s: float) -> Prepared:
        """The run prepared ahead for ``sub`` (or its error), else a newly prepared one."""
        prep, self._next = self._next, None
        failed, self._failed = self._failed, None
        # a matrix cell is the same folder with other pins: its own environment
        if prep is not None and (prep.sub.folder, prep.sub.pins, prep.timeout_s) != (
            sub.folder, sub.pins, timeout_s
        ):
            discard(prep)
            prep = None
        if failed is not None and failed[:2] == ((sub.folder, sub.pins), timeout_s):
            raise failed[2]
        self._ahead.wait_for(sub)
        return prep if prep is not None else prepare(sub, self.policy, timeout_s=timeout_s)

    def execute(
        self, sub: Submission, timeout_s: float, *, then: tuple[Submission, float] | None = None
    ) -> Execution:
        prep = self._take(sub, timeout_s)
        if self.prestart and then is not None and not self._ahead.start(then[0]):
            try:
                self._next = prepare(then[0], self.policy, timeout_s=then[1], start_kernel=True)
            except ReproError as exc:
                self._failed = ((then[0].folder, then[0].pins), then[1], exc)
            except Exception:
                pass  # it recurs, and is reported, at its own turn
        return run_prepared(prep)

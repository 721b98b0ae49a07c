"""Execute one artifact notebook with papermill under budgets.

papermill gets an explicit kernel name, injects the parameters and drives a
client subclass that counts output bytes as messages arrive. The kernel is
started by :class:`~codeml_repro.sandbox.SandboxKernelManager` over IPC
sockets. A watchdog enforces the whole-run budget by killing the kernel. The
outcome comes from the exception and from who stopped the kernel, never from
the saved notebook (papermill marks cells "completed" even after a timeout).

A run has two steps: :func:`prepare` (environment, sandbox, scratch dir,
kernel command; optionally launching the kernel) and :func:`run_prepared`.
:class:`KernelPipeline` uses them to start the next notebook's kernel while
the current one runs (kernel pre-start). Budgets: the whole-run budget, the
watchdog and ``duration_s`` start with the run step, pre-started or not. A
kernel launched early is not charged for waiting for its turn (that would
charge one notebook for another's run time); what is left of its start-up
when its turn comes (the client waiting for its first reply) is charged as
before and bounded by the start-up timeout. While it waits it is already
inside its own sandbox, with its own limits, cgroup and run marker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codeml_repro import sandbox
from codeml_repro.environment import KernelEnv, prepare_environment
from codeml_repro.policy import RunPolicy
from codeml_repro.result import ErrorInfo
from codeml_repro.submission import Submission

Outcome = Literal["completed", "failed", "timeout", "kernel_died", "output_limit"]
StopReason = Literal["run_timeout", "output_limit"]

KERNEL_NAME = "codeml-repro-python"  # never looked up on the host: see SandboxKernelManager
ENGINE_NAME = "codeml-repro"
INDEX_KEY = "codeml_repro_index"  # temporary cell metadata: index in the author's notebook
ERROR_MARKER_TAG = "papermill-error-cell-tag"
OUTPUT_MSGS = {"stream", "display_data", "execute_result", "error", "update_display_data"}
HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # what nbclient passes to a kernel it starts
# ipykernel's start-up notice (printed when it has no terminal): noise in the kernel's log
_BANNER = re.compile(
    r"^(NOTE: When using the `ipython kernel`|To exit, you will have to|\"quit\" from a client|"
    r"To read more about this|https://github.com/ipython/ipython/issues/2049|"
    r"To connect another client|\s*--existing )"
)
_SITECUSTOMIZE = (
    '"""codeml-repro: a crash prints "Fatal Python error" to the kernel log."""\n'
    "import faulthandler, os\n"
    "try:\n"
    "    faulthandler.enable(open(os.dup(2), 'w'))\n"
    "except (OSError, ValueError):\n"
    "    pass\n"
)
_FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>.+)$')
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b:?")


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
    kernel_exit_code: int | None = None
    run_id: str = ""  # also the value of CODEML_RUN_ID in every process of the run
    kernel_prestarted: bool = False  # the kernel was started while another notebook ran


@dataclass
class _RunState:
    """Shared by the client (event loop) and the watchdog thread."""

    max_output_bytes: int
    client: Any = None
    nb: Any = None
    pgid: int | None = None
    stop_reason: StopReason | None = None
    cell: int | None = None  # index (in the executed notebook) of the running cell
    output_bytes: int = 0
    exit_code: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kernel_pgid(self) -> int | None:
        with contextlib.suppress(AttributeError):
            pgid = self.client.km.provisioner.pgid
            if isinstance(pgid, int):
                self.pgid = pgid
        return self.pgid

    def stop(self, reason: StopReason) -> None:
        """Record why the run is stopped (first reason wins) and kill the kernel."""
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        sandbox.kill_group(self.kernel_pgid())


def _payload_size(obj: Any) -> int:
    if isinstance(obj, str):
        return len(obj) if obj.isascii() else len(obj.encode("utf-8", "replace"))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return len(obj)
    if isinstance(obj, dict):
        return sum(_payload_size(k) + _payload_size(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return sum(_payload_size(v) for v in obj)
    return 8


def _client_class() -> type:
    """The nbclient client that counts output bytes and reports the kernel's exit code."""
    from nbformat.v4 import new_output
    from papermill.clientwrap import PapermillNotebookClient

    class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
        """Counts output bytes as they arrive; past the cap, drops them and kills the kernel."""

        def __init__(self, nb_man: Any, *, run_state: _RunState, **kw: Any) -> None:
            super().__init__(nb_man, **kw)
            self.owns_km = True  # a pre-started kernel is shut down like one the client started
            self.run_state = run_state
            self.on_cell_execute = self._cell_starts

        def _cell_starts(self, cell: Any, cell_index: int) -> None:
            self.run_state.cell = cell_index

        @contextlib.contextmanager
        def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
            with super().setup_kernel(**kwargs):
                state = self.run_state
                if state.kernel_pgid() is not None and state.stop_reason is not None:
                    state.stop(state.stop_reason)  # the budget ran out while the kernel started
                yield

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            state = self.run_state
            if msg["msg_type"] in OUTPUT_MSGS or msg["msg_type"].startswith("comm"):
                if state.stop_reason == "output_limit":
                    return None
                size = _payload_size(msg.get("content")) + _payload_size(msg.get("buffers") or [])
                state.output_bytes += size
                if state.output_bytes > state.max_output_bytes:
                    note = f"[codeml-repro: output stopped: more than {state.max_output_bytes} bytes]\n"
                    cell.outputs.append(new_output("stream", name="stderr", text=note))
                    state.stop("output_limit")
                    return None
            return super().process_message(msg, cell, cell_index)

        def _cleanup_kernel(self) -> None:  # papermill calls the sync wrapper
            with contextlib.suppress(AttributeError):
                self.run_state.exit_code = self.km.popen.poll()
            super()._cleanup_kernel()

    return CappedClient


def _make_engine() -> type:
    """papermill engine driving :func:`_client_class` (papermill is imported only when running)."""
    from papermill.engines import NBClientEngine

    client_class = _client_class()

    class CappedEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            *,
            run_state: _RunState,
            start_timeout: int = 60,
            **kwargs: Any,
        ) -> Any:
            for unused in ("input_path", "stdout_file", "stderr_file", "log_output"):
                kwargs.pop(unused, None)
            run_state.nb = nb_man.nb
            client = client_class(
                nb_man, run_state=run_state, kernel_name=kernel_name, startup_timeout=start_timeout, **kwargs
            )
            run_state.client = client
            return client.execute()

    return CappedEngine


def _write_shim(shim: Path) -> None:
    """A package that only offers ``record``: importable in any kernel environment; and a
    ``sitecustomize`` sending crash reports (faulthandler) to the kernel's log, which ipykernel's
    capture of file descriptor 2 would otherwise swallow."""
    pkg = shim / "codeml_repro"
    pkg.mkdir(parents=True)
    shutil.copyfile(Path(__file__).with_name("record.py"), pkg / "record.py")
    (pkg / "__init__.py").write_text(
        '"""codeml_repro inside an artifact kernel: only record()."""\n'
        "from codeml_repro.record import record\n\n__all__ = ['record']\n"
    )
    (shim / "sitecustomize.py").write_text(_SITECUSTOMIZE)


def _make_dirs(sub: Submission, marker: str) -> sandbox.RunDirs:
    root = Path(tempfile.mkdtemp(prefix=sandbox.RUN_DIR_PREFIX))
    sandbox.record_owner(root, marker, None)  # first: a killed runner's dir is found and removed
    dirs = sandbox.RunDirs(root, root / "work", root / "conn", root / "shim", root / "home")
    try:
        shutil.copytree(sub.folder, dirs.work, symlinks=True)
        for path in (dirs.conn, dirs.home):
            path.mkdir()
        _write_shim(dirs.shim)
    except BaseException:
        sandbox.remove_tree(root)
        raise
    return dirs


def _load_notebook(sub: Submission, dirs: sandbox.RunDirs) -> tuple[Any, Path]:
    """The author's notebook with each cell's index noted, written where papermill reads it."""
    import nbformat

    nb = nbformat.read(sub.notebook_path, as_version=4)
    for index, cell in enumerate(nb.cells):
        cell.metadata[INDEX_KEY] = index
    path = dirs.root / "input.ipynb"
    nbformat.write(nb, path)
    return nb, path


def _author_index(nb: Any, index: int | None) -> int | None:
    """Index in the author's notebook of cell ``index`` of the executed one (None if injected)."""
    if nb is None or index is None or not 0 <= index < len(nb.cells):
        return None
    value = nb.cells[index].metadata.get(INDEX_KEY)
    return value if isinstance(value, int) else None


def _drop_error_markers(nb: Any) -> Any:
    """Drop the cells papermill inserts on error, so indices match the executed notebook."""
    nb.cells = [c for c in nb.cells if ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    return nb


def _clean_notebook(nb: Any, sub: Submission) -> Any:
    for cell in nb.cells:
        cell.metadata.pop(INDEX_KEY, None)
    with contextlib.suppress(AttributeError, KeyError):
        nb.metadata.papermill["input_path"] = str(sub.notebook_path)
    return nb


def _signal_name(code: int | None, sandboxed: bool) -> str:
    if code is None:
        return "the kernel process died"
    signum = -code if code < 0 else (code - 128 if sandboxed and code > 128 else 0)
    if signum > 0:
        with contextlib.suppress(ValueError):
            return f"the kernel process was killed by signal {signum} ({signal.Signals(signum).name})"
    return f"the kernel process exited with code {code}"


def kernel_log_tail(path: Path, *, max_chars: int = 400) -> str:
    """The helpful end of a kernel's stderr: a fatal error with where it happened, the last
    exception line, or else the last two lines; ipykernel's start-up notice is left out."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 32768))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _BANNER.search(ln)]
    fatal = [i for i, ln in enumerate(lines) if ln.startswith("Fatal Python error")]
    if fatal:
        picked = [lines[fatal[-1]], *_crash_frames(lines[fatal[-1] + 1 :])]
    else:
        picked = [ln for ln in lines if _EXC_LINE.match(ln)][-1:] or lines[-2:]
    tail = " | ".join(ln if len(ln) <= 200 else ln[:199] + "…" for ln in picked)
    return tail if len(tail) <= max_chars else tail[: max_chars - 1] + "…"


def _crash_frames(lines: list[str]) -> list[str]:
    """From a faulthandler dump: the crashing thread's innermost frame and the notebook cell's."""
    current = next((i for i, ln in enumerate(lines) if ln.startswith("Current thread")), None)
    frames = [_FRAME.match(ln) for ln in lines[current + 1 :]] if current is not None else []
    found = [m for m in frames if m]
    cell = next((m for m in found if "/ipykernel_" in m["file"]), None)
    out = []
    for m in (found[0] if found else None, cell):
        if m is not None:
            name = "<cell>" if m is cell else "/".join(Path(m["file"]).parts[-2:])
            out.append(f"{name}, line {m['line']} in {m['func']}")
    return list(dict.fromkeys(out))


def _classify(
    exc: BaseException | None, state: _RunState, sandboxed: bool, log_tail: str = ""
) -> tuple[Outcome, ErrorInfo | None]:
    """Outcome from who stopped the kernel and what was raised, never from the notebook."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    cell = _author_index(state.nb, state.cell)
    if state.stop_reason == "output_limit":
        msg = f"outputs exceeded {state.max_output_bytes} bytes; the kernel was stopped"
        return "output_limit", ErrorInfo(type="OutputLimit", message=msg, cell=cell)
    if state.stop_reason == "run_timeout":
        return "timeout", ErrorInfo(type="RunTimeout", message="whole-run time budget exceeded", cell=cell)
    if exc is None:
        return "completed", None
    if isinstance(exc, PapermillExecutionError):
        where = _author_index(state.nb, exc.cell_index)
        return "failed", ErrorInfo(type=str(exc.ename), message=str(exc.evalue), cell=where)
    if isinstance(exc, CellTimeoutError):
        return "timeout", ErrorInfo(type="CellTimeout", message=str(exc).splitlines()[0], cell=cell)
    message = _signal_name(state.exit_code, sandboxed)
    if not isinstance(exc, DeadKernelError):
        message += f" ({type(exc).__name__}: {str(exc).strip()[:300]})"
    if log_tail:
        message += f"; kernel stderr: {log_tail}"
    return "kernel_died", ErrorInfo(type="KernelDied", message=message, cell=cell)


def _kernel_config(prep: Prepared) -> Any:
    """traitlets config handing the kernel command to :class:`~codeml_repro.sandbox.SandboxKernelManager`."""
    from traitlets.config import Config

    config = Config()
    config.SandboxKernelManager.launch_argv = prep.launch.argv
    config.SandboxKernelManager.launch_env = prep.launch.env
    config.SandboxKernelManager.launch_cwd = prep.launch.cwd
    config.SandboxKernelManager.log_path = str(prep.dirs.root / "kernel.log")
    config.SandboxKernelManager.transport = "ipc"
    config.SandboxKernelManager.connection_file = str(prep.dirs.conn / "kernel.json")
    config.SandboxKernelManager.autorestart = False
    return config


def _run_papermill(prep: Prepared, state: _RunState) -> BaseException | None:
    """Run papermill; return the exception it raised (None when the notebook completed)."""
    import papermill
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, _make_engine())
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
            config=_kernel_config(prep),
            kernel_manager_class=sandbox.SandboxKernelManager,
            km=prep.km,  # None: the client starts the kernel itself
            timeout=max(1, math.ceil(min(prep.policy.cell_timeout_s, prep.timeout_s))),
            shutdown_kernel="immediate",
        )
    except Exception as exc:  # every failure of a notebook is classified, none escapes
        return exc
    return None


@dataclass
class Prepared:
    """A run made ready (scratch dir, notebook, kernel command), its kernel perhaps already starting.

    It owns its scratch dir, cgroup and kernel until :func:`run_prepared` or :func:`discard`.
    """

    sub: Submission
    policy: RunPolicy
    timeout_s: float
    choice: sandbox.SandboxChoice
    env: KernelEnv
    marker: str  # the run id, in the environment of every process of the run
    dirs: sandbox.RunDirs
    cgroup: Path | None
    limits: sandbox.Limits
    nb: Any
    nb_path: Path
    launch: sandbox.KernelLaunch
    km: Any = None  # a SandboxKernelManager whose kernel was started ahead of the run


def prepare(sub: Submission, policy: RunPolicy, *, timeout_s: float, start_kernel: bool = False) -> Prepared:
    """Make ``sub``'s run ready in its own environment and sandbox; with ``start_kernel``, launch
    its kernel now (it starts while the caller does something else, e.g. runs another notebook)."""
    _clean_stale_once()
    choice = sandbox.choose_sandbox(policy.sandbox)  # may raise SandboxUnavailable
    env: KernelEnv = prepare_environment(sub, policy.env)  # may raise EnvironmentFailed
    marker = uuid.uuid4().hex
    dirs = _make_dirs(sub, marker)
    cgroup = None
    try:
        if choice.kind == "bwrap":
            cgroup = sandbox.pids_cgroup(marker, policy.max_processes)
            sandbox.record_owner(dirs.root, marker, cgroup)
        nb, nb_path = _load_notebook(sub, dirs)
        hide = [sub.folder.resolve().parent.parent, Path.cwd()]
        limits = sandbox.Limits.from_policy(policy)
        launch = sandbox.build_launch(choice, dirs, env.python, limits, marker, hide=hide, cgroup=cgroup)
    except BaseException:
        sandbox.remove_cgroup(cgroup)
        sandbox.remove_tree(dirs.root)
        raise
    prep = Prepared(sub, policy, timeout_s, choice, env, marker, dirs, cgroup, limits, nb, nb_path, launch)
    if start_kernel:
        try:
            _start_kernel(prep)
        except BaseException:
            discard(prep)
            raise
    return prep


def _start_kernel(prep: Prepared) -> None:
    """Launch the kernel as nbclient would (same manager, config and arguments), without waiting."""
    from jupyter_core.utils import run_sync

    prep.km = sandbox.SandboxKernelManager(kernel_name=KERNEL_NAME, config=_kernel_config(prep))
    run_sync(prep.km.start_kernel)(extra_arguments=[HISTORY_ARG])


def _km_pgid(km: Any) -> int | None:
    pgid = getattr(getattr(km, "provisioner", None), "pgid", None)
    return pgid if isinstance(pgid, int) else None


def discard(prep: Prepared, pgid: int | None = None) -> None:
    """Release what a prepared run holds: its kernel and every process, its cgroup, its scratch dir."""
    from jupyter_core.utils import run_sync

    sandbox.kill_group(pgid or _km_pgid(prep.km))
    if prep.km is not None and prep.km.has_kernel:  # started ahead, never run
        with contextlib.suppress(Exception):
            run_sync(prep.km.shutdown_kernel)(now=True)
    sandbox.sweep(prep.marker)
    sandbox.remove_cgroup(prep.cgroup)
    sandbox.remove_tree(prep.dirs.root)


def run_prepared(prep: Prepared) -> Execution:
    """Run a prepared notebook; the whole-run budget starts now, even if its kernel started earlier."""
    state = _RunState(max_output_bytes=prep.policy.max_output_bytes, pgid=_km_pgid(prep.km))
    start = time.monotonic()
    watchdog = threading.Timer(prep.timeout_s, state.stop, args=("run_timeout",))
    watchdog.daemon = True
    try:
        watchdog.start()
        exc = _run_papermill(prep, state)
    finally:
        watchdog.cancel()
        sandbox.kill_group(state.kernel_pgid())
        log_tail = kernel_log_tail(prep.dirs.root / "kernel.log")
        discard(prep, state.kernel_pgid())
    duration = time.monotonic() - start
    return _execution(prep, state, exc, duration, log_tail)


def _execution(prep: Prepared, state: _RunState, exc: BaseException | None, duration: float, log_tail: str
               ) -> Execution:
    state.nb = _drop_error_markers(state.nb if state.nb is not None else prep.nb)
    outcome, error = _classify(exc, state, prep.choice.kind == "bwrap", log_tail)
    _clean_notebook(state.nb, prep.sub)
    environment = {
        **prep.env.describe(),
        "sandbox": prep.choice.kind,
        "bwrap_version": prep.choice.version,
        "limits": {**dataclasses.asdict(prep.limits), "pids_cgroup": prep.cgroup is not None},
    }
    return Execution(
        outcome=outcome,
        error=error,
        notebook=state.nb,
        duration_s=round(duration, 3),
        environment=environment,
        sandbox=prep.choice.kind,
        warnings=list(prep.choice.warnings),
        output_truncated=state.stop_reason == "output_limit",
        kernel_exit_code=state.exit_code,
        run_id=prep.marker,
        kernel_prestarted=prep.km is not None,
    )


def execute(sub: Submission, policy: RunPolicy, *, timeout_s: float) -> Execution:
    """Run ``sub``'s notebook under ``policy``; raise only when the tool itself cannot work."""
    return run_prepared(prepare(sub, policy, timeout_s=timeout_s))


@functools.cache
def _clean_stale_once() -> None:
    """Once per process: remove the run dirs (and cgroups, processes) of runners killed earlier."""
    sandbox.clean_stale_runs()


class KernelPipeline:
    """Runs notebooks one after another; while one runs, the next one's kernel is starting.

    ``execute(sub, timeout_s, then=(next_sub, next_timeout))`` names the run that comes next. With
    ``prestart``, that run is prepared (its own environment, sandbox, scratch dir, cgroup) and its
    kernel launched *before* the current notebook runs, so the kernel's start-up overlaps the
    current run. A pre-started run is used only by the call for the same submission and timeout;
    otherwise it is discarded. Leaving the ``with`` block discards one whose turn never came.
    If preparing the next run fails, nothing is pre-started: the error recurs at its own turn.
    """

    def __init__(self, policy: RunPolicy, *, prestart: bool = True) -> None:
        self.policy = policy
        self.prestart = prestart
        self._next: Prepared | None = None

    def __enter__(self) -> KernelPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        prep, self._next = self._next, None
        if prep is not None:
            discard(prep)

    def execute(
        self, sub: Submission, timeout_s: float, *, then: tuple[Submission, float] | None = None
    ) -> Execution:
        prep, self._next = self._next, None
        if prep is not None and (prep.sub.folder, prep.timeout_s) != (sub.folder, timeout_s):
            discard(prep)
            prep = None
        if prep is None:
            prep = prepare(sub, self.policy, timeout_s=timeout_s)
        if self.prestart and then is not None:
            with contextlib.suppress(Exception):
                self._next = prepare(then[0], self.policy, timeout_s=then[1], start_kernel=True)
        return run_prepared(prep)

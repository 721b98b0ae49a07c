"""Execute one artifact notebook with papermill under budgets.

papermill gets an explicit kernel name, injects the parameters and drives a
client subclass that counts output bytes as messages arrive. The kernel is
started by :class:`~codeml_repro.sandbox.SandboxKernelManager` over IPC
sockets. A watchdog enforces the whole-run budget by killing the kernel. The
outcome comes from the exception and from who stopped the kernel, never from
the saved notebook (papermill marks cells "completed" even after a timeout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
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


def _make_engine() -> type:
    """papermill engine and client classes (papermill is imported only when running)."""
    from nbformat.v4 import new_output
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine

    class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
        """Counts output bytes as they arrive; past the cap, drops them and kills the kernel."""

        def __init__(self, nb_man: Any, *, run_state: _RunState, **kw: Any) -> None:
            super().__init__(nb_man, **kw)
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
            client = CappedClient(
                nb_man, run_state=run_state, kernel_name=kernel_name, startup_timeout=start_timeout, **kwargs
            )
            run_state.client = client
            return client.execute()

    return CappedEngine


def _write_shim(shim: Path) -> None:
    """A package that only offers ``record``: importable in any kernel environment."""
    pkg = shim / "codeml_repro"
    pkg.mkdir(parents=True)
    shutil.copyfile(Path(__file__).with_name("record.py"), pkg / "record.py")
    (pkg / "__init__.py").write_text(
        '"""codeml_repro inside an artifact kernel: only record()."""\n'
        "from codeml_repro.record import record\n\n__all__ = ['record']\n"
    )


def _make_dirs(sub: Submission) -> sandbox.RunDirs:
    root = Path(tempfile.mkdtemp(prefix="codeml-run-"))
    dirs = sandbox.RunDirs(root, root / "work", root / "conn", root / "shim", root / "home")
    shutil.copytree(sub.folder, dirs.work, symlinks=True)
    for path in (dirs.conn, dirs.home):
        path.mkdir()
    _write_shim(dirs.shim)
    return dirs


def _remove_tree(root: Path) -> None:
    """Remove a run's directory even if the notebook made parts of it read-only."""

    def make_writable(func: Any, path: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            Path(path).parent.chmod(0o700)
            Path(path).chmod(0o700)
            func(path)

    shutil.rmtree(root, onerror=make_writable)


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


def _classify(
    exc: BaseException | None, state: _RunState, sandboxed: bool
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
    return "kernel_died", ErrorInfo(type="KernelDied", message=message, cell=cell)


def _run_papermill(
    nb_path: Path,
    sub: Submission,
    launch: sandbox.KernelLaunch,
    dirs: sandbox.RunDirs,
    state: _RunState,
    policy: RunPolicy,
    timeout_s: float,
) -> BaseException | None:
    """Run papermill; return the exception it raised (None when the notebook completed)."""
    import papermill
    from papermill.engines import papermill_engines
    from traitlets.config import Config

    papermill_engines.register(ENGINE_NAME, _make_engine())
    config = Config()
    config.SandboxKernelManager.launch_argv = launch.argv
    config.SandboxKernelManager.launch_env = launch.env
    config.SandboxKernelManager.launch_cwd = launch.cwd
    config.SandboxKernelManager.log_path = str(dirs.root / "kernel.log")
    config.SandboxKernelManager.transport = "ipc"
    config.SandboxKernelManager.connection_file = str(dirs.conn / "kernel.json")
    config.SandboxKernelManager.autorestart = False
    try:
        papermill.execute_notebook(
            str(nb_path),
            None,
            parameters=dict(sub.spec.artifact.parameters) or None,
            engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            start_timeout=max(1, math.ceil(min(60.0, timeout_s))),
            run_state=state,
            config=config,
            kernel_manager_class=sandbox.SandboxKernelManager,
            timeout=max(1, math.ceil(min(policy.cell_timeout_s, timeout_s))),
            shutdown_kernel="immediate",
        )
    except Exception as exc:  # every failure of a notebook is classified, none escapes
        return exc
    return None


def execute(sub: Submission, policy: RunPolicy, *, timeout_s: float) -> Execution:
    """Run ``sub``'s notebook under ``policy``; raise only when the tool itself cannot work."""
    choice = sandbox.choose_sandbox(policy.sandbox)  # may raise SandboxUnavailable
    env: KernelEnv = prepare_environment(sub, policy.env)  # may raise EnvironmentFailed
    marker = uuid.uuid4().hex
    dirs = _make_dirs(sub)
    cgroup = sandbox.pids_cgroup(marker, policy.max_processes) if choice.kind == "bwrap" else None
    state = _RunState(max_output_bytes=policy.max_output_bytes)
    start = time.monotonic()
    watchdog = threading.Timer(timeout_s, state.stop, args=("run_timeout",))
    watchdog.daemon = True
    limits = sandbox.Limits.from_policy(policy)
    try:
        nb, nb_path = _load_notebook(sub, dirs)
        hide = [sub.folder.resolve().parent.parent, Path.cwd()]
        launch = sandbox.build_launch(choice, dirs, env.python, limits, marker, hide=hide, cgroup=cgroup)
        watchdog.start()
        exc = _run_papermill(nb_path, sub, launch, dirs, state, policy, timeout_s)
    finally:
        watchdog.cancel()
        sandbox.kill_group(state.kernel_pgid())
        sandbox.sweep(marker)
        sandbox.remove_cgroup(cgroup)
        _remove_tree(dirs.root)
    duration = time.monotonic() - start
    state.nb = _drop_error_markers(state.nb if state.nb is not None else nb)
    outcome, error = _classify(exc, state, choice.kind == "bwrap")
    _clean_notebook(state.nb, sub)
    environment = {
        **env.describe(),
        "sandbox": choice.kind,
        "bwrap_version": choice.version,
        "limits": {**dataclasses.asdict(limits), "pids_cgroup": cgroup is not None},
    }
    return Execution(
        outcome=outcome,
        error=error,
        notebook=state.nb,
        duration_s=round(duration, 3),
        environment=environment,
        sandbox=choice.kind,
        warnings=list(choice.warnings),
        output_truncated=state.stop_reason == "output_limit",
        kernel_exit_code=state.exit_code,
        run_id=marker,
    )

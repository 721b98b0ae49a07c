"""The papermill engine and nbclient client that run one notebook under the output cap.

The client counts output bytes as messages arrive (papermill would keep them
all in memory), notes which cell runs, whether the kernel replied, and how the
kernel process ended. The watchdog in the runner shares :class:`RunState`.
papermill and nbclient are imported only when a notebook runs.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from codeml_repro.run.kernel.channels import ChannelWatches
from codeml_repro.run.kernel.conventions import CellError, NotebookSettings, error_from_reply
from codeml_repro.run.kernel.messages import dropped_note, well_formed
from codeml_repro.run.sandbox import reaping

REMOTE_IO_PACKAGES = ("boto3", "pyarrow", "gcsfs", "azure", "github")
"""What ``papermill.iorw`` imports, when installed, for s3://, hdfs://, gs://, abs:// and GitHub
paths. The runner reads and writes local files only; on a machine with pyarrow and boto3 they
cost more than papermill itself (0.5-1 s of every ``codeml-repro run``)."""
StopReason = Literal["run_timeout", "output_limit"]
OUTPUT_MSGS = {"stream", "display_data", "execute_result", "error", "update_display_data"}


@dataclass
class RunState:
    """Shared by the client (event loop) and the watchdog thread."""

    max_output_bytes: int
    client: Any = None
    nb: Any = None
    pgid: int | None = None
    stop_reason: StopReason | None = None
    cell: int | None = None  # index (in the executed notebook) of the running cell
    output_bytes: int = 0
    refused: str | None = None  # the channel on which a frame over the cap was refused unread
    exit_code: int | None = None  # set when the kernel process had ended by itself at clean-up
    kernel_ready: bool = False  # the kernel replied to the client: start-up is over
    settings: NotebookSettings = field(default_factory=NotebookSettings)
    errors: list[CellError] = field(default_factory=list)  # every error reply, in order
    sample_memory: Callable[[], None] | None = None  # a look at the live kernel after each cell
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
        reaping.kill_group(self.kernel_pgid())


def payload_size(obj: Any) -> int:
    """Bytes of a message's content, roughly as they are held in memory."""
    if isinstance(obj, str):
        return len(obj) if obj.isascii() else len(obj.encode("utf-8", "replace"))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return len(obj)
    if isinstance(obj, dict):
        return sum(payload_size(k) + payload_size(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return sum(payload_size(v) for v in obj)
    return 8


def _within_cap(state: RunState, msg: dict[str, Any], cell: Any) -> bool:
    """Count an output message's bytes; past the cap, note it in the cell and stop the kernel."""
    if not (msg["msg_type"] in OUTPUT_MSGS or msg["msg_type"].startswith("comm")):
        return True
    if state.stop_reason == "output_limit":
        return False
    state.output_bytes += payload_size(msg.get("content")) + payload_size(msg.get("buffers") or [])
    if state.output_bytes <= state.max_output_bytes:
        return True
    from nbformat.v4 import new_output

    note = f"[codeml-repro: output stopped: more than {state.max_output_bytes} bytes]\n"
    cell.outputs.append(new_output("stream", name="stderr", text=note))
    state.stop("output_limit")
    return False


def _sample_memory(state: RunState) -> None:
    """A look at the live kernel's memory: at a cell's end, and before clean-up."""
    if state.sample_memory is not None:
        state.sample_memory()


def _kernel_started(state: RunState) -> None:
    """Start-up is over; a budget that ran out while the kernel started stops it now."""
    state.kernel_ready = True
    if state.kernel_pgid() is not None and state.stop_reason is not None:
        state.stop(state.stop_reason)


def _note_error_reply(state: RunState, cell: Any, cell_index: int, exec_reply: Any) -> None:
    """Note every error reply; a clean ``sys.exit`` stops the run even where errors are allowed."""
    content = (exec_reply or {}).get("content") or {}
    if content.get("status") != "error":
        return
    error = error_from_reply(cell, cell_index, content, state.settings)
    state.errors.append(error)
    if error.clean_exit:
        from nbclient.exceptions import CellExecutionError

        raise CellExecutionError.from_cell_and_msg(cell, content)


def _admitted(state: RunState, msg: dict[str, Any], cell: Any) -> dict[str, Any] | None:
    """The message to process: None past the output cap, else made well-formed (drops noted in the cell)."""
    if not _within_cap(state, msg, cell):
        return None
    msg, problems = well_formed(msg)
    if problems:
        from nbformat.v4 import new_output

        cell.outputs.append(new_output("stream", name="stderr", text=dropped_note(problems)))
    return msg


def _refused(state: RunState, channel: str) -> None:
    """A frame over the output cap was refused on ``channel`` (see :mod:`.channels`): say so, stop."""
    from nbformat.v4 import new_output

    state.refused = channel
    if state.nb is not None and state.cell is not None and 0 <= state.cell < len(state.nb.cells):
        note = (f"[codeml-repro: output stopped: a message on {channel} was larger than the output cap "
                f"({state.max_output_bytes} bytes) and was refused]\n")
        state.nb.cells[state.cell].outputs.append(new_output("stream", name="stderr", text=note))
    state.stop("output_limit")


def _kernel_running(km: Any) -> bool:
    with contextlib.suppress(AttributeError):
        return bool(km.popen.poll() is None)
    return False


def _note_exit(state: RunState, km: Any) -> None:
    """Before clean-up: the memory the last cell left, and the exit code if the kernel ended by itself."""
    _sample_memory(state)  # the kernel still holds what the last cell made
    if state.exit_code is None:
        with contextlib.suppress(AttributeError):
            state.exit_code = km.popen.poll()


def _client_class() -> type:
    """The nbclient client that counts output bytes and reports the kernel's exit code.

    Defined here, not at module level, so that papermill is imported only when a notebook runs;
    each hook hands its work to a module-level function above.
    """
    from jupyter_core.utils import run_sync
    from papermill.clientwrap import PapermillNotebookClient

    class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
        """Counts output bytes as they arrive; past the cap, drops them and kills the kernel."""

        def __init__(self, nb_man: Any, *, run_state: RunState, **kw: Any) -> None:
            super().__init__(nb_man, **kw)
            self.owns_km = True  # a pre-started kernel is shut down like one the client started
            self.run_state = run_state
            self.on_cell_execute = self._cell_starts
            self.on_cell_executed = self._cell_done
            self.watches = ChannelWatches()

        def _cell_done(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
            """A cell's memory is all there when it ends; a periodic tick can miss a short peak."""
            _sample_memory(self.run_state)

        def _cell_starts(self, cell: Any, cell_index: int) -> None:
            self.run_state.cell = cell_index

        async def async_start_new_kernel_client(self) -> Any:
            """The client, each channel watched for a frame libzmq refused (see :mod:`.channels`)."""
            kc = await super().async_start_new_kernel_client()
            km = self.km
            self.watches.start(kc, lambda: _kernel_running(km), lambda ch: _refused(self.run_state, ch))
            return kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)  # what papermill calls

        @contextlib.contextmanager
        def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
            with super().setup_kernel(**kwargs):
                _kernel_started(self.run_state)
                yield

        async def _check_raise_for_error(self, cell: Any, cell_index: int, exec_reply: Any) -> None:
            _note_error_reply(self.run_state, cell, cell_index, exec_reply)
            await super()._check_raise_for_error(cell, cell_index, exec_reply)

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            admitted = _admitted(self.run_state, msg, cell)
            return None if admitted is None else super().process_message(admitted, cell, cell_index)

        def _cleanup_kernel(self) -> None:  # papermill calls the sync wrapper
            self.watches.cancel()
            _note_exit(self.run_state, getattr(self, "km", None))
            super()._cleanup_kernel()

        async def _async_cleanup_kernel(self) -> None:  # nbclient, when the kernel never replied
            self.watches.cancel()
            _note_exit(self.run_state, getattr(self, "km", None))
            await super()._async_cleanup_kernel()

    return CappedClient


def import_papermill() -> Any:
    """``papermill``, imported without its remote-storage backends (:data:`REMOTE_IO_PACKAGES`).

    papermill falls back to a stub for each one missing; the names are hidden
    only while it is imported, so the rest of the process imports them as usual.
    """
    if "papermill" in sys.modules:
        return sys.modules["papermill"]
    hidden = [name for name in REMOTE_IO_PACKAGES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # ``import name`` raises ImportError
    try:
        import papermill
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return papermill


def make_engine() -> type:
    """papermill engine driving :func:`_client_class` (papermill is imported only when running)."""
    import_papermill()
    from papermill.engines import NBClientEngine

    client_class = _client_class()

    class CappedEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            *,
            run_state: RunState,
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

"""What the client of one run does, through nbclient's public hooks: budgets, notes, the output cap.

The client (:mod:`.engine`) counts output bytes as messages arrive (papermill
would keep them all in memory), notes which cell runs, whether the kernel
replied, and how the kernel process ended. The watchdog in the runner shares
:class:`RunState`. Nothing here imports papermill or nbclient at import time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from codeml_repro.run.kernel import manager, shellstatus
from codeml_repro.run.kernel.conventions import CellError, NotebookSettings, display_error, error_from_reply
from codeml_repro.run.kernel.messages import dropped_note, well_formed
from codeml_repro.run.sandbox import reaping

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
    shell_status: dict[int, int] = field(default_factory=dict)  # cell index: its shell's non-zero _exit_code
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


def kernel_started(state: RunState) -> None:
    """Start-up is over; a budget that ran out while the kernel started stops it now."""
    state.kernel_ready = True
    if state.kernel_pgid() is not None and state.stop_reason is not None:
        state.stop(state.stop_reason)


def _note_error_reply(state: RunState, cell: Any, cell_index: int, exec_reply: Any) -> None:
    """Note every error reply (and an error raised while displaying a result, which the reply may not
    name); a clean ``sys.exit`` stops the run even where errors are allowed."""
    content = (exec_reply or {}).get("content") or {}
    shown = display_error(cell, cell_index, content, state.settings)
    if shown is not None:
        state.errors.append(shown)
        return
    if content.get("status") != "error":
        return
    error = error_from_reply(cell, cell_index, content, state.settings)
    state.errors.append(error)
    if error.clean_exit:
        from nbclient.exceptions import CellExecutionError

        raise CellExecutionError.from_cell_and_msg(cell, content)


def admitted(state: RunState, msg: dict[str, Any], cell: Any) -> dict[str, Any] | None:
    """The message to process: None past the output cap, else made well-formed (drops noted in the cell)."""
    if not _within_cap(state, msg, cell):
        return None
    msg, problems = well_formed(msg)
    if problems:
        from nbformat.v4 import new_output

        cell.outputs.append(new_output("stream", name="stderr", text=dropped_note(problems)))
    return msg


def refused(state: RunState, channel: str) -> None:
    """A frame over the output cap was refused on ``channel`` (see :mod:`.channels`): say so, stop."""
    from nbformat.v4 import new_output

    state.refused = channel
    if state.nb is not None and state.cell is not None and 0 <= state.cell < len(state.nb.cells):
        note = (f"[codeml-repro: output stopped: a message on {channel} was larger than the output cap "
                f"({state.max_output_bytes} bytes) and was refused]\n")
        state.nb.cells[state.cell].outputs.append(new_output("stream", name="stderr", text=note))
    state.stop("output_limit")


def note_exit(state: RunState, km: Any) -> None:
    """Before clean-up: the memory the last cell left, and the exit code if the kernel ended by itself."""
    _sample_memory(state)  # the kernel still holds what the last cell made
    if state.exit_code is None:
        state.exit_code = manager.exit_code(km)


def cell_starts(state: RunState, cell: Any, cell_index: int) -> None:
    """nbclient's ``on_cell_execute`` hook: which cell runs (for the watchdog and the report)."""
    state.cell = cell_index


def cell_executed(state: RunState, cell: Any, cell_index: int, execute_reply: Any) -> None:
    """nbclient's ``on_cell_executed`` hook, run before it decides whether an error stops the run.

    A cell's memory is all there when it ends (a periodic tick can miss a short peak); every error
    reply is noted, and a clean ``sys.exit`` stops the run even where errors are allowed.
    """
    _sample_memory(state)
    _note_shell_status(state, cell, cell_index, execute_reply)
    _note_error_reply(state, cell, cell_index, execute_reply)


def _note_shell_status(state: RunState, cell: Any, cell_index: int, execute_reply: Any) -> None:
    """A non-zero ``_exit_code`` after a cell that runs a shell command (untrusted: validated)."""
    status = shellstatus.status_of(execute_reply)
    if status is not None and shellstatus.shell_command(cell) is not None:
        state.shell_status[cell_index] = status

"""The papermill engine and nbclient client of a run, defined and registered once, on first use.

This module imports papermill, and with it (papermill 2.7, ``papermill/iorw.py``) whichever of
its remote-storage backends are installed (pyarrow, boto3, gcsfs, azure, PyGithub): about a
second with pyarrow, once per process. Nothing hides them any more (a ``sys.modules`` patch did,
and was not thread-safe); the run's kernel starts up meanwhile (``prepare.launch_early``). A
papermill that imports its I/O backends on first use would make this free. Only
:mod:`codeml_repro.run.kernel.execute` imports this module, when a notebook runs.
The client uses nbclient's public hooks (``on_cell_execute``, ``on_cell_executed``)
and public methods; each hook hands its work to :mod:`.client`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

from codeml_repro.model.kernels import notebook_language
from codeml_repro.run.kernel import client, manager, shellstatus
from codeml_repro.run.kernel.channels import ChannelWatches

ENGINE_NAME = "codeml-capped"


class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
    """Counts output bytes as they arrive; past the cap, drops them and kills the kernel."""

    def __init__(self, nb_man: Any, *, run_state: client.RunState, **kw: Any) -> None:
        super().__init__(
            nb_man,
            on_cell_execute=functools.partial(client.cell_starts, run_state),
            on_cell_executed=functools.partial(client.cell_executed, run_state),
            **kw,
        )
        self.owns_km = True  # a pre-started kernel is shut down like one the client started
        self.run_state = run_state
        self.watches = ChannelWatches()

    async def async_start_new_kernel_client(self) -> Any:
        """The client, each channel watched for a frame libzmq refused (see :mod:`.channels`)."""
        km = self.km
        try:
            kc = await super().async_start_new_kernel_client()
        except BaseException:  # the kernel never replied: nbclient has cleaned it up
            client.note_exit(self.run_state, km)
            raise
        state = self.run_state
        if hasattr(kc, "after_each_cell") and notebook_language(state.nb or {}) in (None, "python"):
            kc.after_each_cell = dict(shellstatus.EXPRESSIONS)  # IPython's _exit_code after each cell
        self.watches.start(kc, lambda: manager.kernel_running(km), lambda ch: client.refused(state, ch))
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)  # what papermill calls

    @contextlib.contextmanager
    def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
        """The kernel's life; before nbclient cleans it up, the watches end and its exit is noted."""
        with super().setup_kernel(**kwargs):
            client.kernel_started(self.run_state)
            try:
                yield
            finally:
                self.watches.cancel()
                client.note_exit(self.run_state, self.km)

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        admitted = client.admitted(self.run_state, msg, cell)
        return None if admitted is None else super().process_message(admitted, cell, cell_index)


class CappedEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine, with :class:`CappedClient` and the run's shared state."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        run_state: client.RunState,
        start_timeout: int = 60,
        **kwargs: Any,
    ) -> Any:
        for unused in ("input_path", "stdout_file", "stderr_file", "log_output"):
            kwargs.pop(unused, None)
        run_state.nb = nb_man.nb
        capped = CappedClient(
            nb_man, run_state=run_state, kernel_name=kernel_name, startup_timeout=start_timeout, **kwargs
        )
        run_state.client = capped
        return capped.execute()


papermill_engines.register(ENGINE_NAME, CappedEngine)  # once: this module is imported once

"""The kernel manager the runner hands the sandboxed launch to (see :mod:`..sandbox.launch`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, DottedObjectName, Int, List, Type, Unicode, default

from codeml_repro.run.kernel.channels import CappedKernelClient, capped_context
from codeml_repro.run.sandbox import privileges


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command comes from config, never from a kernelspec."""

    launch_argv = List(Unicode(), help="Full kernel command with {connection_file}.").tag(config=True)
    launch_env = Dict(help="The kernel's complete environment.").tag(config=True)
    launch_cwd = Unicode("", help="Working directory of the kernel.").tag(config=True)
    log_path = Unicode("", help="File receiving the kernel's stdout and stderr.").tag(config=True)
    max_frame_bytes = Int(-1, help="Largest frame read from the kernel (-1: no limit).").tag(config=True)
    popen: Any = None  # the launched process, kept for its exit code
    # a message the notebook forged stops its run, as its own failure (see wire.py); a frame over
    # the output cap is refused unread (see channels.py)
    client_class = DottedObjectName(f"{CappedKernelClient.__module__}.{CappedKernelClient.__name__}")
    client_factory = Type(CappedKernelClient, klass="jupyter_client.asynchronous.AsyncKernelClient")

    @default("context")
    def _context_default(self) -> Any:
        """The manager's own control socket refuses oversized frames too (see :mod:`.channels`)."""
        self._created_context = True
        return capped_context(self.max_frame_bytes)

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=list(self.launch_argv),
                display_name="codeml-repro",
                language="python",
                interrupt_mode="signal",
                env={},
            )
        return self._kernel_spec

    is_ipykernel = Bool(True, help="An IPython kernel (False: a configured kernel of another language).").tag(
        config=True)

    @property
    def ipykernel(self) -> bool:
        return bool(self.is_ipykernel)  # lets nbclient keep IPython's history in memory

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        privileges.give_file(Path(self.connection_file))  # readable by a kernel that is not root
        kw["env"] = dict(self.launch_env)
        kw["cwd"] = self.launch_cwd or None
        with contextlib.ExitStack() as stack:
            if self.log_path:  # the child keeps its own descriptor
                kw["stdout"] = kw["stderr"] = stack.enter_context(open(self.log_path, "ab"))
            await super()._async_launch_kernel(kernel_cmd, **kw)
        self.popen = getattr(self.provisioner, "process", None)

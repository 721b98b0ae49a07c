"""The ``codeml-sandbox`` kernel provisioner: jupyter_client's own way to start a kernel elsewhere.

jupyter_client starts every kernel through a provisioner named in the kernelspec
(``metadata.kernel_provisioner``), found in the ``jupyter_client.kernel_provisioners``
entry-point group (see pyproject.toml). This one launches the command that
:mod:`.launch` assembled (bwrap, cgroup join, limits, privilege drop), with the
kernel's whole environment from the kernelspec's provisioner config (never the
runner's: the base class would start from ``os.environ``), its output to the
run's kernel log, and ends every process of the run when the kernel is killed or
cleaned up: its process group, whatever carries the run's marker, the cgroup.

The runner writes one kernelspec per run into the run's folder
(:func:`write_kernelspec`); ``codeml-repro kernel install`` writes one that
prepares a whole run at each launch. The class registered under the name is
``codeml_repro.run.kernel.installed.CodemlSandbox``: this one, plus that mode,
which needs the kernel stage (this package never imports it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Dict, List, Unicode

from codeml_repro.run.sandbox import cgroups, privileges, reaping

PROVISIONER_NAME = "codeml-sandbox"
"""The entry point's name in ``jupyter_client.kernel_provisioners``."""
KILL_SETTLE_S = 1.0
"""How long :meth:`SandboxProvisioner.kill` watches the killed kernel process end, a few ms apart."""


class SandboxProvisioner(LocalProvisioner):
    """Launches a prepared sandboxed kernel command; ends all the run's processes at kill and clean-up."""

    launch_env = Dict(help="The kernel's whole environment (none of the launcher's).").tag(config=True)
    launch_cwd = Unicode("", help="Working directory of the kernel.").tag(config=True)
    log_path = Unicode("", help="File receiving the kernel's stdout and stderr.").tag(config=True)
    marker = Unicode("", help="The run's marker: every process that carries it is ended.").tag(config=True)
    cgroup_dirs = List(Unicode(), help="The run's cgroup folders: emptied at clean-up.").tag(config=True)
    exit_code: int | None = None
    """How the kernel process ended, kept after jupyter_client forgets the process."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """The connection file as the base class writes it; the environment and cwd of this run only."""
        kwargs = await super().pre_launch(**kwargs)
        kwargs["env"] = dict(self.launch_env)
        kwargs["cwd"] = self.launch_cwd or None
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        """Start ``cmd``, its output in the kernel log, the connection file readable by a kernel not root."""
        connection_file = getattr(self.parent, "connection_file", "")
        if connection_file:
            privileges.give_file(Path(connection_file))
        with contextlib.ExitStack() as stack:
            if self.log_path:  # the child keeps its own descriptor
                kwargs["stdout"] = kwargs["stderr"] = stack.enter_context(open(self.log_path, "ab"))
            return await super().launch_kernel(cmd, **kwargs)

    async def poll(self) -> int | None:
        code = await super().poll()
        if code is not None:
            self.exit_code = code
        return code

    async def wait(self) -> int | None:
        process = self.process
        code = await super().wait()
        if process is not None and process.returncode is not None:
            self.exit_code = process.returncode
        return code

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL the kernel's process group (with bwrap, the whole namespace) and see the process end.

        jupyter_client waits for a killed kernel by polling every 0.1 s, and its first look comes
        before the process is gone: every run would wait 0.1 s for a process dead in a millisecond.
        """
        pgid = self.pgid
        await super().kill(restart)
        reaping.kill_group(pgid)
        deadline = time.monotonic() + KILL_SETTLE_S
        while await self.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def cleanup(self, restart: bool = False) -> None:
        """After the kernel: every process the run left (marker, cgroup) is ended."""
        await super().cleanup(restart)
        if restart:
            return
        reaping.kill_group(self.pgid)
        for folder in self.cgroup_dirs:
            cgroups.kill_all(cgroups.RunCgroup(0, (Path(folder),), (), 0), wait_s=1.0)
        if self.marker:
            reaping.sweep(self.marker, wait_s=1.0)


def kernelspec(
    argv: Sequence[str],
    display_name: str,
    config: Mapping[str, Any],
    *,
    language: str = "python",
) -> dict[str, Any]:
    """A kernelspec (``kernel.json``) whose kernel is started by the ``codeml-sandbox`` provisioner."""
    return {
        "argv": list(argv),
        "display_name": display_name,
        "language": language,
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": dict(config)}},
    }


def write_kernelspec(folder: Path, spec: Mapping[str, Any]) -> Path:
    """Write ``spec`` as ``folder/kernel.json`` (the folder is made); return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return folder


def provisioner_registered() -> bool:
    """Whether jupyter_client finds ``codeml-sandbox`` (it is, once codeml-repro is installed)."""
    from importlib.metadata import entry_points

    return bool(entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER_NAME))

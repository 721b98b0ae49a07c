"""A run's kernel manager: jupyter_client's own, told through a kernelspec to use the sandbox provisioner.

The run's kernelspec lives in the run's folder (never among the host's kernels),
names the ``codeml-sandbox`` provisioner (:mod:`codeml_repro.run.sandbox.provisioner`)
and carries the launch that :mod:`codeml_repro.run.sandbox.launch` assembled.
The manager and its clients talk to the kernel over sockets that refuse frames
over the run's output cap (:mod:`.channels`); those contexts are the run's, and
:func:`close_contexts` ends them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from codeml_repro.run.kernel.channels import CappedKernelClient, capped_context
from codeml_repro.run.sandbox import provisioner
from codeml_repro.run.sandbox.launch import KernelLaunch

KERNEL_NAME = "codeml-run"
"""The run's kernelspec, in the run folder's own ``kernels/`` (never looked up among the host's)."""
CLIENT_CLASS = f"{CappedKernelClient.__module__}.{CappedKernelClient.__name__}"


def run_kernelspec(root: Path, launch: KernelLaunch, log_path: Path, *, marker: str = "",
                   cgroup_dirs: tuple[Path, ...] = ()) -> Path:
    """Write the run's kernelspec under ``root/kernels``; return that folder (for ``kernel_dirs``)."""
    config = {"launch_env": launch.env, "launch_cwd": launch.cwd, "log_path": str(log_path), "marker": marker,
              "cgroup_dirs": [str(d) for d in cgroup_dirs]}
    spec = provisioner.kernelspec(launch.argv, "codeml-repro", config)
    provisioner.write_kernelspec(root / "kernels" / KERNEL_NAME, spec)
    return root / "kernels"


def ensure_provisioner() -> None:
    """Make sure jupyter_client finds ``codeml-sandbox`` in this process.

    It is found by its entry point (pyproject.toml). A checkout whose installed metadata predates
    the entry point (``pip install -e .`` not run again since) gets it added to the factory's
    public map of provisioners, so that the runner works there too; an installed kernel
    (``kernel install``), started by another program, needs the entry point itself.
    """
    if provisioner.provisioner_registered():
        return
    from importlib.metadata import EntryPoint

    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    entry = EntryPoint(name=provisioner.PROVISIONER_NAME, value=f"{__package__}.installed:CodemlSandbox",
                       group=KernelProvisionerFactory.GROUP_NAME)
    KernelProvisionerFactory.instance().provisioners.setdefault(entry.name, entry)


def new_manager(kernel_dirs: Path, connection_file: Path, max_frame_bytes: int) -> Any:
    """An (unstarted) manager of the run's kernel, its sockets capped at ``max_frame_bytes``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets.config import Config

    ensure_provisioner()
    config = Config()
    config.CappedKernelClient.max_frame_bytes = max_frame_bytes
    return AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dirs)]),
        client_class=CLIENT_CLASS,
        context=capped_context(max_frame_bytes),  # the manager's control socket refuses oversized frames too
        transport="ipc",
        connection_file=str(connection_file),
        autorestart=False,
        config=config,
    )


def close_contexts(km: Any) -> None:
    """End the manager's zmq context (it was given one, so it leaves it to its owner)."""
    context = getattr(km, "context", None)
    if context is not None and not context.closed:
        with contextlib.suppress(Exception):
            context.destroy(linger=0)


def exit_code(km: Any) -> int | None:
    """How the kernel process ended, if it has (kept by the provisioner after jupyter_client forgets it)."""
    prov = getattr(km, "provisioner", None)
    process = getattr(prov, "process", None)
    if process is not None:
        code = process.poll()
        if code is not None:
            return int(code)
    code = getattr(prov, "exit_code", None)
    return code if isinstance(code, int) else None


def kernel_running(km: Any) -> bool:
    """Whether the kernel process is still there."""
    prov = getattr(km, "provisioner", None)
    process = getattr(prov, "process", None)
    return process is not None and process.poll() is None

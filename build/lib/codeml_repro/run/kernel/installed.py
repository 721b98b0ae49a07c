"""A submission's CI sandbox as a Jupyter kernel an author installs: ``codeml-repro kernel install SLUG``.

The kernelspec (display name "codeml-repro sandbox: SLUG") names the ``codeml-sandbox``
provisioner with the submission's folder and the run policy. At every launch, from
``jupyter lab``, VS Code, ``papermill -k`` or ``jupyter nbconvert --execute``, the
provisioner prepares a run exactly as CI does (:func:`.prepare.prepare`: the
submission's environment, a copy of its folder, its declared inputs read-only, no
network but the declared downloads, the memory, CPU, process and disk budgets, the
cgroup and uid) and launches the kernel in it over IPC sockets in the run's folder;
when the kernel goes, the run is discarded. Only the whole-run and per-cell timeouts
are CI's alone (an interactive session has no end to measure against).

The class registered under ``codeml-sandbox`` is :class:`CodemlSandbox`: the
sandbox's provisioner, plus this mode, which needs the kernel stage and so lives here.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from traitlets import Dict, Unicode

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.kernel.prepare import Prepared, discard, prepare
from codeml_repro.run.sandbox import provisioner
from codeml_repro.run.sandbox.provisioner import SandboxProvisioner

NAME_PREFIX = "codeml-"


class CodemlSandbox(SandboxProvisioner):
    """``codeml-sandbox``: a prepared launch (the runner's), or with ``submission`` a run per launch."""

    submission = Unicode("", help="A submission folder: each launch prepares a CI run.").tag(config=True)
    policy = Dict(help="The run policy of an installed kernel (RunPolicy fields).").tag(config=True)
    prepared: Prepared | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        if self.submission:
            self.open_run()
        return await super().pre_launch(**kwargs)

    def open_run(self) -> None:
        """Prepare this launch's run; the kernel manager talks to it over IPC in the run's folder."""
        from codeml_repro.model.submission import load_submission

        policy = RunPolicy.model_validate(self.policy)
        prep = prepare(load_submission(Path(self.submission)), policy, timeout_s=policy.timeout_s)
        self.prepared = prep
        self.launch_env = dict(prep.launch.env)
        self.launch_cwd = prep.launch.cwd
        self.marker = prep.marker
        self.cgroup_dirs = [str(d) for d in prep.cgroup.dirs] if prep.cgroup else []
        self.kernel_spec.argv = list(prep.launch.argv)
        km: Any = self.parent  # the sandbox has no network: the kernel's sockets are files it can reach
        km.transport = "ipc"
        km.ip = str(prep.dirs.conn / "kernel-ipc")
        km.connection_file = str(prep.dirs.conn / "kernel.json")

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        prep, self.prepared = self.prepared, None
        if prep is not None:
            discard(prep)


def kernel_name(slug: str) -> str:
    """The kernelspec's name for ``slug`` (Jupyter allows letters, digits, ``._-``)."""
    return NAME_PREFIX + re.sub(r"[^a-z0-9._-]", "-", slug.lower())


def install(folder: Path, policy: RunPolicy, *, user: bool) -> tuple[str, Path]:
    """Get the submission's inputs and environment ready (now, with the network) and install its kernelspec.

    Returns the kernel's name and where its kernelspec went (``--user``: Jupyter's user data
    folder; otherwise this Python's prefix, beside codeml-repro itself).
    """
    from jupyter_client.kernelspec import KernelSpecManager

    from codeml_repro.model.submission import load_submission
    from codeml_repro.run.env.environment import prepare_environment
    from codeml_repro.run.inputs.fetch import fetch_inputs

    sub = load_submission(folder)
    failures = fetch_inputs([sub], policy).failures
    if failures:
        raise next(iter(failures.values()))
    prepare_environment(sub, policy.env, cache=policy.cache, index=policy.package_sources(),
                        offline=policy.offline)
    name = kernel_name(sub.slug)
    # the settings kept out of the skip key (excluded from dumps) still hold at each launch
    settings = policy.model_dump(mode="json") | {"offline": policy.offline, "bwrap": policy.bwrap,
                                                 "cache": str(policy.cache)}
    config = {"submission": str(sub.folder.resolve()), "policy": settings}
    argv = ["codeml-sandbox", "{connection_file}"]  # replaced at each launch by the run's own command
    spec = provisioner.kernelspec(argv, f"codeml-repro sandbox: {sub.slug}", config)
    with tempfile.TemporaryDirectory() as tmp:
        source = provisioner.write_kernelspec(Path(tmp) / name, spec)
        where = KernelSpecManager().install_kernel_spec(
            str(source), kernel_name=name, user=user, prefix=None if user else sys.prefix)
    return name, Path(where)


def uninstall(slug: str) -> Path:
    """Remove the kernelspec ``kernel install`` wrote for ``slug``; return where it was."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name(slug)
    try:
        return Path(KernelSpecManager().remove_kernel_spec(name))
    except (KeyError, NoSuchKernel):
        raise SubmissionInvalid(f"{slug}: no kernel {name} is installed (jupyter kernelspec list)") from None


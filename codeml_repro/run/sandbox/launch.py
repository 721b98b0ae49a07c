"""The one place where the kernel's command and environment are assembled.

The runner never starts a kernel from a kernelspec on the host: :func:`build_launch`
builds the whole command (cgroup join, bwrap prefix from :mod:`.bwrap`, the
scratch tmpfs set-up, the privilege drop, rlimits, then the kernel) and
:func:`kernel_env` the kernel's whole environment (an allow-list, never the
runner's secrets). Whatever else must run inside the sandbox before the kernel,
or reach the kernel's environment, is added here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.sandbox import bwrap, privileges, scratchfs
from codeml_repro.run.sandbox.bwrap import SandboxChoice, bwrap_argv, python_paths
from codeml_repro.run.sandbox.cgroups import RunCgroup, pids_in_force
from codeml_repro.run.sandbox.rundir import MARKER_VAR, RunDirs
from codeml_repro.run.sandbox.scratchfs import ScratchBudget

# Variables copied from the runner; everything else (tokens, keys) is dropped.
ENV_ALLOW = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
# How every helper command of a run starts Python: isolated (-I: neither the working directory, the
# author's folder, nor PYTHON* variables reach sys.path) and without site (-S). In the author's
# folder ``python -c`` would import a planted ``resource.py`` or ``ctypes.py`` in place of the real
# one, with the sandbox's capabilities or before its limits.
HELPER_PYTHON_FLAGS = ("-I", "-S")
# Starts the kernel like ``python -m ipykernel_launcher``, except that the working directory (the
# author's folder, first on sys.path for ``-m`` and ``-c``) is not searched while ipykernel, IPython
# and zmq are imported: an ``ipykernel_launcher.py`` or ``zmq.py`` beside the notebook never runs in
# their place. IPython puts the folder back (before site-packages) once it runs, so a notebook still
# imports its own helper modules, as in Jupyter.
# Two packages are kept out while ipykernel and IPython are imported, for what a batch run never
# does: debugpy (with pydevd, the debugger a front end attaches) and jedi (with parso, IPython's tab
# completion). Both import them in a try/except and start without them. That was a third of a
# kernel's start-up CPU in an author's environment (1.7 s to 1.1 s, where nothing is byte-compiled:
# benchmarks/bench_kernel_start.py). They are let back in once the kernel is initialised (ipykernel 7
# imports the debugger then, 6 on import), before the first cell: a notebook that imports them gets
# them, as in Jupyter. (``launch_new_instance`` is ``instance``, ``initialize``, ``start``.)
SKIPPED_AT_START = ("debugpy", "jedi")
KERNEL_LAUNCHER = (
    "import sys\n"
    "if sys.path and sys.path[0] in ('', '.'):\n"
    "    del sys.path[0]\n"
    f"skipped = [n for n in {SKIPPED_AT_START!r} if sys.modules.setdefault(n, None) is None]\n"
    "from ipykernel import kernelapp\n"
    "app = kernelapp.IPKernelApp.instance()\n"
    "app.initialize()\n"
    "for name in skipped:\n"
    "    if sys.modules.get(name, 0) is None:\n"
    "        del sys.modules[name]\n"
    "app.start()\n"
)
# Applies rlimits, then replaces itself with the kernel (argv: AS CPU FSIZE NPROC CORE -- cmd...).
_LIMITER = (
    "import os, resource, sys\n"
    "names = ('AS', 'CPU', 'FSIZE', 'NPROC', 'CORE')\n"
    "for name, value in zip(names, sys.argv[1:6]):\n"
    "    if int(value) >= 0:\n"
    "        resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (int(value), int(value)))\n"
    "os.execv(sys.argv[7], sys.argv[7:])\n"
)
# Outside the sandbox: joins the run's cgroups (argv: cgroup.procs... -- cmd...), then execs the rest.
_JOIN_CGROUP = (
    "import os, sys\n"
    "end = sys.argv.index('--')\n"
    "for procs in sys.argv[1:end]:\n"
    "    with open(procs, 'w') as f:\n"
    "        f.write(str(os.getpid()))\n"
    "os.execv(sys.argv[end + 1], sys.argv[end + 1:])\n"
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (a negative value leaves that limit unset)."""

    memory_bytes: int
    cpu_seconds: int
    max_processes: int
    max_file_bytes: int
    scratch_bytes: int = -1
    """Bytes a notebook may add to its run folder (a tmpfs, see :mod:`.scratchfs`); -1 when the
    sandbox cannot make that tmpfs (or there is no sandbox): the folder is then the host's."""
    scratch_files: int = -1
    address_space: bool = True
    """Cap each process's address space at ``memory_bytes`` (RLIMIT_AS). Off where a cgroup
    bounds the whole run's memory, and for GPUs: a cap on what a process *reserves* breaks
    programs that reserve far more than they touch (thread stacks, arenas, CUDA), while the
    budget is the run's resident memory, tmpfs pages included."""

    @classmethod
    def from_policy(cls, policy: RunPolicy) -> Limits:
        return cls(
            policy.memory_bytes, policy.cpu_seconds, policy.max_processes, policy.max_file_bytes,
            policy.scratch_bytes, policy.scratch_files,
        )

    @property
    def scratch(self) -> ScratchBudget | None:
        """The run folder's disk budget, when in force."""
        if self.scratch_bytes < 0 or self.scratch_files < 0:
            return None
        return ScratchBudget(self.scratch_bytes, self.scratch_files)


@dataclass(frozen=True)
class KernelLaunch:
    """Everything needed to start the kernel: command, environment, cwd."""

    argv: list[str]  # contains the "{connection_file}" placeholder
    env: dict[str, str]
    cwd: str


def limiter_argv(python: str, limits: Limits, *, processes: bool) -> list[str]:
    """A prefix that sets rlimits, then execs the command after it."""
    values = [
        limits.memory_bytes if limits.address_space else -1,
        limits.cpu_seconds,
        limits.max_file_bytes,
        limits.max_processes if processes else -1,
        0,  # no core dumps
    ]
    return [python, *HELPER_PYTHON_FLAGS, "-c", _LIMITER, *(str(v) for v in values), "--"]


def kernel_env(dirs: RunDirs, python: str, marker: str, *, sandboxed: bool) -> dict[str, str]:
    """The kernel's whole environment: an allow-list, never the runner's secrets."""
    home = str(bwrap.HOME) if sandboxed else str(dirs.home)
    env = {name: os.environ[name] for name in ENV_ALLOW if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "PATH": os.pathsep.join([str(Path(python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": home,
            "TMPDIR": "/tmp" if sandboxed else str(dirs.home),
            "IPYTHONDIR": f"{home}/.ipython",
            "MPLBACKEND": "Agg",
            "PYTHONPATH": str(dirs.shim),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            MARKER_VAR: marker,
        }
    )
    return env


def _join_argv(cgroup: RunCgroup | None) -> list[str]:
    """A prefix that moves the launched process into the run's cgroups, then execs the rest."""
    if cgroup is None:
        return []
    procs = [str(p) for p in cgroup.procs_files()]
    return [sys.executable, *HELPER_PYTHON_FLAGS, "-c", _JOIN_CGROUP, *procs, "--"]


def inside_path(python: str) -> str:
    """``python`` as the sandbox sees it: its folder with every symlink resolved, its own name kept.

    The sandbox binds each folder a run reads at its resolved place, under a fresh /tmp and hidden
    homes: a cache reached through a symlink (``~/.cache`` -> ``/data/...``, or an environment
    linked into a cache under /tmp) is not at its host path inside. The interpreter's own symlink is
    kept, since a venv's ``bin/python`` finds its ``pyvenv.cfg`` from the name it is started by.
    """
    path = Path(python)
    return str(path.parent.resolve() / path.name)


def build_launch(
    choice: SandboxChoice,
    dirs: RunDirs,
    python: str,
    limits: Limits,
    marker: str,
    *,
    hide: Iterable[Path] = (),
    cgroup: RunCgroup | None = None,
    mounts: Sequence[tuple[Path, Path]] = (),
    extra_env: Mapping[str, str] | None = None,
    devices: Sequence[str] = (),
    uid: int = privileges.SANDBOX_UID,
    kernel_argv: Sequence[str] = (),
    readable: Sequence[Path] = (),
    inside: Sequence[str] = (),
    share_net: bool = False,
) -> KernelLaunch:
    """The full kernel command for this run (``mounts``: read-only inputs; ``extra_env``: variables
    that point libraries at them; ``uid``: the kernel's on the host, as root; ``kernel_argv``: a
    configured kernel for another language, with the folders it reads in ``readable``; ``inside``:
    a prefix run in the sandbox as the kernel's user before its limits, the download proxy of
    :mod:`.downloads`; ``share_net``: see :func:`.bwrap.bwrap_argv`)."""
    sandboxed = choice.kind == "bwrap"
    env = {**kernel_env(dirs, python, marker, sandboxed=sandboxed), **(extra_env or {})}
    kernel = list(kernel_argv) or [python, "-c", KERNEL_LAUNCHER, "-f", "{connection_file}"]
    # RLIMIT_NPROC counts every process of the uid on the host: only when no pids cgroup caps the run
    limited = [*limiter_argv(python, limits, processes=sandboxed and not pids_in_force(cgroup)), *kernel]
    join = _join_argv(cgroup)
    if not sandboxed:  # the cgroup still finds (and ends) every process of the run
        return KernelLaunch(argv=[*join, *limited], env=env, cwd=str(dirs.work))
    limited = [*inside, *limited]  # unlimited itself, in the run's cgroup
    if privileges.privileged():  # root: the kernel runs as nobody on the host too
        limited = [*privileges.drop_argv(privileges.find_setpriv() or "setpriv", uid), *limited]
    budget = limits.scratch
    if budget is not None:  # first of all, with the capabilities that setpriv (or itself) drops
        inputs = (t for _s, t in mounts)
        limited = [*scratchfs.inside_argv(python, dirs.work, budget, inputs, uid), *limited]
    memory, reads = limits.memory_bytes, [*python_paths(python), *readable]
    scratch = budget is not None
    prefix = bwrap_argv(choice, dirs, env, reads, hide, mounts, devices, memory, scratch, share_net)
    prefix = [*join, *prefix]
    return KernelLaunch(argv=[*prefix, *limited], env=env, cwd=str(dirs.work))

"""How the kernel process is started: inside ``bwrap``, or plainly, with limits.

The runner never starts a kernel from a kernelspec on the host: it builds the
whole command here and hands it to :class:`SandboxKernelManager` through
traitlets config. Inside the sandbox the kernel has no network, a scrubbed
environment, a read-only host (with the home directory, the project and
``/run`` hidden), a writable copy of the submission, its own PID namespace
(so nothing it starts outlives the run) and rlimits on memory, CPU time,
processes and file size.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, DottedObjectName, Int, List, Type, Unicode, default

from codeml_repro.model.errors import SandboxUnavailable
from codeml_repro.model.policy import RunPolicy, SandboxMode
from codeml_repro.run.kernel import privileges, scratchfs
from codeml_repro.run.kernel.cgroups import RunCgroup
from codeml_repro.run.kernel.channels import CappedKernelClient, capped_context
from codeml_repro.run.kernel.scratch import MARKER_VAR, RunDirs
from codeml_repro.run.kernel.scratchfs import ScratchBudget

SandboxKind = Literal["bwrap", "off"]

INSTALL_HINT = "install it with `apt-get install bubblewrap`"
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
KERNEL_LAUNCHER = (
    "import sys\n"
    "if sys.path and sys.path[0] in ('', '.'):\n"
    "    del sys.path[0]\n"
    "from ipykernel import kernelapp\n"
    "kernelapp.launch_new_instance()\n"
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
class SandboxChoice:
    """Which sandbox a run uses, and why (warnings are shown to the user)."""

    kind: SandboxKind
    bwrap: str | None = None
    version: str | None = None
    warnings: tuple[str, ...] = ()
    scratch: bool = False  # the run folder can be a budgeted tmpfs (see :mod:`.scratchfs`)


@dataclass(frozen=True)
class KernelLaunch:
    """Everything needed to start the kernel: command, environment, cwd."""

    argv: list[str]  # contains the "{connection_file}" placeholder
    env: dict[str, str]
    cwd: str


def find_bwrap() -> str | None:
    """``$CODEML_BWRAP`` if set (empty: pretend it is missing), else ``bwrap`` on PATH."""
    override = os.environ.get("CODEML_BWRAP")
    if override is not None:
        return override or None
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=8)
def probe_bwrap(bwrap: str) -> tuple[bool, str]:
    """Start a trivial sandbox once per process: (works, version or error).

    The probe uses the launch's own isolation flags and mounts (proc, dev, tmpfs, binds), so a
    host that refuses one of them (e.g. mounting proc) fails here, not in every notebook's run.
    """
    drop: list[str] = []
    if privileges.privileged():
        setpriv = privileges.find_setpriv()
        if setpriv is None:
            return False, "setpriv (util-linux) not found; as root it drops the kernel's privileges"
        drop = privileges.drop_argv(setpriv)
    with tempfile.TemporaryDirectory(prefix="codeml-probe-") as scratch:
        argv = [bwrap, *_isolation_args(), *_mount_args(_hidden_dirs(()))]
        argv += ["--bind", scratch, scratch, *_home_args(scratch), "--", *drop, "/bin/true"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
    if proc.returncode != 0:
        lines = (proc.stderr or f"exit code {proc.returncode}").strip().splitlines()
        return False, lines[0] if lines else f"exit code {proc.returncode}"
    return True, version.stdout.strip().removeprefix("bubblewrap ")


def choose_sandbox(mode: SandboxMode) -> SandboxChoice:
    """Resolve the policy's mode; raise :class:`SandboxUnavailable` when required."""
    if mode == "off":
        return SandboxChoice("off")
    bwrap = find_bwrap()
    if bwrap is None:
        problem = "bwrap not found"
    else:
        works, detail = probe_bwrap(bwrap)
        if works:
            refused = probe_scratch(bwrap)
            notes = () if refused is None else (f"the run folder's disk budget is not in force: {refused}",)
            return SandboxChoice("bwrap", bwrap, detail, notes, scratch=refused is None)
        problem = f"bwrap cannot start a sandbox: {detail}"
    if mode == "required":
        raise SandboxUnavailable(f"sandbox required but {problem}; {INSTALL_HINT} (or pass --sandbox auto)")
    return SandboxChoice("off", warnings=(f"sandbox unavailable ({problem}), running without isolation",))


def probe_scratch(bwrap: str) -> str | None:
    """Whether this bwrap lets the run folder become a budgeted tmpfs: None, or why not."""
    drop = privileges.drop_argv(privileges.find_setpriv() or "setpriv") if privileges.privileged() else []
    base = [bwrap, *_isolation_args(), *_mount_args(_hidden_dirs(()))]
    for path in sorted({p.resolve() for p in python_paths(sys.executable) if p.exists()}, key=_depth):
        base += ["--ro-bind", str(path), str(path)]
    return scratchfs.probe(tuple(base), sys.executable, tuple(drop))


def _isolation_args() -> list[str]:
    return privileges.namespace_args()


def _mount_args(hidden: Iterable[Path], tmpfs_bytes: int = -1) -> list[str]:
    """The host read-only, fresh /dev, /proc, /tmp and /dev/shm, ``hidden`` dirs emptied.

    Each tmpfs holds at most ``tmpfs_bytes`` (the run's memory budget: tmpfs pages are memory);
    the cgroup, where there is one, bounds all of them together.
    """
    size = ["--size", str(tmpfs_bytes)] if tmpfs_bytes > 0 else []
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "1777", *size, "--tmpfs", "/tmp", "--perms", "1777", *size, "--tmpfs", "/dev/shm"]
    for path in hidden:
        args += [*size, "--tmpfs", str(path)]
    return args


def _home_args(cwd: str) -> list[str]:
    return ["--perms", "0777", "--dir", "/tmp/home", "--chdir", cwd, "--clearenv"]


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
    home = "/tmp/home" if sandboxed else str(dirs.home)
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


def _hidden_dirs(extra: Iterable[Path]) -> list[Path]:
    """Host directories replaced by an empty tmpfs: homes, the project, sockets in /run."""
    keep = {Path("/"), Path("/usr"), Path("/bin"), Path("/lib"), Path("/etc"), Path("/tmp")}
    candidates = [Path.home(), Path("/root"), Path("/run"), Path("/var/run"), *extra]
    out: list[Path] = []
    for path in candidates:
        try:
            real = path.resolve()
        except OSError:
            continue
        if (
            real.is_dir()
            and real not in keep
            and real not in out
            and not any(real in k.parents for k in keep)
        ):
            out.append(real)
    return out


def data_mount_args(mounts: Sequence[tuple[Path, Path]]) -> list[tuple[str, Path, Path]]:
    """Declared inputs as (flag, source, target), a folder before what is mounted inside it."""
    return [("--ro-bind", s, t) for s, t in sorted(mounts, key=lambda m: len(m[1].parts))]


def _depth(path: Path) -> int:
    return len(path.parts)


def _parents_args(dest: Path, tmpfs: list[Path], made: set[Path]) -> list[str]:
    """``--dir`` (0755) for each parent of a bind inside a tmpfs, which bwrap would make 0700: a
    kernel that is not root (see :mod:`.privileges`) must be able to walk down to the bind."""
    args: list[str] = []
    for parent in reversed(dest.parents):
        inside = any(t != parent and t in parent.parents for t in tmpfs)
        if inside and parent not in made:
            made.add(parent)
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def bwrap_argv(
    choice: SandboxChoice,
    dirs: RunDirs,
    env: dict[str, str],
    readable: Sequence[Path],
    hide: Iterable[Path],
    mounts: Sequence[tuple[Path, Path]] = (),
    devices: Sequence[str] = (),
    tmpfs_bytes: int = -1,
    scratch: bool = False,
) -> list[str]:
    """The ``bwrap`` prefix: isolation, mounts (order matters), ``devices`` (GPU binds), environment.

    With ``scratch``, the host's run folder is only read (the setup step copies it into the
    budgeted tmpfs, with the capabilities it needs for that)."""
    assert choice.bwrap is not None
    hidden = _hidden_dirs(hide)
    caps = scratchfs.cap_args() if scratch else []
    args = [choice.bwrap, *_isolation_args(), *caps, *_mount_args(hidden, tmpfs_bytes)]
    readable_dirs = sorted({p.resolve() for p in readable if p.exists()}, key=_depth)
    binds = [("--ro-bind", p, p) for p in readable_dirs]
    work_flag = "--ro-bind" if scratch else "--bind"
    binds += [("--ro-bind", dirs.shim, dirs.shim), (work_flag, dirs.work, dirs.work)]
    binds += [("--bind", dirs.conn, dirs.conn), *data_mount_args(mounts)]
    made: set[Path] = set()
    for flag, source, target in binds:
        args += _parents_args(target, [Path("/tmp"), Path("/dev/shm"), *hidden], made)
        args += [flag, str(source), str(target)]
    args += devices  # after --dev /dev: bwrap's fresh /dev has no GPU node
    args += _home_args(str(dirs.work))
    for name, value in sorted(env.items()):
        args += ["--setenv", name, value]
    return [*args, "--"]


def python_paths(python: str) -> list[Path]:
    """Directories a Python interpreter needs to run (to re-expose under hidden dirs)."""
    exe = Path(python)
    paths = [exe.parent.parent, exe.resolve().parent.parent]
    if Path(python).resolve() == Path(sys.executable).resolve():
        paths += [Path(sys.prefix), Path(sys.base_prefix), Path(site.getusersitepackages())]
        paths += [Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return paths


def _join_argv(cgroup: RunCgroup | None) -> list[str]:
    """A prefix that moves the launched process into the run's cgroups, then execs the rest."""
    if cgroup is None:
        return []
    procs = [str(p) for p in cgroup.procs_files()]
    return [sys.executable, *HELPER_PYTHON_FLAGS, "-c", _JOIN_CGROUP, *procs, "--"]


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
) -> KernelLaunch:
    """The full kernel command for this run (``mounts``: read-only inputs; ``extra_env``: variables
    that point libraries at them; ``uid``: the kernel's on the host, as root; ``kernel_argv``: a
    configured kernel for another language, with the folders it reads in ``readable``)."""
    sandboxed = choice.kind == "bwrap"
    env = {**kernel_env(dirs, python, marker, sandboxed=sandboxed), **(extra_env or {})}
    kernel = list(kernel_argv) or [python, "-c", KERNEL_LAUNCHER, "-f", "{connection_file}"]
    # RLIMIT_NPROC counts every process of the uid on the host: only when no pids cgroup caps the run
    capped = cgroup is not None and "pids" in cgroup.in_force
    limited = [*limiter_argv(python, limits, processes=sandboxed and not capped), *kernel]
    join = _join_argv(cgroup)
    if not sandboxed:  # the cgroup still finds (and ends) every process of the run
        return KernelLaunch(argv=[*join, *limited], env=env, cwd=str(dirs.work))
    if privileges.privileged():  # root: the kernel runs as nobody on the host too
        limited = [*privileges.drop_argv(privileges.find_setpriv() or "setpriv", uid), *limited]
    budget = limits.scratch
    if budget is not None:  # first of all, with the capabilities that setpriv (or itself) drops
        inputs = (t for _s, t in mounts)
        limited = [*scratchfs.inside_argv(python, dirs.work, budget, inputs, uid), *limited]
    memory, reads = limits.memory_bytes, [*python_paths(python), *readable]
    prefix = bwrap_argv(choice, dirs, env, reads, hide, mounts, devices, memory, budget is not None)
    prefix = [*join, *prefix]
    return KernelLaunch(argv=[*prefix, *limited], env=env, cwd=str(dirs.work))


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

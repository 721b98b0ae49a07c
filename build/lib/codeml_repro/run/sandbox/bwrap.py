"""The ``bwrap`` arguments that isolate a kernel, and whether this host's bwrap can apply them.

Inside the sandbox the kernel has no network, a read-only host (with the home
directory, the project and ``/run`` hidden), a writable copy of the submission
and its own PID namespace (so nothing it starts outlives the run). Which
command runs inside, with which environment and limits, is :mod:`.launch`'s
business; this module only knows bwrap.
"""

from __future__ import annotations

import functools
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codeml_repro.model.errors import SandboxUnavailable
from codeml_repro.model.policy import SandboxMode
from codeml_repro.run.sandbox import privileges, scratchfs
from codeml_repro.run.sandbox.rundir import RunDirs

SandboxKind = Literal["bwrap", "off"]

HOME = Path("/tmp/home")  # the kernel's home in the sandbox
INSTALL_HINT = "install it with `apt-get install bubblewrap`"


@dataclass(frozen=True)
class SandboxChoice:
    """Which sandbox a run uses, and why (warnings are shown to the user)."""

    kind: SandboxKind
    bwrap: str | None = None
    version: str | None = None
    warnings: tuple[str, ...] = ()
    scratch: bool = False  # the run folder can be a budgeted tmpfs (see :mod:`.scratchfs`)


def find_bwrap(override: str | None = None) -> str | None:
    """``override`` (``RunPolicy.bwrap``, from ``CODEML_BWRAP``) if set (empty: pretend it is
    missing), else ``bwrap`` on PATH."""
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


def choose_sandbox(mode: SandboxMode, program: str | None = None) -> SandboxChoice:
    """Resolve the policy's mode (``program``: its ``bwrap``); raise :class:`SandboxUnavailable`
    when required."""
    if mode == "off":
        return SandboxChoice("off")
    bwrap = find_bwrap(program)
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
    return ["--perms", "0777", "--dir", str(HOME), "--chdir", cwd, "--clearenv"]


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
    kernel that is not root (see :mod:`.privileges`) must be able to walk down to the bind; under
    its home (inputs placed in a library's cache) 0777, as the home itself, so it may add files."""
    args: list[str] = []
    for parent in reversed(dest.parents):
        inside = any(t != parent and t in parent.parents for t in tmpfs)
        if inside and parent not in made:
            made.add(parent)
            args += ["--perms", "0777" if HOME in parent.parents else "0755", "--dir", str(parent)]
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
    share_net: bool = False,
) -> list[str]:
    """The ``bwrap`` prefix: isolation, mounts (order matters), ``devices`` (GPU binds), environment.

    With ``scratch``, the host's run folder is only read (the setup step copies it into the
    budgeted tmpfs, with the capabilities it needs for that); ``share_net``: the host's network
    (only ``check --record-downloads``, see :mod:`.recorder`)."""
    assert choice.bwrap is not None
    hidden = _hidden_dirs(hide)
    caps = scratchfs.cap_args() if scratch else []
    isolation = _isolation_args()
    if share_net:
        isolation = [arg for arg in isolation if arg != "--unshare-net"] + ["--share-net"]
    args = [choice.bwrap, *isolation, *caps, *_mount_args(hidden, tmpfs_bytes)]
    args += ["--perms", "0777", "--dir", str(HOME)]  # before inputs placed under it
    readable_dirs = sorted({p.resolve() for p in readable if p.exists()}, key=_depth)
    binds = [("--ro-bind", p, p) for p in readable_dirs]
    work_flag = "--ro-bind" if scratch else "--bind"
    binds += [("--ro-bind", dirs.shim, dirs.shim), (work_flag, dirs.work, dirs.work)]
    binds += [("--bind", dirs.conn, dirs.conn), *data_mount_args(mounts)]
    made: set[Path] = {HOME}
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



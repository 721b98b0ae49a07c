"""What one run owns on the host, and how it is released, even after a killed runner.

Every run gets one temporary directory (``codeml-run-*``) holding a copy of
the submission, the kernel's connection files, the import shim and the
kernel's log, plus ``owner.json`` naming the runner process that made it.
Every process of the run carries the run's marker in its environment, so it
can be found and killed; as root, a pids cgroup caps the number of processes.
The next runner removes what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.submission import Submission
from codeml_repro.run.kernel import cgroups

RECORD_MODULE = Path(__file__).parents[2] / "record.py"  # codeml_repro/record.py, dependency-free

MARKER_VAR = "CODEML_RUN_ID"
RUN_DIR_PREFIX = "codeml-run-"
OWNER_FILE = "owner.json"  # in a run dir: who made it, to clean up after a killed runner
_SITECUSTOMIZE = (
    '"""codeml-repro: a crash prints "Fatal Python error" to the kernel log."""\n'
    "import faulthandler, os\n"
    "try:\n"
    "    faulthandler.enable(open(os.dup(2), 'w'))\n"
    "except (OSError, ValueError):\n"
    "    pass\n"
)


@dataclass(frozen=True)
class RunDirs:
    """Host directories of one run; all live under one temporary ``root``."""

    root: Path
    work: Path  # writable copy of the submission; the kernel's cwd
    conn: Path  # connection file and IPC sockets
    shim: Path  # holds only codeml_repro/{__init__,record}.py and sitecustomize.py
    home: Path  # HOME of an unsandboxed kernel


def write_shim(shim: Path) -> None:
    """A package that only offers ``record``: importable in any kernel environment; and a
    ``sitecustomize`` sending crash reports (faulthandler) to the kernel's log, which ipykernel's
    capture of file descriptor 2 would otherwise swallow."""
    pkg = shim / "codeml_repro"
    pkg.mkdir(parents=True)
    shutil.copyfile(RECORD_MODULE, pkg / "record.py")
    (pkg / "__init__.py").write_text(
        '"""codeml_repro inside an artifact kernel: only record()."""\n'
        "from codeml_repro.record import record\n\n__all__ = ['record']\n"
    )
    (shim / "sitecustomize.py").write_text(_SITECUSTOMIZE)


def make_dirs(sub: Submission, marker: str) -> RunDirs:
    """A new run dir with its owner noted first, a copy of the submission and the shim."""
    root = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
    record_owner(root, marker)  # first: a killed runner's dir is found and removed
    dirs = RunDirs(root, root / "work", root / "conn", root / "shim", root / "home")
    try:
        shutil.copytree(sub.folder, dirs.work, symlinks=True)
        for path in (dirs.conn, dirs.home):
            path.mkdir()
        write_shim(dirs.shim)
    except BaseException:
        remove_tree(root)
        raise
    return dirs


def unlock_and_retry(func: Any, path: str, _exc: Any) -> None:
    """``rmtree``'s error handler: make ``path`` and its folder writable, then try again.

    A notebook may plant links anywhere in its scratch copy: ``chmod`` follows links, so a link is
    never chmodded (it is removed as the link it is; what it points to is left as it was).
    """
    with contextlib.suppress(OSError):
        for target in (os.path.dirname(path), path):
            if not os.path.islink(target):
                os.chmod(target, 0o700)
        func(path)


def remove_tree(root: Path) -> None:
    """Remove a run's directory even if the notebook made parts of it read-only."""
    shutil.rmtree(root, onerror=unlock_and_retry)


def kill_group(pgid: int | None) -> None:
    """SIGKILL a process group (the kernel, or bwrap and through it the namespace)."""
    if pgid is None or pgid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _marked(marker: str) -> list[Any]:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_VAR) == marker:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def sweep(marker: str, *, wait_s: float = 3.0) -> int:
    """Kill every process that carries this run's marker; return how many were found."""
    import psutil

    found = _marked(marker)
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(found, timeout=wait_s)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and _marked(marker):
        time.sleep(0.05)  # forked late, or still being torn down with its namespace
        for proc in _marked(marker):
            with contextlib.suppress(psutil.Error):
                proc.kill()
    return len(found)


def record_owner(root: Path, marker: str, cgroup_dirs: Iterable[Path] = ()) -> None:
    """Note in a run dir which process owns it (pid and start time), its marker and cgroups."""
    import psutil

    me = psutil.Process()
    groups = [str(d) for d in cgroup_dirs]
    owner = {"pid": me.pid, "started": me.create_time(), "marker": marker, "cgroup": groups}
    tmp = root / f".{OWNER_FILE}.tmp"
    tmp.write_text(json.dumps(owner))
    os.replace(tmp, root / OWNER_FILE)


def _owner_gone(owner: dict[str, Any]) -> bool:
    """True when the recorded process has exited (a reused pid has another start time)."""
    import psutil

    try:
        proc = psutil.Process(owner["pid"])
        zombie: bool = proc.status() == psutil.STATUS_ZOMBIE
        return zombie or abs(proc.create_time() - owner["started"]) > 1.0
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False  # not ours to judge (e.g. access denied): leave it


def _read_owner(root: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((root / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None  # not made by this version, or being created right now: leave it
    if not isinstance(owner, dict):
        return None
    valid = isinstance(owner.get("pid"), int) and isinstance(owner.get("marker"), str)
    return owner if valid and isinstance(owner.get("started"), (int, float)) else None


def clean_stale_runs(base: Path | None = None) -> list[Path]:
    """Remove what killed runners left: run dirs whose owner is gone, with their processes and cgroup."""
    removed = []
    for root in sorted((base or Path(tempfile.gettempdir())).glob(f"{RUN_DIR_PREFIX}*")):
        owner = _read_owner(root)
        if owner is None or not _owner_gone(owner):
            continue
        sweep(owner["marker"], wait_s=1.0)
        groups = owner.get("cgroup")
        for group in [groups] if isinstance(groups, str) else groups if isinstance(groups, list) else []:
            if isinstance(group, str) and group.startswith(str(cgroups.ROOT)):
                stale = cgroups.RunCgroup(0, (Path(group),), (), 0)
                cgroups.kill_all(stale, wait_s=1.0)
                cgroups.remove_dir(Path(group))
        with contextlib.suppress(OSError):
            remove_tree(root)
        removed.append(root)
    return removed


@functools.cache
def clean_stale_once() -> None:
    """Once per process: remove the run dirs (and cgroups, processes) of runners killed earlier."""
    clean_stale_runs()

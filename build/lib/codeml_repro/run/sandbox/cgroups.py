"""One control group per run: the memory, CPU and process budget of the whole run.

rlimits bind one process each; a cgroup binds the run: every process the
kernel starts (forked, ``setsid``, environment cleared) and every tmpfs page
they write is charged to it. Memory: cgroup v2 ``memory.max`` (swap off), or v1
``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap is
accounted). CPU: each run gets its own group with the default weight (v2
``cpu.weight``, v1 ``cpu.shares``), so eight busy processes of one run get the
same share of the CPU as one process of its neighbour. Processes: ``pids.max``.

On v2 the group is made at the root of the hierarchy (as root), or inside the
runner's own cgroup when it was delegated to the runner (see
:mod:`.delegation`). A limit is recorded as in force only when its file was
written and reads back the value. Hosts that do not allow it (no root, no
delegation) get no group;
the result says so. The group also finds every process of the run at the end,
whatever the process did to its session or environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.run.sandbox import delegation
from codeml_repro.run.sandbox.delegation import read_control

ROOT = Path("/sys/fs/cgroup")
CPU_WEIGHT_V2 = "100"
CPU_SHARES_V1 = "1024"


@dataclass(frozen=True)
class RunCgroup:
    """A run's groups (one per v1 hierarchy, or one v2 group) and the limits really in force."""

    version: int
    dirs: tuple[Path, ...]
    in_force: tuple[str, ...]  # among "memory", "cpu", "pids"
    memory_bytes: int
    delegated: bool = False  # v2: made in the runner's own (delegated) cgroup, not at the root

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def pids(self) -> set[int]:
        """Every process in the run's groups now."""
        found: set[int] = set()
        for procs in self.procs_files():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(line) for line in procs.read_text().split())
        return found

    def oom_killed(self) -> bool:
        """The memory budget killed a process of the run."""
        for folder in self.dirs:
            events = read_control(folder / "memory.events") or read_control(folder / "memory.oom_control")
            for line in events.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                    return True
            failcnt = read_control(folder / "memory.failcnt").strip()
            if failcnt.isdigit() and int(failcnt) > 0 and "memory" in self.in_force:
                return True
        return False

    def describe(self) -> dict[str, Any]:
        """What the result records: the version and each limit's state."""
        where = {"delegated": self.delegated} if self.version == 2 else {}
        limits = {c: c in self.in_force for c in ("memory", "cpu", "pids")}
        return {"version": self.version, **where, **limits}


def _set(path: Path, value: str) -> bool:
    """Write a control file and read it back; True only when the value holds."""
    try:
        path.write_text(value)
    except OSError:
        return False
    return read_control(path).strip() == value


def _v1_limits(kind: str, group: Path, memory: int, max_pids: int) -> list[str]:
    if kind == "memory":
        if not _set(group / "memory.limit_in_bytes", str(memory)):
            return []
        if (group / "memory.memsw.limit_in_bytes").exists():  # swap counted where the host accounts it
            _set(group / "memory.memsw.limit_in_bytes", str(memory))
        return ["memory"]
    if kind == "cpu":
        return ["cpu"] if _set(group / "cpu.shares", CPU_SHARES_V1) else []
    return ["pids"] if _set(group / "pids.max", str(max_pids)) else []


def _create_v1(name: str, memory: int, max_pids: int) -> RunCgroup | None:
    dirs, in_force = [], []
    for kind in ("memory", "cpu", "pids"):
        base = ROOT / kind
        if not (base / "cgroup.procs").exists():
            continue
        group = base / name
        try:
            group.mkdir()
        except OSError:
            continue
        dirs.append(group)
        in_force += _v1_limits(kind, group, memory, max_pids)
    if not dirs:
        return None
    return RunCgroup(1, tuple(dirs), tuple(in_force), memory)


def _v2_group(group: Path, memory: int, max_pids: int, delegated: bool) -> RunCgroup:
    """Limits of a new v2 group; only controllers its parent hands down can be in force."""
    available = read_control(group / "cgroup.controllers").split()
    in_force = []
    if "memory" in available and _set(group / "memory.max", str(memory)):
        _set(group / "memory.swap.max", "0")
        in_force.append("memory")
    if "cpu" in available and _set(group / "cpu.weight", CPU_WEIGHT_V2):
        in_force.append("cpu")
    if "pids" in available and _set(group / "pids.max", str(max_pids)):
        in_force.append("pids")
    return RunCgroup(2, (group,), tuple(in_force), memory, delegated)


def create_v2(root: Path, name: str, memory: int, max_pids: int) -> RunCgroup | None:
    """The run's v2 group in the best place this runner may write (see :mod:`.delegation`): the
    first with every limit in force, else the one with the most."""
    made: list[RunCgroup] = []
    for base, delegated in delegation.bases(root, read_control(Path("/proc/self/cgroup"))):
        delegation.enable(base, delegated=delegated)
        try:
            (base / name).mkdir()
        except OSError:
            continue
        made.append(_v2_group(base / name, memory, max_pids, delegated))
        if len(made[-1].in_force) == len(delegation.CONTROLLERS):
            break
    if not made:
        return None
    best = max(made, key=lambda group: len(group.in_force))  # the first of equals
    for group in made:
        if group is not best:
            remove_dir(group.dirs[0])
    return best


def create(run_id: str, memory_bytes: int, max_pids: int) -> RunCgroup | None:
    """The run's cgroup, or None when this host does not let the runner make one."""
    name = f"codeml-{run_id}"
    memory_bytes = max(memory_bytes, 0) // 4096 * 4096  # the kernel keeps whole pages
    if memory_bytes == 0 or max_pids < 1:
        return None  # no budget to enforce (a negative limit means unset)
    if (ROOT / "cgroup.subtree_control").exists():
        return create_v2(ROOT, name, memory_bytes, max_pids)
    return _create_v1(name, memory_bytes, max_pids)


def kill_all(group: RunCgroup | None, wait_s: float = 3.0) -> None:
    """SIGKILL every process in the run's groups until none is left (or ``wait_s`` passed)."""
    if group is None:
        return
    deadline = time.monotonic() + wait_s
    while True:
        pids = group.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not pids or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def remove(group: RunCgroup | None) -> None:
    """Remove the run's groups once their processes are gone (best effort)."""
    if group is None:
        return
    kill_all(group, wait_s=1.0)
    for folder in group.dirs:
        remove_dir(folder)


def remove_dir(folder: Path) -> None:
    """rmdir one cgroup directory, retrying while the kernel releases its last processes."""
    for _ in range(20):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def pids_in_force(group: RunCgroup | None) -> bool:
    """Whether the run's cgroup caps its processes (``pids.max`` holds); otherwise RLIMIT_NPROC of
    the run's own uid is the cap."""
    return group is not None and "pids" in group.in_force


def cgroup_record(group: RunCgroup | None) -> dict[str, Any]:
    """The result's record of the run's cgroup: ``pids_cgroup`` only when ``pids.max`` holds."""
    return {
        "pids_cgroup": pids_in_force(group),
        "cgroup": group.describe() if group is not None else None,
    }

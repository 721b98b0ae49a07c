"""A host uid of its own for each run that no pids cgroup caps, when the runner is root.

Without a pids cgroup, the cap on a run's processes is ``RLIMIT_NPROC``, and the kernel counts
it per *host uid*: every process of that uid, whatever run it belongs to. Were every sandbox
``nobody`` (:data:`~.privileges.SANDBOX_UID`), one run's fork bomb would use up the cap and make
its neighbour's ``fork()`` fail. So a root runner gives each such run a uid of its own from
:data:`RUN_UIDS` (no account has them; ``setpriv`` needs none), held under a file lock for the
run's life: concurrent runs, in this runner's workers or in another runner on the host, never
share one. The run's processes all die with it (its PID namespace, or its cgroup), so the next
run that claims the uid finds none of them.

With a pids cgroup in force the cap is the run's own already, and the sandbox stays ``nobody``.
A runner that is not root cannot change uid: its runs share its uid's cap, and the result says
so (:func:`process_cap_warnings`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeml_repro.run.sandbox import privileges

RUN_UIDS = range(61000, 61064)
"""64 uids under systemd's DynamicUser range (61184-65519), never given to an account here."""


def lock_dir() -> Path:
    """Where the claims are held: one lock file per uid, in a folder only root can write."""
    return Path(tempfile.gettempdir()) / "codeml-repro-uids"


@dataclass
class RunUid:
    """The uid a run's kernel runs as on the host, and how its processes are capped."""

    uid: int
    own: bool
    """The uid is this run's alone (its ``RLIMIT_NPROC`` counts only its processes)."""
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the uid back, after killing whatever process of the run still has it (a uid of
        its own holds nothing else)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            kill_uid(self.uid)
            with contextlib.suppress(OSError):
                os.close(fd)


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is ``uid`` (one of :data:`RUN_UIDS`, held by its run)."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        uids = proc.info["uids"]
        if uids is not None and uid in (uids.real, uids.effective):
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _try_lock(folder: Path, uid: int) -> int | None:
    fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def claim(*, sandboxed: bool, pids_capped: bool) -> RunUid:
    """The uid for a run: its own from :data:`RUN_UIDS` when the runner is root, the run is
    sandboxed and no pids cgroup caps it; else the shared sandbox uid (or the runner's own)."""
    if not sandboxed or not privileges.privileged():
        return RunUid(os.geteuid() if not sandboxed else privileges.SANDBOX_UID, own=False)
    if pids_capped:
        return RunUid(privileges.SANDBOX_UID, own=False)
    folder = lock_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != os.geteuid():
        return RunUid(privileges.SANDBOX_UID, own=False)  # not ours: claim nothing through it
    for uid in RUN_UIDS:
        if _has_account(uid):
            continue
        fd = _try_lock(folder, uid)
        if fd is not None:
            return RunUid(uid, own=True, _fd=fd)
    return RunUid(privileges.SANDBOX_UID, own=False)  # all taken: shared, and the result says so


def process_cap(run_uid: RunUid, *, sandboxed: bool, pids_capped: bool) -> str:
    """What caps the run's processes, as the result records it."""
    if pids_capped:
        return "pids cgroup"
    if not sandboxed:
        return "none"
    if run_uid.own:
        return "RLIMIT_NPROC (the run's own uid)"
    return "RLIMIT_NPROC (a uid shared with other runs)"


def uid_record(run_uid: RunUid | None, *, sandboxed: bool, pids_capped: bool) -> dict[str, Any]:
    """The result's record: the kernel's uid on the host and what caps the run's processes."""
    if run_uid is None:
        return {}
    cap = process_cap(run_uid, sandboxed=sandboxed, pids_capped=pids_capped)
    return {"sandbox_uid": run_uid.uid if sandboxed else None, "processes_capped_by": cap}


def process_cap_warnings(run_uid: RunUid | None, *, sandboxed: bool, pids_capped: bool) -> list[str]:
    """The warning for a run whose process cap other runs share ([] when it is its own)."""
    if run_uid is None or pids_capped or run_uid.own or not sandboxed:
        return []
    return [
        f"no pids cgroup and no uid of its own: this run's process cap (RLIMIT_NPROC) counts every "
        f"process of uid {run_uid.uid} on the host, so another run's processes can make its forks fail"
    ]

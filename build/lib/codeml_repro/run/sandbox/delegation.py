"""Where a cgroup v2 run group may be made: the hierarchy's root, or the runner's delegated cgroup.

As root, the runner makes its groups at the root of the v2 hierarchy, as it
always has. A runner that is not root may still own a subtree: under
``systemd-run --user --scope -p Delegate=yes``, in a container with a delegated
cgroup namespace, or where a CI step hands its cgroup over (``chown``). Its own
cgroup (the ``0::`` line of ``/proc/self/cgroup``) is then writable, and the run
groups are made inside it. v2 lets a cgroup hand controllers to its children
(``cgroup.subtree_control``) only when it holds no process itself (the "no
internal processes" rule, the root excepted), so the runner first moves every
process of its cgroup into a leaf, :data:`LEAF`, beside the run groups. A later
call (another worker of the same runner, already in the leaf) finds the same
base again. The real root of the hierarchy is exempt from that rule: its
processes are never moved.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path

LEAF = "codeml-runner"
"""The leaf the runner's own processes move to, inside a delegated cgroup."""
CONTROLLERS = ("memory", "cpu", "pids")


def own_cgroup(root: Path, proc_cgroup: str) -> Path | None:
    """The v2 cgroup named by ``/proc/self/cgroup``'s text, as a folder under ``root``."""
    for line in proc_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "" and path.startswith("/"):
            parts = [p for p in path.split("/") if p]
            if any(p in (".", "..") for p in parts):
                return None
            return root.joinpath(*parts)
    return None


def writable(group: Path) -> bool:
    """The runner may make groups in ``group`` and move processes and controllers there."""
    files = [group / "cgroup.procs", group / "cgroup.subtree_control"]
    return group.is_dir() and all(os.access(p, os.W_OK) for p in [group, *files])


def bases(root: Path, proc_cgroup: str) -> list[tuple[Path, bool]]:
    """Where to try to make a run group, best first: (folder, delegated).

    The root when the runner may write it: the hierarchy's real root (it has no
    ``cgroup.type``), or a container's cgroup namespace, which is a delegated group;
    then the runner's own cgroup, or the parent of :data:`LEAF` when an earlier call
    already moved the runner there.
    """
    namespace = (root / "cgroup.type").exists()  # the real root has none
    found: list[tuple[Path, bool]] = [(root, namespace)] if writable(root) else []
    own = own_cgroup(root, proc_cgroup)
    if own is not None and own.name == LEAF:
        own = own.parent
    if own is not None and own != root and writable(own):
        found.append((own, True))
    return found


def read_control(path: Path) -> str:
    """A control file's text, or "" where the host refuses or lacks it (an absent controller)."""
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> int:
    """Write a control file: 0, or the errno that refused it."""
    try:
        path.write_text(value)
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def move_into_leaf(base: Path) -> None:
    """Every process of ``base`` into ``base/LEAF``: then ``base`` may hand controllers down."""
    leaf = base / LEAF
    with contextlib.suppress(FileExistsError):
        leaf.mkdir()
    for pid in read_control(base / "cgroup.procs").split():
        _write(leaf / "cgroup.procs", pid)  # one that exits meanwhile is gone anyway


def enable(base: Path, wanted: Iterable[str] = CONTROLLERS, *, delegated: bool) -> set[str]:
    """Hand ``wanted`` controllers (those ``base`` has) to its children; return those enabled.

    In a delegated cgroup that still holds processes the write fails with ``EBUSY``: they are
    moved into the leaf and the write tried again. The root's processes are never moved.
    """
    available = set(read_control(base / "cgroup.controllers").split()) & set(wanted)
    missing = available - set(read_control(base / "cgroup.subtree_control").split())
    if missing:
        change = " ".join(f"+{c}" for c in sorted(missing))
        if _write(base / "cgroup.subtree_control", change) == errno.EBUSY and delegated:
            move_into_leaf(base)
            _write(base / "cgroup.subtree_control", change)
    return available & set(read_control(base / "cgroup.subtree_control").split())

"""A root runner's kernel is not root on the host: the sandbox drops to an unprivileged uid.

When the toolkit runs as root (``scripts/site.sh``, a laptop), ``bwrap
--unshare-user`` maps the sandbox's uid to root on the host: a notebook could
read ``/etc/shadow`` or any 0600 file the bind of ``/`` exposes. Dropping
privileges *before* bwrap (``setpriv bwrap ...``) does not work on hosts where
the interpreter or the environments live under ``/root`` (0700): the
unprivileged bwrap cannot reach them to bind them, and bwrap refuses
``--ro-bind-fd`` from a process whose credentials changed. So, as root, bwrap
runs without a user namespace (it mounts with root's access, and drops every
capability except the two named below), and the first command inside it is
``setpriv``, which sets the real, effective and saved uid and gid to
:data:`SANDBOX_UID`, clears supplementary groups and empties the capability
sets (bounding set included) before the kernel starts. The kernel therefore
runs as ``nobody`` on the host itself: root-only files are unreadable, its
processes are ``nobody``'s. The run's writable directories are handed to that
uid first; nothing is followed through a symbolic link while doing so.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

SANDBOX_UID = 65534
"""``nobody``: has an /etc/passwd entry (libraries that look the user up keep working)."""
_KEEP_CAPS = ("CAP_SETUID", "CAP_SETGID")  # bwrap keeps them for setpriv alone, which drops them


def privileged() -> bool:
    """The runner is root, so the sandbox must drop to :data:`SANDBOX_UID` itself."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def find_setpriv() -> str | None:
    """``setpriv`` (util-linux), which drops the privileges inside the sandbox."""
    return shutil.which("setpriv")


def namespace_args() -> list[str]:
    """bwrap's namespaces and capabilities: a user namespace unless root (see the module doc)."""
    common = ["--die-with-parent", "--new-session"]
    if not privileged():
        uid = ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        return ["--unshare-all", "--unshare-user", *uid, *common]
    # --unshare-all would try a user namespace too: name every other one instead
    spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    caps = [arg for cap in _KEEP_CAPS for arg in ("--cap-add", cap)]
    return [*spaces, *caps, *common]


def drop_argv(setpriv: str, uid: int = SANDBOX_UID) -> list[str]:
    """The prefix, inside the sandbox, that makes the rest run as ``uid`` (root only; a run's own uid
    where no pids cgroup caps it: see :mod:`.runuid`)."""
    return [
        setpriv, "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]


def hand_over(paths: Iterable[Path], uid: int = SANDBOX_UID) -> None:
    """Give the run's writable directories (and all they hold) to the sandbox's ``uid``, as root.

    ``os.lchown`` and a walk that does not follow links: a link in the tree changes itself, never
    what it points to.
    """
    if not privileged():
        return
    for top in paths:
        os.lchown(top, uid, uid)
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), uid, uid)


def make_readable(paths: Iterable[Path]) -> None:
    """Inputs bound read-only into the sandbox (cached data) readable by the sandbox uid, as root.

    Adds read (and, for folders, search) permission for others; links are neither followed nor
    changed. The files are verified public inputs, never secrets.
    """
    if not privileged():
        return
    for top in paths:
        for path in [top, *_tree(top)]:
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
            if mode & extra != extra:
                os.chmod(path, stat.S_IMODE(mode) | extra)


def _tree(top: Path) -> list[Path]:
    if top.is_symlink() or not top.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        found += [Path(dirpath, name) for name in [*dirnames, *filenames]]
    return found


def give_file(path: Path) -> None:
    """A file the runner wrote for the kernel (its connection file): owned like its directory."""
    if not privileged():
        return
    folder = os.stat(path.parent)
    if folder.st_uid != os.geteuid():
        os.lchown(path, folder.st_uid, folder.st_gid)

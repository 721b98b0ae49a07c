"""The folder one run owns on the host, with the ``record()`` shim the kernel imports.

Every run gets one temporary directory (``codeml-run-*``) holding a copy of
the submission, the kernel's connection files, the import shim and the
kernel's log, plus ``owner.json`` naming the runner process that made it, so
that the next runner can remove what a killed one left behind (:mod:`.stale`).
Every process of the run carries the run's marker in its environment, so it
can be found and killed (:mod:`.reaping`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.submission import Submission

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


_IPC_PATH_ROOM = 64
"""Longest base folder for run dirs: the kernel's IPC sockets (``<root>/conn/kernel-ipc-N``) are unix
socket paths, which hold at most 107 bytes; a longer ``$TMPDIR`` fails every kernel start."""


def runs_base() -> Path:
    """Where run dirs are made: the temporary folder, or ``/tmp`` when its path is too long."""
    base = tempfile.gettempdir()
    return Path(base if len(base) <= _IPC_PATH_ROOM else "/tmp")


def make_dirs(sub: Submission, marker: str) -> RunDirs:
    """A new run dir with its owner noted first, a copy of the submission and the shim."""
    root = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX, dir=runs_base()))
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


def record_owner(root: Path, marker: str, cgroup_dirs: Iterable[Path] = ()) -> None:
    """Note in a run dir which process owns it (pid and start time), its marker and cgroups."""
    import psutil

    me = psutil.Process()
    groups = [str(d) for d in cgroup_dirs]
    owner = {"pid": me.pid, "started": me.create_time(), "marker": marker, "cgroup": groups}
    tmp = root / f".{OWNER_FILE}.tmp"
    tmp.write_text(json.dumps(owner))
    os.replace(tmp, root / OWNER_FILE)

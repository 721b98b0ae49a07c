"""The run folder's disk budget: inside the sandbox, a tmpfs of limited size and inodes.

The folder where a notebook runs holds a copy of its submission and whatever it writes.
On the host it is an ordinary folder, bounded only per file (``RLIMIT_FSIZE``); the host
reads nothing back from it after the run (the executed notebook arrives as kernel
messages, the kernel's log lives beside it). So inside the sandbox the folder is replaced
by a tmpfs with ``size=`` and ``nr_inodes=`` (the budget on top of the submission's own
files), holding a copy of the submission and the declared inputs bound where bwrap had
bound them: :mod:`.scratchfs_inside` does it as the first command in the sandbox, with
``CAP_SYS_ADMIN`` in the sandbox's namespaces, and clears it before the kernel starts.
bwrap's own ``--size`` has no inode limit, and bwrap cannot copy a tree.

A notebook past the budget gets ``OSError: [Errno 28] No space left on device``; after
each cell the runner looks at the folder through ``/proc/PID/root`` (the kernel's mount
namespace) and notes when it is full, so the result's message names the budget. Where
the probe finds that the sandbox cannot mount (a host that refuses capabilities in user
namespaces), the run keeps the host folder and the result records no disk budget.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codeml_repro.run.sandbox import privileges, scratchfs_inside

Exhausted = Literal["bytes", "files"]

INSIDE_SOURCE = Path(scratchfs_inside.__file__)
SETUP_ERROR = re.compile("^" + re.escape(scratchfs_inside.FAILURE), re.M)  # in the kernel's log


@dataclass(frozen=True)
class ScratchBudget:
    """What a notebook may add to its run folder: bytes, and files (inodes: folders and links too)."""

    bytes: int
    files: int

    def describe(self) -> str:
        return f"{self.bytes} bytes and {self.files} files"


def cap_args() -> list[str]:
    """bwrap's ``--cap-add`` for the setup step: mounting; as root also copying for the kernel's uid
    (bwrap as root drops every other capability, ``setpriv`` then drops these), else emptying
    the bounding set (the setup drops them all itself)."""
    caps = ["CAP_SYS_ADMIN"]
    caps += ["CAP_CHOWN", "CAP_DAC_OVERRIDE"] if privileges.privileged() else ["CAP_SETPCAP"]
    return [arg for cap in caps for arg in ("--cap-add", cap)]


def inside_argv(python: str, work: Path, budget: ScratchBudget, inputs: Iterable[Path],
                uid: int = privileges.SANDBOX_UID) -> list[str]:
    """The prefix, first inside the sandbox, that makes ``work`` the budgeted tmpfs and execs the
    rest; ``inputs``: where bwrap binds declared inputs, those inside ``work`` are bound again;
    ``uid``: the kernel's, owner of the copies (as root)."""
    uid = uid if privileges.privileged() else -1
    places = [str(p.relative_to(work)) for p in inputs if work in p.parents]
    source = INSIDE_SOURCE.read_text()
    numbers = [str(budget.bytes), str(budget.files), str(uid)]
    return [python, "-I", "-S", "-c", source, str(work), *numbers, *places, "--"]  # not the author's ctypes


@functools.lru_cache(maxsize=8)
def probe(base: tuple[str, ...], python: str, drop: tuple[str, ...]) -> str | None:
    """Run the setup once in a sandbox made by ``base`` (bwrap and its arguments, up to the
    binds): None when it works, else why not (the runs then keep the host folder)."""
    with tempfile.TemporaryDirectory(prefix="codeml-probe-") as scratch:
        work = Path(scratch) / "work"
        work.mkdir()
        (work / "file").write_text("x")
        privileges.hand_over([work])
        setup = inside_argv(python, work, ScratchBudget(4096, 4), ())
        argv = [*base, *cap_args(), "--bind", str(work), str(work), "--chdir", str(work), "--"]
        argv += [*setup, *drop, python, "-S", "-c", "open('file').read()"]  # the kernel's uid reads it
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    if proc.returncode == 0:
        return None
    lines = (proc.stderr or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def exhausted(pids: Iterable[int], work: Path) -> Exhausted | None:
    """Which of the budget ran out in ``work`` as the processes ``pids`` see it (through their
    mount namespace), if one did: no inode left, or no block."""
    with contextlib.suppress(OSError):
        host = os.stat(work).st_dev
        for pid in pids:
            inside = f"/proc/{pid}/root{work}"
            try:
                if os.stat(inside).st_dev == host:
                    continue  # bwrap itself, outside the folder's own mount namespace
                fs = os.statvfs(inside)
            except OSError:
                continue
            if fs.f_favail == 0:
                return "files"
            return "bytes" if fs.f_bavail == 0 else None
    return None


def tree_pids(root: int | None) -> list[int]:
    """``root`` and every process under it, deepest last (the kernel is under bwrap)."""
    import psutil

    if root is None:
        return []
    try:
        parent = psutil.Process(root)
        return [parent.pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.Error:
        return []


class ScratchWatch:
    """Notes whether the run folder's budget was exhausted when a cell ended."""

    def __init__(self, root_pid: Callable[[], int | None], work: Path) -> None:
        self._root_pid = root_pid
        self._work = work
        self.exhausted: Exhausted | None = None

    def look(self) -> None:
        if self.exhausted is None:
            self.exhausted = exhausted(tree_pids(self._root_pid()), self._work)


def note(budget: ScratchBudget, what: Exhausted) -> str:
    """What the result's error says when the notebook ran out of its folder's disk budget."""
    which = "bytes" if what == "bytes" else "files (inodes)"
    return (
        f"; the run folder's disk budget ({budget.describe()} beyond the submission's own) "
        f"ran out of {which}"
    )

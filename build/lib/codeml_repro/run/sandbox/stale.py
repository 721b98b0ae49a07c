"""Clean-up after runners that were killed: their run folders, processes and cgroups.

A run folder's ``owner.json`` (see :mod:`.rundir`) names the process that made
it; once that process is gone, the next runner removes the folder, ends the
processes that carry its marker and empties and removes its cgroups.
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path
from typing import Any

from codeml_repro.run.sandbox import cgroups
from codeml_repro.run.sandbox.reaping import sweep
from codeml_repro.run.sandbox.rundir import OWNER_FILE, RUN_DIR_PREFIX, remove_tree, runs_base


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
    for root in sorted((base or runs_base()).glob(f"{RUN_DIR_PREFIX}*")):
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

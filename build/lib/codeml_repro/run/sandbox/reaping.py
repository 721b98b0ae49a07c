"""Ending every process of a run: its process group, then anything else carrying its marker.

A notebook may leave its session or clear its environment; the run's cgroup
(:mod:`.cgroups`), where there is one, finds those too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

from codeml_repro.run.sandbox.rundir import MARKER_VAR


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

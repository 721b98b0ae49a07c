"""What a run cost: peak memory and CPU time of all its processes, and the time of each cell.

Memory is sampled: a thread walks the kernel's process tree (bwrap, the kernel,
everything it started) a few times a second with psutil and keeps the peak of
the summed resident set size. A cgroup would count exactly, but cgroups are not
always there (v1 here, v2 on GitHub's runners, none on a laptop); sampling
works everywhere, and a 300 MB array held for a cell is not missed. CPU time is
the last user+system time seen for each process, summed. Cell times come from
the ``papermill.duration`` papermill writes into each executed cell.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from codeml_repro.model.result import CellTime, ResourceReport

SAMPLE_S = 0.1


class UsageSampler:
    """Samples the process tree rooted at ``root_pid()`` (None until the kernel is launched)."""

    def __init__(self, root_pid: Callable[[], int | None], interval_s: float = SAMPLE_S) -> None:
        self._root_pid = root_pid
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="codeml-usage", daemon=True)
        self._procs: dict[tuple[int, float], Any] = {}
        self._cpu: dict[tuple[int, float], float] = {}
        self.peak_rss = 0

    def __enter__(self) -> UsageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take a last sample and stop (idempotent)."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5)

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                self.sample()
                return

    def sample(self) -> None:
        """One look at the tree: summed RSS (peak kept) and each process's CPU time."""
        import psutil

        pid = self._root_pid()
        if pid is None:
            return
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in tree:
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    self._cpu[key] = times.user + times.system
            except psutil.Error:
                continue  # it ended between the listing and the look
        self.peak_rss = max(self.peak_rss, total)


def cell_times(nb: Any, author_index: Callable[[Any], int | None]) -> list[CellTime]:
    """Wall time of each executed cell, as papermill noted it, indexed as the author's cells."""
    out = []
    for cell in getattr(nb, "cells", []):
        index = author_index(cell)
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if index is not None and isinstance(duration, int | float) and not isinstance(duration, bool):
            out.append(CellTime(cell=index, duration_s=round(float(duration), 3)))
    return out


def report(sampler: UsageSampler, nb: Any, author_index: Callable[[Any], int | None]) -> ResourceReport:
    """The resource report of a finished run (the notebook's size as it is saved)."""
    import nbformat

    try:
        size = len(nbformat.writes(nb).encode("utf-8")) if nb is not None else None
    except Exception:  # a notebook that cannot be written is reported elsewhere
        size = None
    return ResourceReport(
        peak_memory_bytes=sampler.peak_rss or None,
        cpu_s=round(sampler.cpu_s, 3),
        notebook_bytes=size,
        cells=cell_times(nb, author_index),
    )

"""Shared helpers for the benchmark scripts: temp roots, timing, reporting."""

from __future__ import annotations

import compileall
import contextlib
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook

CLI = [sys.executable, "-m", "codeml_repro.cli"]
PACKAGE = Path(__file__).resolve().parents[1] / "codeml_repro"
PR_SET_CHILD_SUBREAPER = 36


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def make_root(count: int, *sources: str, prefix: str = "bench") -> Path:
    """A temp root with ``count`` identical submissions running ``sources``."""
    root = Path(tempfile.mkdtemp(prefix=f"codeml-{prefix}-"))
    for i in range(count):
        folder = root / "submissions" / f"{prefix}-{i:03d}"
        folder.mkdir(parents=True)
        spec = {"title": f"Benchmark {i}", "authors": [{"name": "Bench"}]}
        (folder / "submission.yml").write_text(yaml.safe_dump(spec))
        nbformat.write(notebook(*sources), folder / "artifact.ipynb")
    return root


def timed(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one whole-process run of ``cmd``."""
    start = time.perf_counter()
    subprocess.run(
        list(cmd), cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def report(title: str, rows: dict[str, float], base: str) -> None:
    """Print each figure and its ratio to ``base``."""
    print(f"\n{title}")
    width = max(len(k) for k in rows)
    for name, seconds in rows.items():
        print(f"  {name:<{width}}  {seconds:8.3f} s   ratio {seconds / rows[base]:.2f}x of {base}")


def cli(*args: str) -> list[str]:
    return [*CLI, *args]


def load() -> str:
    """The load averages (1, 5, 15 min) and core count: what a wall-clock figure was measured on."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def byte_compile() -> str:
    """Byte-compile codeml_repro, as ``pip install`` does for an installed package.

    An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on the CI machines) never gets
    ``.pyc`` files, so every ``codeml-repro`` process would compile each of its modules from
    source (~0.1 s of CPU per run) while the libraries it is compared with were compiled when
    pip installed them. ``__pycache__`` is ignored by git.
    """
    compileall.compile_dir(str(PACKAGE), quiet=1)
    flag = " (PYTHONDONTWRITEBYTECODE=1 here)" if sys.flags.dont_write_bytecode else ""
    return f"codeml_repro byte-compiled as an installed package is{flag}"


CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1; the runner never moves a process out of it


class TreeCpu:
    """CPU seconds of a command's whole process tree, its sandbox included.

    A sandboxed kernel is a child of bwrap's init in its own PID namespace: its CPU never reaches
    the command's ``RUSAGE_CHILDREN``. Where this host has a v1 ``cpuacct`` hierarchy we may write
    (root), each command runs in a cpuacct group of its own, which every process it starts stays
    in; elsewhere the figure is ``RUSAGE_CHILDREN``, and :attr:`note` says what it misses.
    """

    def __init__(self) -> None:
        self.group: Path | None = None
        group = CPUACCT / f"codeml-bench-{os.getpid()}"
        with contextlib.suppress(OSError):
            group.mkdir(exist_ok=True)
            if (group / "cpuacct.usage").exists():
                self.group = group
        adopt = self.group is None and _adopt_orphans()
        self.note = (
            "CPU: every process of each command (a cpuacct cgroup)" if self.group is not None
            else "CPU: the processes each command waited for, and orphans reaped here; a sandboxed "
            "kernel's may be missing" if adopt
            else "CPU: the processes each command waited for (a sandboxed kernel's is missing)"
        )

    def _usage(self) -> float:
        if self.group is None:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            return usage.ru_utime + usage.ru_stime
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def _join(self) -> None:  # in the child, before exec
        assert self.group is not None
        (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def timed(self, cmd: Sequence[str]) -> tuple[float, float]:
        """Wall seconds of one run of ``cmd`` and CPU seconds of its process tree."""
        before = self._usage()
        start = time.perf_counter()
        subprocess.run(list(cmd), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       preexec_fn=self._join if self.group is not None else None)
        wall = time.perf_counter() - start
        if self.group is None:
            _reap_orphans()
        return wall, self._usage() - before

    def close(self) -> None:
        if self.group is not None:
            with contextlib.suppress(OSError):
                self.group.rmdir()


def _adopt_orphans() -> bool:
    """Become the child subreaper (Linux): what a command leaves behind is reparented here."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    return False


def _reap_orphans(deadline_s: float = 10.0) -> None:
    """Reap every process reparented here (see :func:`_adopt_orphans`); wait for stragglers."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child left
        if pid == 0:
            time.sleep(0.02)

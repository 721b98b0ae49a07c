"""Overhead of one trivial notebook: codeml-repro run vs nbclient vs papermill CLI.

Usage: python benchmarks/bench_overhead.py [--runs N]
Targets: codeml-repro (no sandbox) <= 1.15x nbclient; with sandbox <= 1.3x.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import cli, make_root, report, timed

NBCLIENT = (
    "import sys, nbformat; from nbclient import NotebookClient; "
    "nb = nbformat.read(sys.argv[1], 4); NotebookClient(nb, kernel_name='python3').execute(); "
    "nbformat.write(nb, sys.argv[2])"
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = make_root(1, "x = 1 + 1", "print(x)", prefix="overhead")
    nb = next((root / "submissions").glob("*/artifact.ipynb"))
    out = Path(tempfile.mkdtemp()) / "out.ipynb"
    commands = {
        "nbclient (python -c)": [sys.executable, "-c", NBCLIENT, str(nb), str(out)],
        "papermill CLI": ["papermill", "-k", "python3", str(nb), str(out)],
        "codeml-repro run --sandbox off": cli(
            "run", "--root", str(root), "--force", "--sandbox", "off", "--env", "current"
        ),
    }
    if shutil.which("bwrap"):
        commands["codeml-repro run --sandbox required"] = cli(
            "run", "--root", str(root), "--force", "--sandbox", "required", "--env", "current"
        )
    # Interleaved (one of each per round): on a shared machine, load changes hit all alike.
    # CPU seconds of each command's process tree (what it waited for) are printed too: on a
    # loaded machine they show the work removed when wall times are mostly waiting.
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            before = _children_cpu()
            times[name].append(timed(cmd))
            cpu[name].append(_children_cpu() - before)
    rows = {name: statistics.median(values) for name, values in times.items()}
    cpu_rows = {f"{name} (CPU)": statistics.median(values) for name, values in cpu.items()}
    report(f"CPU of the process tree (median of {args.runs})", cpu_rows, "nbclient (python -c) (CPU)")
    report(
        f"overhead, one trivial notebook (median of {args.runs} interleaved whole-process runs)",
        rows,
        "nbclient (python -c)",
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Overhead of one trivial notebook: codeml-repro run vs nbclient vs papermill CLI.

Usage: python benchmarks/bench_overhead.py [--runs N] [--from-source]
Targets: codeml-repro (no sandbox) <= 1.15x nbclient; with sandbox <= 1.3x (wall clock).

Prints, in one table, each command's median wall time and the CPU seconds of its whole
process tree (kernel and sandbox included), each as a ratio to the nbclient script, with
the load average before and after: wall ratios mean something only on a quiet machine,
CPU ratios (the work done) also on a loaded one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import TreeCpu, byte_compile, cli, load, make_root

NBCLIENT = (
    "import sys, nbformat; from nbclient import NotebookClient; "
    "nb = nbformat.read(sys.argv[1], 4); NotebookClient(nb, kernel_name='python3').execute(); "
    "nbformat.write(nb, sys.argv[2])"
)
BASE = "nbclient (python -c)"
TARGETS = {"codeml-repro run --sandbox off": 1.15, "codeml-repro run --sandbox required": 1.3}


def _commands(root: Path, nb: Path, out: Path) -> dict[str, list[str]]:
    commands = {
        BASE: [sys.executable, "-c", NBCLIENT, str(nb), str(out)],
        "papermill CLI": ["papermill", "-k", "python3", str(nb), str(out)],
        "codeml-repro run --sandbox off": cli(
            "run", "--root", str(root), "--force", "--sandbox", "off", "--env", "current"
        ),
    }
    if shutil.which("bwrap"):
        commands["codeml-repro run --sandbox required"] = cli(
            "run", "--root", str(root), "--force", "--sandbox", "required", "--env", "current"
        )
    return commands


def _table(wall: dict[str, float], cpu: dict[str, float], runs: int) -> None:
    print(f"\noverhead of one trivial notebook, median of {runs} interleaved whole-process runs")
    width = max(len(name) for name in wall)
    print(f"  {'command':<{width}}  {'wall s':>7} {'ratio':>6}  {'CPU s':>7} {'ratio':>6}  target (wall)")
    for name in wall:
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f}x: {'met' if wall[name] / wall[BASE] <= target else 'NOT met'}"
        print(f"  {name:<{width}}  {wall[name]:7.3f} {wall[name] / wall[BASE]:5.2f}x"
              f"  {cpu[name]:7.3f} {cpu[name] / cpu[BASE]:5.2f}x  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--from-source", action="store_true",
                        help="Do not byte-compile codeml_repro first (an uncompiled editable install).")
    args = parser.parse_args()
    if not args.from_source:
        print(byte_compile())
    tree = TreeCpu()
    root = make_root(1, "x = 1 + 1", "print(x)", prefix="overhead")
    nb = next((root / "submissions").glob("*/artifact.ipynb"))
    out = Path(tempfile.mkdtemp()) / "out.ipynb"
    commands = _commands(root, nb, out)
    # Interleaved (one of each per round): on a shared machine, load changes hit all alike.
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    before = load()
    try:
        for _ in range(args.runs):
            for name, cmd in commands.items():
                seconds, used = tree.timed(cmd)
                times[name].append(seconds)
                cpu[name].append(used)
    finally:
        tree.close()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out.parent, ignore_errors=True)
    after = load()
    _table({n: statistics.median(v) for n, v in times.items()},
           {n: statistics.median(v) for n, v in cpu.items()}, args.runs)
    print(f"measured on: {before} before, {after} after (wall ratios hold on a quiet machine only)")
    print(tree.note)

if __name__ == "__main__":
    main()

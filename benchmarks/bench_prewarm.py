"""Kernel pre-start: 8 trivial notebooks with --jobs 1, with and without pre-start.

While one notebook runs, the runner has already launched the next one's kernel
(`CODEML_PREWARM=0` turns that off). Both variants run side by side in one
invocation, alternating, each as a whole `codeml-repro run` process.

Usage: python benchmarks/bench_prewarm.py [--runs N] [--sandbox off|auto|required]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
from pathlib import Path

from common import cli, make_root, report, timed


def timed_run(root: Path, sandbox: str, prewarm: bool) -> float:
    env = {**os.environ, "CODEML_PREWARM": "1" if prewarm else "0"}
    cmd = cli("run", "--root", str(root), "--force", "--jobs", "1", "--sandbox", sandbox, "--env", "current")
    return timed(cmd, env=env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sandbox", default="off", choices=["off", "auto", "required"])
    args = parser.parse_args()
    root = make_root(8, "x = 1 + 1", "print(x)", prefix="prewarm")
    timed_run(root, args.sandbox, True)  # warm the file cache; not counted
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.runs):
        for prewarm in (i % 2 == 0, i % 2 != 0):  # alternate which goes first
            times[prewarm].append(timed_run(root, args.sandbox, prewarm))
    rows = {
        "--jobs 1, no pre-start (CODEML_PREWARM=0)": statistics.median(times[False]),
        "--jobs 1, kernel pre-start (default)": statistics.median(times[True]),
    }
    title = f"kernel pre-start, 8 trivial notebooks, --sandbox {args.sandbox} (median of {args.runs})"
    report(title, rows, "--jobs 1, no pre-start (CODEML_PREWARM=0)")
    for prewarm, label in ((False, "without"), (True, "with")):
        print(f"  {label} pre-start, all runs: " + ", ".join(f"{t:.2f}" for t in times[prewarm]))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

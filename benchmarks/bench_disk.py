"""The run folder's disk budget: the issue's two cases at the default budgets, and what it costs.

1. Hogs at the default budgets (1 GiB, 50,000 files beyond the submission's own),
   each beside a neighbour in the same batch: twelve files of 100 MB, then
   100,000 empty files. Prints each result's status, wall time and message.
2. Cost: a trivial notebook's ``duration_s`` (kernel start included) and the whole
   command's wall time, median of ``--runs``, with the folder a budgeted tmpfs
   (the setup step copies the submission in) and with it switched off (the host
   folder, as before); for an empty submission and one shipping ``--shipped-mb``.

Run: ``python benchmarks/bench_disk.py [--runs 5] [--shipped-mb 200] [--part hogs|cost|both]``.
The numbers depend on the machine's load; the ratio in one run is the figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import cli, make_root

BIG_FILES = """
chunk = b'x' * 10_000_000
for n in range(12):
    with open(f'big{n}', 'wb') as f:
        for _ in range(10):
            f.write(chunk)
"""
MANY_FILES = """
import os
os.makedirs('many')
for n in range(100_000):
    open(f'many/f{n}', 'w').close()
"""
NEIGHBOUR = "from codeml_repro import record\nrecord('acc', 1)"
# The same runner with the run folder's tmpfs switched off: the host folder, as before it.
NO_SCRATCH = (
    "import sys\n"
    "from codeml_repro.run.sandbox import bwrap as sandbox\n"
    "sandbox.probe_scratch = lambda bwrap: 'switched off by the benchmark'\n"
    "from codeml_repro.cli import main\n"
    "sys.argv[0] = 'codeml-repro'\n"
    "main()\n"
)


def run(root: Path, common: tuple[str, ...], *, scratch: bool = True) -> float:
    command = cli("run", "--root", str(root), "--jobs", "1", *common)
    if not scratch:
        command = [sys.executable, "-c", NO_SCRATCH, *command[3:]]
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def result(root: Path, slug: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "results" / f"{slug}.json").read_text())
    return data


def hogs(common: tuple[str, ...]) -> None:
    print("\nHogs at the default budgets, each beside a neighbour")
    for label, cell in (("12 x 100 MB files", BIG_FILES), ("100,000 empty files", MANY_FILES)):
        root = make_root(1, cell, prefix="hog")
        (make_root(1, NEIGHBOUR, prefix="nbr") / "submissions" / "nbr-000").rename(
            root / "submissions" / "nbr-000"
        )
        wall = run(root, common)
        hog, neighbour = result(root, "hog-000"), result(root, "nbr-000")
        error = hog.get("error") or {}
        message = error.get("message", "") if isinstance(error, dict) else ""
        print(f"  {label:<20} {hog['status']}, neighbour {neighbour['status']}, {wall:.1f} s")
        print(f"    {message}")


def cost(runs: int, shipped_mb: int, common: tuple[str, ...]) -> None:
    print(f"\nStart-up cost of the budgeted folder (median of {runs}, the two ways interleaved)")
    for label, size in (("empty submission", 0), (f"{shipped_mb} MB shipped", shipped_mb)):
        durations: dict[bool, list[float]] = {False: [], True: []}
        walls: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(runs):
            for scratch in (False, True):  # side by side: the load changes under both alike
                root = make_root(1, NEIGHBOUR, prefix="cost")
                if size:
                    (root / "submissions" / "cost-000" / "shipped.bin").write_bytes(b"s" * size * 10**6)
                walls[scratch].append(run(root, common, scratch=scratch))
                durations[scratch].append(float(str(result(root, "cost-000")["duration_s"])))
        for scratch in (False, True):
            how = "tmpfs + copy" if scratch else "host folder "
            print(f"  {label:<18} {how}  duration_s {statistics.median(durations[scratch]):6.2f} s"
                  f"   command {statistics.median(walls[scratch]):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shipped-mb", type=int, default=200)
    parser.add_argument("--part", choices=("hogs", "cost", "both"), default="both")
    args = parser.parse_args()
    common = ("--sandbox", "required", "--env", "current", "--force")
    if args.part in ("hogs", "both"):
        hogs(common)
    if args.part in ("cost", "both"):
        cost(args.runs, args.shipped_mb, common)


if __name__ == "__main__":
    main()

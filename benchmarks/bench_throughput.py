"""Throughput: 8 notebooks that sleep 1.5 s; --jobs 2 vs --jobs 1 vs a papermill loop.

Usage: python benchmarks/bench_throughput.py [--runs N]
Targets: --jobs 2 <= 0.6x --jobs 1 and <= 0.6x the serial papermill loop.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import cli, make_root, median_of, report, timed


def papermill_loop(root: Path) -> float:
    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    for nb in sorted((root / "submissions").glob("*/artifact.ipynb")):
        subprocess.run(
            ["papermill", "-k", "python3", str(nb), str(out / f"{nb.parent.name}.ipynb")],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sandbox", default="off", choices=["off", "auto", "required"])
    args = parser.parse_args()
    root = make_root(8, "import time\ntime.sleep(1.5)", prefix="sleep")
    base = ["run", "--root", str(root), "--force", "--sandbox", args.sandbox, "--env", "current"]
    rows = {
        "papermill loop (serial)": median_of(args.runs, lambda: papermill_loop(root)),
        "codeml-repro --jobs 1": median_of(args.runs, lambda: timed(cli(*base, "--jobs", "1"))),
        "codeml-repro --jobs 2": median_of(args.runs, lambda: timed(cli(*base, "--jobs", "2"))),
    }
    report(f"throughput, 8 x sleep(1.5) (median of {args.runs})", rows, "codeml-repro --jobs 1")
    print(
        f"  --jobs 2 / papermill loop = {rows['codeml-repro --jobs 2'] / rows['papermill loop (serial)']:.2f}"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Overhead of one trivial notebook: codeml-repro run vs nbclient vs papermill CLI.

Usage: python benchmarks/bench_overhead.py [--runs N]
Targets: codeml-repro (no sandbox) <= 1.15x nbclient; with sandbox <= 1.3x.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import cli, make_root, median_of, report, timed

NBCLIENT = (
    "import sys, nbformat; from nbclient import NotebookClient; "
    "nb = nbformat.read(sys.argv[1], 4); NotebookClient(nb, kernel_name='python3').execute(); "
    "nbformat.write(nb, sys.argv[2])"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = make_root(1, "x = 1 + 1", "print(x)", prefix="overhead")
    nb = next((root / "submissions").glob("*/artifact.ipynb"))
    out = Path(tempfile.mkdtemp()) / "out.ipynb"
    rows = {
        "nbclient (python -c)": median_of(
            args.runs, lambda: timed([sys.executable, "-c", NBCLIENT, str(nb), str(out)])
        ),
        "papermill CLI": median_of(
            args.runs, lambda: timed(["papermill", "-k", "python3", str(nb), str(out)])
        ),
        "codeml-repro run --sandbox off": median_of(
            args.runs,
            lambda: timed(cli("run", "--root", str(root), "--force", "--sandbox", "off", "--env", "current")),
        ),
    }
    if shutil.which("bwrap"):
        rows["codeml-repro run --sandbox required"] = median_of(
            args.runs,
            lambda: timed(
                cli("run", "--root", str(root), "--force", "--sandbox", "required", "--env", "current")
            ),
        )
    report(
        f"overhead, one trivial notebook (median of {args.runs} whole-process runs)",
        rows,
        "nbclient (python -c)",
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

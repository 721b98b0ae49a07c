"""No-change re-run: 100 trivial submissions, first run vs unchanged re-run.

Usage: python benchmarks/bench_rerun.py [--count 100]
Target: the unchanged re-run of 100 submissions in under 1.5 s wall time,
without importing papermill or starting a kernel.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from common import cli, make_root, report, timed

PROBE = (
    "import sys, runpy; sys.argv = ['codeml-repro', 'run', '--root', sys.argv[1], '--sandbox', 'off'];\n"
    "from codeml_repro.cli import cli\n"
    "try:\n    cli(prog_name='codeml-repro')\nexcept SystemExit:\n    pass\n"
    "heavy = sorted(m for m in ('papermill', 'nbclient', 'jupyter_client', 'zmq') if m in sys.modules)\n"
    "print('heavy modules imported:', heavy or 'none')"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--jobs", default="2")
    args = parser.parse_args()
    root = make_root(args.count, "x = 1", prefix="rerun")
    run = cli("run", "--root", str(root), "--sandbox", "off", "--env", "current", "--jobs", args.jobs)
    first = timed(run)
    rerun = min(timed(run) for _ in range(3))
    report(f"{args.count} trivial submissions", {"first run": first, "unchanged re-run": rerun}, "first run")
    print(f"  unchanged re-run: {rerun:.3f} s (target < 1.5 s)")
    probe = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True)
    print("  " + probe.stdout.strip().splitlines()[-1])
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Where one trivial ``codeml-repro run`` spends its time (cProfile, in this process).

Usage: python benchmarks/profile_run.py [--sandbox off|required] [--top 25] [--sort cumulative|tottime]
                                        [--from-source]
Prints the functions with the most time, then the slowest imports on the CLI
path (``python -X importtime``), with the load they were measured on. Read it
before and after removing a cost. codeml_repro is byte-compiled first, as an
installed package is (``--from-source``: not; every module is then compiled at import).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import shutil
import subprocess
import sys

from common import byte_compile, load, make_root


def _profile(root: str, sandbox: str, top: int, sort: str) -> None:
    from codeml_repro.cli import main  # as the console script runs (its process settings too)

    argv = ["run", "--root", root, "--force", "--sandbox", sandbox, "--env", "current", "--jobs", "1"]
    sys.argv = ["codeml-repro", *argv]
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        profiler.disable()
    pstats.Stats(profiler).sort_stats(sort).print_stats(top)


def _slowest_imports(root: str, sandbox: str, top: int) -> None:
    argv = [sys.executable, "-X", "importtime", "-m", "codeml_repro.cli", "run", "--root", root,
            "--force", "--sandbox", sandbox, "--env", "current", "--jobs", "1"]
    err = subprocess.run(argv, capture_output=True, text=True, check=False).stderr
    rows = []
    for line in err.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 2:  # top-level imports only
            rows.append((int(match.group(2)), match.group(4)))
    print(f"\nslowest top-level imports of one run (cumulative ms), sandbox {sandbox}:")
    for micros, name in sorted(rows, reverse=True)[:top]:
        print(f"  {micros / 1000:8.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="off")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--from-source", action="store_true", help="Do not byte-compile codeml_repro first.")
    args = parser.parse_args()
    if not args.from_source:
        print(byte_compile())
    print(f"measured on: {load()}")
    root = make_root(1, "x = 1 + 1", "print(x)", prefix="profile")
    try:
        _profile(str(root), args.sandbox, args.top, args.sort)
        _slowest_imports(str(root), args.sandbox, args.top)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

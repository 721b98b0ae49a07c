"""Environments of an era: one requirements.txt built with and without ``artifact.environment.as_of``.

Both environments are built by the toolkit itself (``venv_for``: one ``uv pip compile`` of the
author's requirements and the kernel's packages, then the exact lock installed), in a fresh
cache, side by side. It prints the resolved ipykernel, IPython and matplotlib-inline of each,
and how long each build took. Needs the package index (or uv's cache with those versions).

Usage: python benchmarks/bench_era.py [--as-of 2024-01-01] [--requirements "numpy<2"]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeml_repro.run.env.environment import KernelEnv, venv_for
from codeml_repro.run.env.lock import Era

SHOWN = ("ipykernel", "ipython", "matplotlib-inline")


def build(requirements: Path, cache: Path, era: Era) -> tuple[KernelEnv, float]:
    start = time.perf_counter()
    env = venv_for(requirements, root=cache, era=era)
    return env, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as-of", default="2024-01-01")
    parser.add_argument("--requirements", default="numpy<2", help="the requirements.txt text")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codeml-era-"))
    requirements = work / "requirements.txt"
    requirements.write_text(args.requirements.replace("\\n", "\n") + "\n")
    eras = {"no as_of": Era(), f"as_of {args.as_of}": Era(as_of=date.fromisoformat(args.as_of))}
    results = {label: build(requirements, work / "cache", era) for label, era in eras.items()}
    width = max(len(label) for label in results)
    print(f"requirements.txt: {args.requirements!r}")
    print(f"{'package':<18} " + "  ".join(f"{label:>{width}}" for label in results))
    for name in SHOWN:
        versions = [dict(ln.split("==") for ln in env.lock).get(name, "-") for env, _ in results.values()]
        print(f"{name:<18} " + "  ".join(f"{v:>{width}}" for v in versions))
    print(f"{'build seconds':<18} " + "  ".join(f"{s:>{width}.1f}" for _, s in results.values()))


if __name__ == "__main__":
    main()

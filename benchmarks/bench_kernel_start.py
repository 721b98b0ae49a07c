"""A kernel's start-up CPU: the runner's launcher against ``python -m ipykernel_launcher``.

The runner's launcher (``KERNEL_LAUNCHER`` in codeml_repro/run/sandbox/launch.py) keeps debugpy
and jedi out while the kernel starts. Each sample starts one real kernel of the interpreter given,
waits until it answers, shuts it down, and counts the CPU of that kernel process alone; the two
variants alternate, side by side in one run. Kernels run with ``PYTHONDONTWRITEBYTECODE=1``, as the
runner starts them: in an author's environment (``--python $CODEML_CACHE/envs/<key>/bin/python``)
nothing is byte-compiled, so every start compiles what it imports.

Usage: python benchmarks/bench_kernel_start.py [--runs N] [--python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import load

from codeml_repro.run.sandbox.launch import KERNEL_LAUNCHER


def _kernel_cpu(argv: list[str]) -> float:
    """CPU seconds of one kernel started from ``argv``, from launch until it is shut down."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp, "bench")
        spec.mkdir()
        env = {"PYTHONDONTWRITEBYTECODE": "1"}
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "b", "language": "python",
                                                      "env": env}))
        km = KernelManager(kernel_spec_manager=KernelSpecManager(kernel_dirs=[tmp]), kernel_name="bench")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        km.start_kernel(cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)
        finally:
            client.stop_channels()
            km.shutdown_kernel(now=False)  # waits for the process: its CPU is then counted
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the kernel's interpreter")
    args = parser.parse_args()
    variants = {
        "python -m ipykernel_launcher": [args.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "the runner's launcher": [args.python, "-c", KERNEL_LAUNCHER, "-f", "{connection_file}"],
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    _kernel_cpu(variants["the runner's launcher"])  # warm the page cache for both
    for i in range(args.runs):
        for name in sorted(variants, reverse=bool(i % 2)):  # alternate which goes first
            cpu[name].append(_kernel_cpu(variants[name]))
    print(f"Kernel start-up CPU, median of {args.runs} ({load()}; {os.path.basename(args.python)} "
          f"at {Path(args.python).parent.parent})")
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    base = "python -m ipykernel_launcher"
    for name, value in medians.items():
        print(f"  {name:<30} {value:6.3f} s CPU   ratio {value / medians[base]:.2f}x of {base}")


if __name__ == "__main__":
    main()

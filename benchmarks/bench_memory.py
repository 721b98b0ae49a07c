"""Peak RSS of the runner while a notebook prints without end under the output cap.

Usage: python benchmarks/bench_memory.py [--cap BYTES]
Target: runner peak RSS under 300 MB (the kernel is a separate process).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time

import psutil
from common import cli, make_root


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) of the runner process itself, sampled every 10 ms."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    me = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, me.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.01)
    return peak / 1e6, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=10_000_000)
    args = parser.parse_args()
    root = make_root(1, "while True:\n    print('x' * 1000)", prefix="print")
    idle = make_root(1, "x = 1", prefix="idle")
    common = ["--sandbox", "off", "--env", "current", "--jobs", "1", "--force"]
    base_mb, _ = peak_rss(cli("run", "--root", str(idle), *common))
    mb, seconds = peak_rss(
        cli("run", "--root", str(root), *common, "--max-output-bytes", str(args.cap), "--timeout", "120")
    )
    print(f"\nrunner peak RSS, trivial notebook:           {base_mb:7.1f} MB")
    print(
        f"runner peak RSS, endless print (cap {args.cap / 1e6:g} MB): {mb:7.1f} MB "
        f"(ratio {mb / base_mb:.2f}x, stopped after {seconds:.1f} s; target < 300 MB)"
    )
    status = subprocess.run(cli("status", "--root", str(root)), capture_output=True, text=True)
    print(status.stdout)
    for path in (root, idle):
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()

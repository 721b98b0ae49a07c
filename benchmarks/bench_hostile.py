"""One hostile submission and the rest of the batch: the runner's memory and a neighbour's time.

1. Buffer flood: a notebook sends three iopub messages whose binary buffers are
   ``--flood-mib`` each (the issue's case is 1536). The runner's peak RSS is
   sampled every 20 ms while it runs (target: under 300 MB).
2. CPU burner: a neighbour that needs about ``--work-s`` CPU seconds runs alone,
   then beside a submission that starts eight busy ``setsid`` processes at
   start-up (``--jobs 2``). Its ``duration_s`` both ways, side by side: with a
   cgroup per run (root on this machine) the burner gets one share, not eight.

Run: ``python benchmarks/bench_hostile.py [--flood-mib 1536] [--work-s 3]``.
The numbers depend on the machine's load; the ratio in one run is the figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import psutil

from benchmarks.common import cli, make_root

FLOOD = """
k = get_ipython().kernel
content = {{'data': {{'text/plain': 'x'}}, 'metadata': {{}}}}
for _ in range(3):
    k.session.send(k.iopub_socket, 'display_data', content=content,
                   parent=k.get_parent('shell'), buffers=[b'x' * ({mib} * 2**20)])
"""
WORK = """
import time
start = time.process_time()
n = 0
while time.process_time() - start < {work_s}:
    n += 1
"""
BURNER = """
import subprocess, sys, time
spin = 'while True: pass'
procs = [subprocess.Popen(['setsid', sys.executable, '-c', spin], start_new_session=True) for _ in range(8)]
time.sleep(30)
"""


def runner_peak_rss(root: Path, *args: str) -> tuple[int, float]:
    """Peak RSS (bytes) of the runner process itself, and its wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(cli("run", "--root", str(root), "--jobs", "1", *args),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    me, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, me.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    return peak, time.perf_counter() - start


def duration_of(root: Path, slug: str) -> float:
    return float(json.loads((root / "results" / f"{slug}.json").read_text())["duration_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flood-mib", type=int, default=1536)
    parser.add_argument("--work-s", type=float, default=3.0)
    parser.add_argument("--sandbox", default="required")
    args = parser.parse_args()
    common = ("--sandbox", args.sandbox, "--env", "current", "--force")

    flood = make_root(1, FLOOD.format(mib=args.flood_mib), prefix="flood")
    peak, wall = runner_peak_rss(flood, *common, "--timeout", "120")
    status = json.loads((flood / "results" / "flood-000.json").read_text())["status"]
    print(f"\nBuffer flood: 3 x {args.flood_mib} MiB of iopub buffers")
    print(f"  runner peak RSS  {peak / 2**20:8.1f} MiB   (target < 300 MiB)   status {status}, {wall:.1f} s")

    alone = make_root(1, WORK.format(work_s=args.work_s), prefix="work")
    subprocess.run(cli("run", "--root", str(alone), "--jobs", "1", *common), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    beside = make_root(1, WORK.format(work_s=args.work_s), prefix="work")
    burner = beside / "submissions" / "aaa-burner"
    (make_root(1, BURNER, prefix="burn") / "submissions" / "burn-000").rename(burner)
    subprocess.run(cli("run", "--root", str(beside), "--jobs", "2", *common), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    solo, shared = duration_of(alone, "work-000"), duration_of(beside, "work-000")
    limits = json.loads((beside / "results" / "work-000.json").read_text())["environment"]["limits"]
    print(f"\nNeighbour needing {args.work_s:g} CPU s (cgroup: {limits.get('cgroup')})")
    print(f"  alone                     {solo:8.2f} s")
    print(f"  beside 8 busy processes   {shared:8.2f} s   ratio {shared / solo:.2f}x of alone")


if __name__ == "__main__":
    main()

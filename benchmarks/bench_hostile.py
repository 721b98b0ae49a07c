"""One hostile submission and the rest of the batch: the runner's memory and a neighbour's time.

1. Buffer flood: a notebook sends three iopub messages whose binary buffers are
   ``--flood-mib`` each (the issue's case is 1536), then one that sends 300
   messages of 9 MiB each (under the per-frame limit, about twice the default
   10 MB output cap: they are read, and counted against the cap). The runner's
   peak RSS is sampled every 20 ms while it runs (target: under 300 MB), side
   by side with the same runner whose per-frame limit is switched off
   (``ZMQ_MAXMSGSIZE`` unset: every frame is read whole).
2. CPU burner: a neighbour that needs about ``--work-s`` CPU seconds runs alone,
   then beside a submission that starts eight busy ``setsid`` processes at
   start-up (``--jobs 2``). Its ``duration_s`` both ways, side by side: with a
   cgroup per run (root on this machine) the burner gets one share, not eight.

Run: ``python benchmarks/bench_hostile.py [--flood-mib 1536] [--work-s 3] [--part flood|cpu]``.
The numbers depend on the machine's load; the ratio in one run is the figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml
from common import cli, make_root

FLOOD = """
k = get_ipython().kernel
content = {{'data': {{'text/plain': 'x'}}, 'metadata': {{}}}}
for _ in range({count}):
    k.session.send(k.iopub_socket, 'display_data', content=content,
                   parent=k.get_parent('shell'), buffers=[b'x' * ({mib} * 2**20)])
"""
# The same runner with no per-frame limit: what it did before the limit (see run/kernel/channels.py).
UNCAPPED = (
    "import sys\n"
    "from codeml_repro.run.kernel import channels\n"
    "channels.frame_limit = lambda *args, **kwargs: -1\n"
    "from codeml_repro.cli import main\n"
    "sys.argv[0] = 'codeml-repro'\n"
    "main()\n"
)
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


def runner_peak_rss(root: Path, *args: str, capped: bool = True) -> tuple[int, float]:
    """Peak RSS (bytes) of the runner process itself, and its wall time."""
    start = time.perf_counter()
    command = cli("run", "--root", str(root), "--jobs", "1", *args)
    if not capped:
        command = [sys.executable, "-c", UNCAPPED, *command[3:]]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def declare_memory(folder: Path, memory_gb: float) -> None:
    """Give the flooding kernel room for its own buffers (its run's memory budget is the sandbox's)."""
    spec = yaml.safe_load((folder / "submission.yml").read_text())
    spec["artifact"] = {"notebook": "artifact.ipynb", "resources": {"memory_gb": memory_gb}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))


def flood(mib: int, common: tuple[str, ...]) -> None:
    """Peak RSS of the runner under each flood shape, without and with the per-frame limit."""
    print("\nBuffer flood (runner peak RSS; target < 300 MiB with the limit)")
    memory_gb = max(4.0, 3 * mib / 1024 + 2)  # the kernel holds a buffer and libzmq's copy of it
    for count, size in ((3, mib), (300, 9)):
        label = f"{count} x {size} MiB"
        for capped in (False, True):
            root = make_root(1, FLOOD.format(mib=size, count=count), prefix="flood")
            declare_memory(root / "submissions" / "flood-000", memory_gb)
            peak, wall = runner_peak_rss(root, *common, "--timeout", "300", capped=capped)
            result = json.loads((root / "results" / "flood-000.json").read_text())
            how = "frame limit" if capped else "no limit   "
            print(f"  {label:<16} {how}  {peak / 2**20:8.1f} MiB   {result['status']}, {wall:.1f} s")
            if result["status"] not in ("output_limit", "failed"):
                print(f"    {(result.get('error') or {}).get('message', '')[:200]}")


def cpu(work_s: float, common: tuple[str, ...]) -> None:
    """The neighbour's duration alone and beside a CPU burner."""
    alone = make_root(1, WORK.format(work_s=work_s), prefix="work")
    subprocess.run(cli("run", "--root", str(alone), "--jobs", "1", *common), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    beside = make_root(1, WORK.format(work_s=work_s), prefix="work")
    burner = beside / "submissions" / "aaa-burner"
    (make_root(1, BURNER, prefix="burn") / "submissions" / "burn-000").rename(burner)
    subprocess.run(cli("run", "--root", str(beside), "--jobs", "2", *common), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    solo, shared = duration_of(alone, "work-000"), duration_of(beside, "work-000")
    limits = json.loads((beside / "results" / "work-000.json").read_text())["environment"]["limits"]
    print(f"\nNeighbour needing {work_s:g} CPU s (cgroup: {limits.get('cgroup')})")
    print(f"  alone                     {solo:8.2f} s")
    print(f"  beside 8 busy processes   {shared:8.2f} s   ratio {shared / solo:.2f}x of alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flood-mib", type=int, default=1536)
    parser.add_argument("--work-s", type=float, default=3.0)
    parser.add_argument("--sandbox", default="required")
    parser.add_argument("--part", choices=("flood", "cpu", "both"), default="both")
    args = parser.parse_args()
    common = ("--sandbox", args.sandbox, "--env", "current", "--force")
    if args.part in ("flood", "both"):
        flood(args.flood_mib, common)
    if args.part in ("cpu", "both"):
        cpu(args.work_s, common)


if __name__ == "__main__":
    main()

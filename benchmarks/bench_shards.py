"""Shard planner on simulated workshops: makespan over the lower bound, and planner time.

Usage: python benchmarks/bench_shards.py [--median-s 120] [--sigma 1.0] [--seed 17]
Durations are log-normal (median ``--median-s``); the shard count is the one
``codeml-repro plan`` picks (CODEML_SHARD_MINUTES=20, MAX_SHARDS=32 unless
set). A tenth of the artifacts are new (no duration yet: they weigh the
median). Target: the planner within 5 % of the lower bound, max(total/N,
longest), at 500 artifacts. "LPT only" is the split before refinement.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from codeml_repro.run.plan import shards
from codeml_repro.run.plan.shards import lower_bound, plan_shards, predicted_durations


def workshop(n: int, median_s: float, sigma: float, seed: int) -> dict[str, float]:
    """``n`` artifacts' last durations; every tenth one is new (absent)."""
    rng = random.Random(seed)
    return {f"paper-{i:04d}": rng.lognormvariate(0.0, sigma) * median_s for i in range(n) if i % 10}


def lpt_makespan(slugs: list[str], durations: dict[str, float], count: int) -> float:
    weights = predicted_durations(slugs, durations)
    return max(sum(w for w, _ in b) for b in shards._lpt(weights, count))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--median-s", type=float, default=120.0)
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    target_s = float(os.environ.get("CODEML_SHARD_MINUTES", "20")) * 60
    max_shards = int(os.environ.get("MAX_SHARDS", "32"))
    print(f"log-normal durations, median {args.median_s:g} s, sigma {args.sigma:g}; "
          f"target {target_s / 60:g} min per shard, at most {max_shards} shards")
    print(f"{'artifacts':>9} {'shards':>6} {'bound min':>9} {'LPT only':>9} {'planner':>9} {'plan time':>10}")
    for n in (100, 500, 2000):
        durations = workshop(n, args.median_s, args.sigma, args.seed)
        slugs = [f"paper-{i:04d}" for i in range(n)]
        start = time.perf_counter()
        plan = plan_shards(slugs, durations, target_s=target_s, max_shards=max_shards)
        elapsed = time.perf_counter() - start
        count = len(plan.shards)
        bound = lower_bound(predicted_durations(slugs, durations), count)
        lpt = lpt_makespan(slugs, durations, count) / bound
        print(f"{n:>9} {count:>6} {bound / 60:>9.1f} {lpt:>8.3f}x {plan.makespan_s / bound:>8.3f}x "
              f"{elapsed * 1000:>7.1f} ms")


if __name__ == "__main__":
    main()

"""Environment builds: cold cache, warm cache and cached environment, against venv + pip.

Usage: python benchmarks/bench_envs.py [--requirements "numpy scikit-learn"] [--rounds 1]
Needs the package registry. Each round runs, interleaved:

- codeml cold:   a new uv cache and a new environment cache (every wheel downloaded)
- pip cold:      python -m venv + pip install --no-cache-dir of the same file
- codeml warm:   uv's cache kept, a new environment cache (a new shard that
                 restored uv's cache from actions/cache)
- pip warm:      python -m venv + pip install with pip's cache kept
- codeml cached: the environment already built (a second submission with the
                 same requirements, or a second run on one machine)

Both install ipykernel besides the requirements (every kernel needs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codeml_repro.run.env.environment import KERNEL_REQUIREMENT, venv_for


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _pip(requirements: Path, target: Path, cache: Path | None) -> None:
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    cache_args = ["--no-cache-dir"] if cache is None else ["--cache-dir", str(cache)]
    subprocess.run(
        [str(target / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", *cache_args,
         "-r", str(requirements), KERNEL_REQUIREMENT],
        check=True,
    )


def _codeml(requirements: Path, env_cache: Path, uv_cache: Path) -> None:
    os.environ["UV_CACHE_DIR"] = str(uv_cache)  # uv_env passes UV_* settings to uv
    venv_for(requirements, root=env_cache)


def one_round(work: Path, requirements: Path) -> dict[str, float]:
    """The five timings of one round, in a fresh folder."""
    uv_cache, pip_cache = work / "uv-cache", work / "pip-cache"
    times = {
        "codeml cold": _seconds(lambda: _codeml(requirements, work / "envs-cold", uv_cache)),
        "pip cold": _seconds(lambda: _pip(requirements, work / "pip-cold", None)),
    }
    _pip(requirements, work / "pip-fill", pip_cache)  # fills pip's cache, not timed
    times["codeml warm"] = _seconds(lambda: _codeml(requirements, work / "envs-warm", uv_cache))
    times["pip warm"] = _seconds(lambda: _pip(requirements, work / "pip-warm", pip_cache))
    times["codeml cached"] = _seconds(lambda: _codeml(requirements, work / "envs-warm", uv_cache))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requirements", default="numpy scikit-learn")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="codeml-bench-envs-"))
        requirements = work / "requirements.txt"
        requirements.write_text("".join(f"{name}\n" for name in args.requirements.split()))
        try:
            rounds.append(one_round(work, requirements))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"requirements: {args.requirements} (+ {KERNEL_REQUIREMENT}); median of {args.rounds} round(s)")
    print(f"  {'':14} {'codeml (uv)':>12} {'venv + pip':>12} {'ratio':>7}")
    for kind in ("cold", "warm"):
        ours, pip = median[f"codeml {kind}"], median[f"pip {kind}"]
        print(f"  {kind + ' cache':14} {ours:>10.2f} s {pip:>10.2f} s {ours / pip:>6.2f}x")
    print(f"  {'cached env':14} {median['codeml cached']:>10.3f} s {'(rebuild)':>12}")


if __name__ == "__main__":
    main()

"""Every benchmark script starts as its docstring says (``python benchmarks/NAME.py``): ``--help`` works.

Benchmarks are not run by the suite (they time things), so an import that only works from
somewhere else would break one silently. Each script runs the way a maintainer runs it: as a file
(its own folder first on ``sys.path``, the repository root not on it), with only the toolkit
importable, here through a folder holding nothing but a link to this checkout's ``codeml_repro``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HELPERS = {"common.py"}  # imported by the scripts, not run
SCRIPTS = sorted(p.name for p in (REPO / "benchmarks").glob("*.py") if p.name not in HELPERS)


def test_every_benchmark_is_checked() -> None:
    assert len(SCRIPTS) >= 10 and "bench_hostile.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_starts_as_documented(script: str, tmp_path: Path) -> None:
    only_toolkit = tmp_path / "path"
    only_toolkit.mkdir()
    (only_toolkit / "codeml_repro").symlink_to(REPO / "codeml_repro")
    env = {**os.environ, "PYTHONPATH": str(only_toolkit)}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage: "), proc.stdout[:200]

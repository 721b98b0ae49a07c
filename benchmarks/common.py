"""Shared helpers for the benchmark scripts: temp roots, timing, reporting."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook

CLI = [sys.executable, "-m", "codeml_repro.cli"]


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def make_root(count: int, *sources: str, prefix: str = "bench") -> Path:
    """A temp root with ``count`` identical submissions running ``sources``."""
    root = Path(tempfile.mkdtemp(prefix=f"codeml-{prefix}-"))
    for i in range(count):
        folder = root / "submissions" / f"{prefix}-{i:03d}"
        folder.mkdir(parents=True)
        spec = {"title": f"Benchmark {i}", "authors": [{"name": "Bench"}]}
        (folder / "submission.yml").write_text(yaml.safe_dump(spec))
        nbformat.write(notebook(*sources), folder / "artifact.ipynb")
    return root


def timed(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one whole-process run of ``cmd``."""
    start = time.perf_counter()
    subprocess.run(
        list(cmd), cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def report(title: str, rows: dict[str, float], base: str) -> None:
    """Print each figure and its ratio to ``base``."""
    print(f"\n{title}")
    width = max(len(k) for k in rows)
    for name, seconds in rows.items():
        print(f"  {name:<{width}}  {seconds:8.3f} s   ratio {seconds / rows[base]:.2f}x of {base}")


def cli(*args: str) -> list[str]:
    return [*CLI, *args]

"""Shared helpers for the runner, sandbox and environment tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import Submission, SubmissionSpec
from codeml_repro.run.kernel.execute import Execution, execute
from codeml_repro.run.sandbox.rundir import MARKER_VAR

NOTEBOOKS = Path(__file__).parent / "notebooks"


def make_submission(
    folder: Path,
    notebook: str | list[str],
    *,
    parameters: dict[str, Any] | None = None,
    requirements: str | None = None,
) -> Submission:
    """A submission in ``folder`` from a fixture notebook name or a list of code cells."""
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, str):
        shutil.copyfile(NOTEBOOKS / f"{notebook}.ipynb", folder / "artifact.ipynb")
    else:
        nb = new_notebook(cells=[new_code_cell(src) for src in notebook])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / "artifact.ipynb")
    artifact: dict[str, Any] = {"notebook": "artifact.ipynb", "parameters": parameters or {}}
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
        artifact["requirements"] = "requirements.txt"
    spec = SubmissionSpec(title="Test", authors=[{"name": "Tester"}], artifact=artifact)
    return Submission(folder.name, folder, spec)


def run(sub: Submission, *, timeout_s: float = 20, **policy: Any) -> Execution:
    """Execute with small budgets; unsandboxed unless ``sandbox=`` says otherwise."""
    settings: dict[str, Any] = {"sandbox": "off", "cell_timeout_s": 10, "env": "current"}
    settings.update(policy)
    ex = execute(sub, RunPolicy(**settings), timeout_s=timeout_s)
    assert ex.run_id and leftover_processes(ex.run_id) == [], "a process of the run survived it"
    return ex


def _marker(proc: psutil.Process) -> str | None:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.environ().get(MARKER_VAR)
    except (psutil.Error, OSError):
        return None


def leftover_processes(run_ids: str | Collection[str]) -> list[psutil.Process]:
    """Live processes of the given runs (they carry the run marker); never another test's runs."""
    wanted = {run_ids} if isinstance(run_ids, str) else set(run_ids)
    return [proc for proc in psutil.process_iter() if _marker(proc) in wanted]


def run_markers_under(pid: int) -> set[str]:
    """The run markers of every live descendant of ``pid``: the runs a command started."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return set()
    return {m for m in map(_marker, children) if m}


def outputs_text(ex: Execution) -> str:
    """All text outputs of the executed notebook, joined."""
    parts = []
    for cell in ex.notebook.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def recorded(ex: Execution) -> dict[str, Any]:
    """Values recorded with codeml_repro.record, by name."""
    values = {}
    for cell in ex.notebook.cells:
        for out in cell.get("outputs", []):
            scrap = out.get("data", {}).get("application/scrapbook.scrap.json+json")
            if scrap:
                values[scrap["name"]] = scrap["data"]
    return values


class PeakRss:
    """Samples this process's resident memory while a block runs."""

    def __init__(self) -> None:
        self.base = psutil.Process().memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1e6


def cells_span_s(ex: Execution) -> float:
    """Seconds from the first cell's start to the last cell's end, as papermill recorded them.

    What a budget bounds, measured without the kernel's start-up, which a loaded machine
    stretches: a bound on the whole run's wall clock failed under load and proved nothing more.
    """
    from datetime import datetime

    stamps = [c.metadata.get("papermill", {}) for c in ex.notebook.cells if c.cell_type == "code"]
    starts = [datetime.fromisoformat(s["start_time"]) for s in stamps if s.get("start_time")]
    ends = [datetime.fromisoformat(s["end_time"]) for s in stamps if s.get("end_time")]
    assert starts and ends, "papermill recorded no cell times"
    return (max(ends) - min(starts)).total_seconds()

"""The resource report: per-cell wall times, peak memory of the run, CPU time, notebook size."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codeml_repro.model.result import CellTime, ResourceReport, Result, Status
from codeml_repro.results.costs import budget_warnings, cost_line, human_bytes, human_duration, slowest_cells

from .runner_helpers import make_submission, run

MB = 1024**2
CELLS = [
    "import time\nx = 1",  # cell 0: quick
    "time.sleep(1)",  # cell 1: one second
    "data = b'x' * (300 * 1024 * 1024)\nlen(data)",  # cell 2: 300 MB, every page touched, kept
    "del data",
]


def _check_report(report: ResourceReport | None) -> None:
    assert report is not None
    times = {c.cell: c.duration_s for c in report.cells}
    assert sorted(times) == [0, 1, 2, 3]  # indexed as the author's cells
    assert 0.95 <= times[1] < 3.0
    assert times[0] < 0.9
    assert report.peak_memory_bytes is not None
    assert 300 * MB <= report.peak_memory_bytes < 1200 * MB  # the array plus one kernel, not twice
    assert report.cpu_s is not None and report.cpu_s > 0.05  # filling 300 MB costs CPU
    assert report.notebook_bytes is not None and report.notebook_bytes > 500


@pytest.mark.slow
def test_cell_times_and_peak_memory_are_recorded(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "sub", CELLS))
    assert ex.outcome == "completed"
    _check_report(ex.resources)


@pytest.mark.slow
@pytest.mark.sandbox
def test_peak_memory_is_measured_inside_the_sandbox(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    ex = run(make_submission(tmp_path / "sub", CELLS), sandbox="required")
    assert ex.outcome == "completed" and ex.sandbox == "bwrap"
    _check_report(ex.resources)


def _result(duration: float, peak: int, cells: list[float]) -> Result:
    report = ResourceReport(
        peak_memory_bytes=peak, cpu_s=1.0, notebook_bytes=10,
        cells=[CellTime(cell=i, duration_s=d) for i, d in enumerate(cells)],
    )
    return Result(slug="s", status=Status.FUNCTIONAL, duration_s=duration, resources=report)


def test_cost_line_slowest_cells_and_budget_warnings() -> None:
    assert human_duration(192) == "3 min 12 s"
    assert human_duration(4.24) == "4.2 s"
    assert human_duration(3725) == "1 h 2 min"
    assert human_bytes(1.4e9) == "1.4 GB" and human_bytes(312e6) == "312 MB"
    result = _result(192, int(1.4e9), [0.1, 5, 0.2, 9, 1, 3, 2])
    assert cost_line(result, gpus=0) == "runs in 3 min 12 s, peak memory 1.4 GB, no GPU"
    assert cost_line(result, gpus=2) == "runs in 3 min 12 s, peak memory 1.4 GB, 2 GPUs"
    assert [c.cell for c in slowest_cells(result)] == [3, 1, 5, 6, 4]
    warnings = budget_warnings(result, timeout_s=200, memory_bytes=int(1.5e9))
    assert len(warnings) == 2  # a cell near its own budget: the result's warning (tests/test_conventions.py)
    assert warnings[0].startswith("the run took 3 min 12 s, 96% of its 3 min 20 s budget")
    assert "93% of the 1.5 GB memory budget" in warnings[1]
    assert budget_warnings(result, timeout_s=600, memory_bytes=4 * 1024**3) == []
    assert cost_line(Result(slug="s", status=Status.PENDING), gpus=0) is None


def test_check_prints_the_cost_and_warns_near_a_budget(tmp_path: Path) -> None:
    from codeml_repro.authoring.check import build_report
    from codeml_repro.authoring.scaffold import new_submission
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.submission import load_submission

    sub = load_submission(new_submission(tmp_path, "my-paper"))
    policy = RunPolicy()
    result = _result(192, int(policy.memory_bytes * 0.9), [0.1, 250.0, 2.0])
    lines = build_report(result, sub, policy, 200).lines
    assert "runs in 3 min 12 s, peak memory 3.9 GB, no GPU" in lines
    assert "slowest cells: cell 1 (250.0 s), cell 2 (2.0 s), cell 0 (0.1 s)" in lines
    warned = [line for line in lines if line.startswith("warning: ") and "budget" in line]
    assert len(warned) == 2  # whole run 96 %, memory 90 % (cell 1's 83 % is the run's own warning)
    quiet = build_report(_result(10, 10**8, [1.0]), sub, policy, 600).lines
    assert not [line for line in quiet if "budget" in line and line.startswith("warning: ")]

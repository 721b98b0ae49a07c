"""What a run cost, in words: "runs in 3 min 12 s, peak memory 1.4 GB, no GPU".

Shown near the badges on a submission's page, printed by ``codeml-repro
check``, with the five slowest cells and a warning when a run used more than
80 % of a budget (it would fail on a slower runner).
"""

from __future__ import annotations

from codeml_repro.model.result import CellTime, Result

WARN_FRACTION = 0.8


def human_duration(seconds: float) -> str:
    """'4.2 s', '3 min 12 s', '1 h 2 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def human_bytes(size: float) -> str:
    """Decimal units, as people read them: '312 MB', '1.4 GB'."""
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    if size >= 1e6:
        return f"{size / 1e6:.0f} MB"
    return f"{size / 1e3:.0f} kB"


def _gpus(count: int) -> str:
    return "no GPU" if count == 0 else ("1 GPU" if count == 1 else f"{count} GPUs")


def cost_line(result: Result, gpus: int) -> str | None:
    """The one-line cost of a run (None when nothing ran, e.g. pending or skipped)."""
    report = result.resources
    if report is None:
        return None
    parts = [f"runs in {human_duration(result.duration_s)}"]
    if report.peak_memory_bytes:
        parts.append(f"peak memory {human_bytes(report.peak_memory_bytes)}")
    parts.append(_gpus(gpus))
    return ", ".join(parts)


def slowest_cells(result: Result, count: int = 5) -> list[CellTime]:
    """The ``count`` slowest cells, slowest first."""
    cells = result.resources.cells if result.resources else []
    return sorted(cells, key=lambda c: (-c.duration_s, c.cell))[:count]


def budget_warnings(
    result: Result, *, timeout_s: float, memory_bytes: int
) -> list[str]:
    """A line for each whole-run budget the run used more than 80 % of (a cell near its own budget
    is a warning of the result itself: :mod:`codeml_repro.run.batch.runnotes`)."""
    out = []
    used = result.duration_s / timeout_s if timeout_s else 0
    if used > WARN_FRACTION:
        out.append(
            f"the run took {human_duration(result.duration_s)}, {used:.0%} of its "
            f"{human_duration(timeout_s)} budget: a slower runner may time out (lower the work, or "
            "raise artifact.resources.timeout)"
        )
    peak = result.resources.peak_memory_bytes if result.resources else None
    if peak and memory_bytes > 0 and peak / memory_bytes > WARN_FRACTION:
        out.append(
            f"peak memory {human_bytes(peak)}, {peak / memory_bytes:.0%} of the {human_bytes(memory_bytes)} "
            "memory budget: use less data or smaller batches"
        )
    return out

"""The result of one submission's run: what ``status --json`` prints.

Frozen pydantic models, so results validate when read back from disk and
pickle across worker processes.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

# 2: allowed_errors, stopped_at, claims[].reached; status skipped, skip_reason, profile, resources
FORMAT_VERSION = 2


class Status(str, Enum):
    REPRODUCED = "reproduced"
    FUNCTIONAL = "functional"
    NOT_REPRODUCED = "not_reproduced"
    FAILED = "failed"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel_died"
    OUTPUT_LIMIT = "output_limit"
    INVALID = "invalid"
    PENDING = "pending"
    SKIPPED = "skipped"  # not run here: a declared resource (a GPU) is missing; see skip_reason


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ErrorInfo(_Frozen):
    """Why a run did not complete: the kernel's own exception name, and where."""

    type: str
    message: str
    cell: int | None = None


class ClaimResult(_Frozen):
    name: str
    expected: Any
    observed: Any = None
    ok: bool = False
    rel_tol: float | None = None
    abs_tol: float | None = None
    description: str = ""
    recorded: bool = False
    reached: bool = True  # False: never recorded because the notebook stopped itself before

    @field_serializer("observed")
    def _observed(self, value: Any) -> Any:
        """NaN and infinity are observations: kept as 'nan' / 'inf' / '-inf', not JSON null."""
        return repr(value) if isinstance(value, float) and not math.isfinite(value) else value


class MatrixCellResult(_Frozen):
    """One cell of ``artifact.matrix``: the versions it ran on, and how it ended."""

    versions: dict[str, str]  # package -> the exact version installed ("?" if none was)
    requested: dict[str, str] = Field(default_factory=dict)  # package -> the entry as written
    status: Status
    claims: list[ClaimResult] = Field(default_factory=list)
    duration_s: float = 0.0
    error: ErrorInfo | None = None
    key: str = ""
    finished_at: str | None = None
    lock: dict[str, str] = Field(default_factory=dict)  # every package of the cell's environment
    notebook: str | None = None
    sandbox: str = "off"
    warnings: list[str] = Field(default_factory=list)


class CellTime(_Frozen):
    """Wall time of one cell, indexed as the author's cells (injected cells not counted)."""

    cell: int
    duration_s: float


class ResourceReport(_Frozen):
    """What a run cost: peak memory of all its processes, CPU time, the notebook's size, cell times."""

    peak_memory_bytes: int | None = None
    cpu_s: float | None = None
    notebook_bytes: int | None = None
    cells: list[CellTime] = Field(default_factory=list)


class RunRecord(_Frozen):
    """One line of ``results/history/<slug>.jsonl``."""

    status: Status
    finished_at: str
    duration_s: float
    key: str = ""
    flaky: bool = False
    error_type: str | None = None


class Result(_Frozen):
    slug: str
    status: Status
    badges: list[str] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)
    duration_s: float = 0.0
    error: ErrorInfo | None = None
    flaky: bool = False
    finished_at: str | None = None
    format_version: int = FORMAT_VERSION
    key: str = ""
    inputs_key: str = ""
    title: str = ""
    sandbox: str = "off"
    environment: dict[str, Any] = Field(default_factory=dict)
    notebook: str | None = None
    output_truncated: bool = False
    repeats: int = 1
    warnings: list[str] = Field(default_factory=list)
    # Jupyter conventions (raises-exception, execution.allow_errors, sys.exit): errors the notebook
    # allowed, and the cell whose sys.exit(0) stopped the run.
    allowed_errors: list[ErrorInfo] = Field(default_factory=list)
    stopped_at: int | None = None
    matrix: list[MatrixCellResult] = Field(default_factory=list)
    skip_reason: str | None = None  # set with status skipped: "needs a GPU; this runner has none"
    profile: str = "full"  # the artifact profile that ran (see model.profiles)
    resources: ResourceReport | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_record(self) -> RunRecord:
        return RunRecord(
            status=self.status,
            finished_at=self.finished_at or "",
            duration_s=self.duration_s,
            key=self.key,
            flaky=self.flaky,
            error_type=self.error.type if self.error else None,
        )

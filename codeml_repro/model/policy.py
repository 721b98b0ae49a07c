"""The run policy: budgets and isolation, validated once and passed around.

Every budget is part of the skip key: a stricter budget must re-run.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codeml_repro.model import budgets

SandboxMode = Literal["required", "auto", "off"]
EnvMode = Literal["auto", "current"]


class RunPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=budgets.TIMEOUT_S, gt=0, description="Whole-run wall-clock budget.")
    max_timeout_s: float = Field(default=budgets.MAX_TIMEOUT_S, gt=0, description="Cap on artifact.timeout.")
    cell_timeout_s: float = Field(default=budgets.CELL_TIMEOUT_S, gt=0, description="Per-cell budget.")
    max_output_bytes: int = Field(default=budgets.MAX_OUTPUT_BYTES, gt=0, description="Cap on all outputs.")
    memory_bytes: int = Field(default=budgets.MEMORY_BYTES, gt=0, description="Address-space cap.")
    max_processes: int = Field(default=budgets.MAX_PROCESSES, gt=0, description="Processes in the sandbox.")
    max_file_bytes: int = Field(default=budgets.MAX_FILE_BYTES, gt=0, description="Largest file written.")
    cpu_seconds: int = Field(default=budgets.CPU_SECONDS, gt=0, description="CPU time of the kernel.")
    sandbox: SandboxMode = "auto"
    env: EnvMode = "auto"

    def effective_timeout(self, artifact_timeout: int | None) -> float:
        """The author's timeout, capped by policy; else the policy default."""
        if artifact_timeout is None:
            return self.timeout_s
        return min(float(artifact_timeout), self.max_timeout_s)

    def budget_key(self) -> dict[str, object]:
        """The part of the policy that changes outcomes (for the skip key).

        Isolation counts too: a result from ``--sandbox off`` must not stand in
        for a sandboxed run.
        """
        return self.model_dump()


def default_sandbox_mode() -> SandboxMode:
    """CI requires the sandbox; a laptop falls back with a warning."""
    return "required" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "auto"

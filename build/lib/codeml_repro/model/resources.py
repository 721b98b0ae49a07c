"""``artifact.resources``: the hardware and time an artifact declares it needs.

Authors state what their notebook needs (ACM's artifact checklists ask for it);
the runner either provides it or says plainly that it cannot, recording the run
as ``skipped`` instead of calling a GPU notebook "failed". The caps are the run
policy's: a declaration above one is invalid, naming the cap, because no runner
of the workshop would ever provide it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeml_repro.model.budgets import MAX_TIMEOUT_S

MAX_GPUS = 8
MAX_MEMORY_GB = 64
MAX_CPUS = 64


def _capped(value: float | None, cap: float, unit: str) -> float | None:
    if value is not None and value > cap:
        raise ValueError(f"must be at most {cap:g}{unit} (the run policy's cap)")
    return value


class Resources(BaseModel):
    """What one run of the notebook needs; every field optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: int = Field(default=0, ge=0, description=f"Number of GPUs the notebook needs (0..{MAX_GPUS}).")
    memory_gb: float | None = Field(
        default=None, gt=0, description=f"Memory the run needs, in GB (at most {MAX_MEMORY_GB})."
    )
    cpus: int | None = Field(default=None, ge=1, description=f"CPU cores the run needs (at most {MAX_CPUS}).")
    timeout: int | None = Field(
        default=None, gt=0, description=f"Whole-run seconds, at most {MAX_TIMEOUT_S}."
    )

    @field_validator("gpu")
    @classmethod
    def _gpu_cap(cls, value: int) -> int:
        _capped(value, MAX_GPUS, "")
        return value

    @field_validator("memory_gb")
    @classmethod
    def _memory_cap(cls, value: float | None) -> float | None:
        return _capped(value, MAX_MEMORY_GB, " GB")

    @field_validator("cpus")
    @classmethod
    def _cpus_cap(cls, value: int | None) -> int | None:
        _capped(value, MAX_CPUS, "")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_cap(cls, value: int | None) -> int | None:
        _capped(value, MAX_TIMEOUT_S, " s")
        return value

    def overridden(self, other: Resources) -> Resources:
        """These resources with the fields ``other`` sets explicitly (a profile's overrides)."""
        return self.model_copy(update=other.model_dump(exclude_unset=True))

    def describe(self) -> str:
        """'1 GPU, 8 GB, 4 CPUs' for people; 'no GPU' when nothing special is declared."""
        parts = [f"{self.gpu} GPU{'s' if self.gpu > 1 else ''}" if self.gpu else "no GPU"]
        if self.memory_gb is not None:
            parts.append(f"{self.memory_gb:g} GB of memory")
        if self.cpus is not None:
            parts.append(f"{self.cpus} CPU{'s' if self.cpus > 1 else ''}")
        return ", ".join(parts)


def merge_timeout_alias(data: object) -> object:
    """``artifact.timeout`` is an alias of ``artifact.resources.timeout``: copy it there.

    Used by the artifact model before validation; two different values are an
    error the validator reports on ``artifact.timeout``.
    """
    if not isinstance(data, dict) or data.get("timeout") is None:
        return data
    resources = data.get("resources")
    if resources is None:
        resources = {}
    if not isinstance(resources, dict):
        return data  # reported by the resources field itself
    if "timeout" in resources and resources["timeout"] != data["timeout"]:
        raise ValueError(
            "timeout: an alias of resources.timeout, and the two differ; keep only resources.timeout"
        )
    return {**data, "resources": {**resources, "timeout": data["timeout"]}}


def short_need(skip_reason: str) -> str:
    """'needs a GPU' from 'needs a GPU; this runner has none' (what the book shows): the
    runner's skip reason names the need first, then this runner's lack of it."""
    return skip_reason.split(";", 1)[0].strip()

"""Does this machine have what a submission declares it needs?

A run on a machine without a declared GPU, or with less memory than declared,
does not execute the notebook: it is recorded as ``skipped`` with a reason a
reader understands ("needs a GPU; this runner has none"). That is the honest
answer for a GPU notebook on a CPU runner, instead of a misleading failure.
Fewer CPU cores than declared only makes a run slower, so it never skips.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from codeml_repro.model.resources import Resources
from codeml_repro.run.sandbox.gpu import detect_gpus

GB = 1024**3


@dataclass(frozen=True)
class Machine:
    """What this runner offers a run."""

    gpus: int
    memory_bytes: int
    cpus: int


def this_machine() -> Machine:
    """The GPUs, memory and cores of the machine this process runs on."""
    import psutil

    host = detect_gpus()
    return Machine(
        gpus=host.gpus if host else 0,
        memory_bytes=int(psutil.virtual_memory().total),
        cpus=os.cpu_count() or 1,
    )


def _gpus(count: int) -> str:
    return "a GPU" if count == 1 else f"{count} GPUs"


def missing_resource(needs: Resources, machine: Machine) -> str | None:
    """Why this machine cannot run a submission needing ``needs`` (None when it can)."""
    if needs.gpu > machine.gpus:
        has = "none" if machine.gpus == 0 else str(machine.gpus)
        return f"needs {_gpus(needs.gpu)}; this runner has {has}"
    if needs.memory_gb is not None and needs.memory_gb * GB > machine.memory_bytes:
        return (
            f"needs {needs.memory_gb:g} GB of memory; this runner has "
            f"{machine.memory_bytes / GB:.1f} GB"
        )
    return None

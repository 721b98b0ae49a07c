"""GPUs: finding them on the host, exposing them to the sandbox, recording what they were.

One small interface, :class:`GpuVendor` (``detect() -> GpuHost | None``), so
that AMD/ROCm (``/dev/kfd``, ``/dev/dri``, ``rocm-smi``) can follow NVIDIA.
A :class:`GpuHost` knows its device nodes (bound into the sandbox with
``--dev-bind``: bwrap's fresh ``/dev`` has none), the driver libraries (bound
read-only) and what to record with the result (model, driver, CUDA version).

Detection reads device nodes and runs ``nvidia-smi`` on the host, never in the
sandbox and never with anything of the author's. Tests pass a fake device
folder and a fake ``nvidia-smi``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

_NVIDIA_GPU_NODE = re.compile(r"^nvidia\d+$")
_CUDA_VERSION = re.compile(r"CUDA Version:\s*([0-9.]+)")
# Where distributions put the NVIDIA user-space driver (libcuda, libnvidia-ml, ...).
NVIDIA_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/local/nvidia/lib64",
)
NVIDIA_LIB_PATTERNS = ("libcuda.so*", "libnvidia-*.so*", "libnvidia-ml.so*", "libcudadebugger.so*")


@dataclass(frozen=True)
class GpuHost:
    """The GPUs one host offers a run."""

    vendor: str
    gpus: int  # how many GPUs (what ``artifact.resources.gpu`` is compared with)
    devices: tuple[Path, ...]  # every device node the driver needs, GPUs and control nodes
    libraries: tuple[Path, ...] = ()
    info: dict[str, str] = field(default_factory=dict)  # model, driver, cuda: recorded with the result

    def sandbox_args(self) -> list[str]:
        """bwrap arguments exposing the devices (read-write, as CUDA needs) and the libraries (read-only)."""
        args: list[str] = []
        for dev in self.devices:
            args += ["--dev-bind", str(dev), str(dev)]
        for lib in self.libraries:
            args += ["--ro-bind", str(lib), str(lib)]
        return args

    def describe(self) -> dict[str, object]:
        """What the result's environment records about the GPUs."""
        return {"vendor": self.vendor, "count": self.gpus, **self.info}


class GpuVendor(Protocol):
    """One vendor's way of finding GPUs."""

    def detect(self) -> GpuHost | None:
        """The host's GPUs of this vendor, or None when it has none."""
        ...


@dataclass(frozen=True)
class NvidiaGpus:
    """NVIDIA GPUs: ``/dev/nvidia*`` nodes and ``nvidia-smi``."""

    dev_dir: Path = Path("/dev")
    smi: str | None = None  # path of nvidia-smi; None: looked up on PATH
    lib_dirs: Sequence[str] = NVIDIA_LIB_DIRS

    def detect(self) -> GpuHost | None:
        try:
            nodes = sorted(p for p in self.dev_dir.glob("nvidia*") if not p.is_dir())
        except OSError:
            return None
        gpus = [p for p in nodes if _NVIDIA_GPU_NODE.match(p.name)]
        if not gpus:
            return None
        caps = self.dev_dir / "nvidia-caps"
        if caps.is_dir():
            nodes += sorted(caps.iterdir())
        return GpuHost("nvidia", len(gpus), tuple(nodes), self._libraries(), self._info())

    def _libraries(self) -> tuple[Path, ...]:
        found: set[Path] = set()
        for folder in self.lib_dirs:
            for pattern in NVIDIA_LIB_PATTERNS:
                found.update(Path(folder).glob(pattern))
        return tuple(sorted(found))

    def _info(self) -> dict[str, str]:
        """Model and driver from ``--query-gpu``; the CUDA version from the banner."""
        smi = self.smi or shutil.which("nvidia-smi")
        if smi is None:
            return {}
        query = _run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"])
        info: dict[str, str] = {}
        first = query.strip().splitlines()[0] if query.strip() else ""
        if "," in first:
            name, driver = (part.strip() for part in first.split(",", 1))
            info.update(model=name, driver=driver)
        cuda = _CUDA_VERSION.search(_run([smi]))
        if cuda:
            info["cuda"] = cuda.group(1)
        return info


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def vendors() -> list[GpuVendor]:
    """The vendors looked for, in order (AMD/ROCm would be added here)."""
    return [NvidiaGpus()]


def detect_gpus(found_by: Sequence[GpuVendor] | None = None) -> GpuHost | None:
    """The first vendor's GPUs found on this host, or None."""
    for vendor in vendors() if found_by is None else found_by:
        host = vendor.detect()
        if host is not None:
            return host
    return None

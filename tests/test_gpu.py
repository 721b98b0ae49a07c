"""GPU detection and binding, on this GPU-less machine: a fake device folder and a fake nvidia-smi."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from codeml_repro.model.resources import Resources
from codeml_repro.run.plan.hardware import Machine, missing_resource
from codeml_repro.run.sandbox import bwrap, launch
from codeml_repro.run.sandbox.gpu import GpuHost, NvidiaGpus, detect_gpus
from codeml_repro.run.sandbox.rundir import RunDirs

SMI = """#!/bin/sh
if [ "$1" = "--query-gpu=name,driver_version" ]; then
  echo "NVIDIA A100-SXM4-40GB, 535.104.05"
  echo "NVIDIA A100-SXM4-40GB, 535.104.05"
else
  echo "| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |"
fi
"""


def fake_host(tmp_path: Path) -> NvidiaGpus:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (dev / name).write_text("")
    libs = tmp_path / "lib"
    libs.mkdir()
    for name in ("libcuda.so.535.104.05", "libnvidia-ml.so.1", "libm.so.6"):
        (libs / name).write_text("")
    smi = tmp_path / "nvidia-smi"
    smi.write_text(SMI)
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    return NvidiaGpus(dev_dir=dev, smi=str(smi), lib_dirs=[str(libs)])


def test_fake_nvidia_host_is_detected_with_model_driver_and_cuda(tmp_path: Path) -> None:
    host = detect_gpus([fake_host(tmp_path)])
    assert host is not None
    assert host.gpus == 2  # nvidia0 and nvidia1; control nodes are not GPUs
    assert sorted(p.name for p in host.devices) == ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
    assert sorted(p.name for p in host.libraries) == ["libcuda.so.535.104.05", "libnvidia-ml.so.1"]
    assert host.describe() == {
        "vendor": "nvidia", "count": 2, "model": "NVIDIA A100-SXM4-40GB",
        "driver": "535.104.05", "cuda": "12.2",
    }
    assert missing_resource(Resources(gpu=2), Machine(host.gpus, 8 * 1024**3, 4)) is None
    assert missing_resource(Resources(gpu=3), Machine(host.gpus, 8 * 1024**3, 4)) == (
        "needs 3 GPUs; this runner has 2"
    )


def test_no_device_nodes_means_no_gpu(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "nvidiactl").write_text("")  # a driver without a GPU node
    assert NvidiaGpus(dev_dir=tmp_path / "dev", smi="/nonexistent").detect() is None
    assert detect_gpus([]) is None


def test_the_sandbox_binds_the_fake_devices_and_libraries(tmp_path: Path) -> None:
    host = detect_gpus([fake_host(tmp_path)])
    assert isinstance(host, GpuHost)
    root = tmp_path / "run"
    dirs = RunDirs(root, root / "work", root / "conn", root / "shim", root / "home")
    for path in (dirs.work, dirs.conn, dirs.shim, dirs.home):
        path.mkdir(parents=True)
    choice = bwrap.SandboxChoice("bwrap", bwrap="/usr/bin/bwrap", version="0.8.0")
    limits = launch.Limits(1024**3, 60, 64, 1024**2)
    argv = launch.build_launch(
        choice, dirs, sys.executable, limits, "marker", devices=host.sandbox_args()
    ).argv
    dev = tmp_path / "dev"
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        i = argv.index(str(dev / name))
        assert argv[i - 1] == "--dev-bind" and argv[i + 1] == str(dev / name)
    assert str(dev / "null") not in argv
    lib = str(tmp_path / "lib" / "libcuda.so.535.104.05")
    assert argv[argv.index(lib) - 1] == "--ro-bind"  # driver libraries: read-only
    assert argv.index("--dev") < argv.index("--dev-bind")  # after the fresh /dev, or it would hide them
    assert argv.index("--dev-bind") < argv.index("--")

    plain = launch.build_launch(choice, dirs, sys.executable, limits, "marker")
    assert "--dev-bind" not in plain.argv  # no GPU declared: none bound


def test_declared_memory_raises_the_run_s_memory_cap(tmp_path: Path) -> None:
    from codeml_repro.model.submission import Submission, SubmissionSpec
    from codeml_repro.run.kernel.prepare import declared_limits

    base = launch.Limits(4 * 1024**3, 60, 64, 1024**2)

    def sub(resources: dict[str, object]) -> Submission:
        spec = SubmissionSpec(title="T", authors=[{"name": "A"}], artifact={"resources": resources})
        return Submission("s", tmp_path, spec)

    assert declared_limits(sub({"memory_gb": 16}), base).memory_bytes == 16 * 1024**3
    assert declared_limits(sub({"memory_gb": 2}), base).memory_bytes == 4 * 1024**3  # never lowered
    assert declared_limits(sub({}), base) == base

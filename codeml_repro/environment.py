"""The Python environment a submission's kernel runs in.

``env="current"`` (or no requirements) uses the toolkit's own interpreter.
Otherwise a venv is created with ``uv`` from the submission's requirements,
with ipykernel, cached under ``$CODEML_CACHE/envs/<hash>`` (default
``~/.cache/codeml-repro/envs``) and guarded by a file lock so parallel runs
build it once. The kernel imports ``codeml_repro.record`` from a shim on its
``PYTHONPATH`` (see the runner), so a venv never needs the toolkit itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from codeml_repro.errors import EnvironmentFailed
from codeml_repro.policy import EnvMode
from codeml_repro.submission import Submission

EnvKind = Literal["current", "venv"]
ENV_FORMAT = 1  # bump to rebuild every cached environment
KERNEL_REQUIREMENT = "ipykernel>=6.29"
KEY_PACKAGES = (
    "ipykernel",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "torch",
    "jax",
    "matplotlib",
    "papermill",
    "nbclient",
)
COMPLETE_MARKER = ".codeml-complete.json"
_VERSIONS_SCRIPT = (
    "import json, platform, sys\n"
    "from importlib import metadata\n"
    "pk = {}\n"
    "for d in metadata.distributions():\n"
    "    name = d.metadata['Name']\n"
    "    if name: pk[name.lower()] = d.version\n"
    "print(json.dumps({'python': platform.python_version(), 'implementation':"
    " platform.python_implementation(), 'packages': pk}))\n"
)


@dataclass(frozen=True)
class KernelEnv:
    """An interpreter with ipykernel, and what it contains."""

    kind: EnvKind
    python: str
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)
    requirements_hash: str | None = None
    path: str | None = None  # the venv directory

    def describe(self) -> dict[str, Any]:
        """What the run records as its environment."""
        out: dict[str, Any] = {
            "env_kind": self.kind,
            "python": self.python_version,
            "python_executable": self.python,
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "packages": dict(sorted(self.packages.items())),
        }
        if self.requirements_hash:
            out["requirements_hash"] = self.requirements_hash
        return out


def cache_root() -> Path:
    """``$CODEML_CACHE`` or ``~/.cache/codeml-repro``."""
    env = os.environ.get("CODEML_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "codeml-repro"


def requirements_hash(text: str, python_version: str) -> str:
    """Hash of the normalized requirements, the interpreter and the env format."""
    lines = sorted({ln.split("#", 1)[0].strip() for ln in text.splitlines()} - {""})
    key = json.dumps([ENV_FORMAT, python_version, KERNEL_REQUIREMENT, lines])
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _current_packages(names: set[str]) -> dict[str, str]:
    out = {}
    for name in sorted(names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        for sep in "[<>=!~; @":
            line = line.split(sep, 1)[0]
        names.add(line.strip().lower().replace("_", "-"))
    return names


def current_env(extra: Iterable[str] = ()) -> KernelEnv:
    """The toolkit's own interpreter (versions of key packages and of ``extra``)."""
    packages = _current_packages({*KEY_PACKAGES, *extra})
    return KernelEnv("current", sys.executable, platform.python_version(), packages)


def prepare_environment(sub: Submission, mode: EnvMode, *, offline: bool | None = None) -> KernelEnv:
    """The environment to run ``sub`` in; builds (or reuses) a venv when needed."""
    req = sub.requirements_path
    if mode == "current" or req is None:
        extra = _requirement_names(req.read_text()) if req is not None and req.is_file() else set()
        return current_env(extra)
    if not req.is_file():
        raise EnvironmentFailed(
            f"{req}: requirements file not found; create it or remove artifact.requirements"
        )
    if offline is None:
        offline = os.environ.get("CODEML_OFFLINE", "") not in ("", "0")
    return venv_for(req, offline=offline)


def venv_for(requirements: Path, *, offline: bool = False, root: Path | None = None) -> KernelEnv:
    """A cached venv with ``requirements`` and ipykernel, created once under a file lock."""
    from filelock import FileLock

    text = requirements.read_text()
    digest = requirements_hash(text, platform.python_version())
    envs = (root or cache_root()) / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    target = envs / digest
    with FileLock(str(envs / f"{digest}.lock"), timeout=1800):
        if not (target / COMPLETE_MARKER).is_file():
            _build_venv(target, requirements, offline=offline)
        info = json.loads((target / COMPLETE_MARKER).read_text())
    return KernelEnv(
        "venv",
        str(target / "bin" / "python"),
        info["python"],
        info["packages"],
        requirements_hash=digest,
        path=str(target),
    )


def _uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    candidate = Path(sys.executable).parent / "uv"
    if candidate.is_file():
        return str(candidate)
    raise EnvironmentFailed("uv not found on PATH; install it with `pip install uv`")


def _run(argv: list[str], what: str, requirements: Path) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentFailed(f"{requirements}: {what} failed: {exc}") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        detail = " | ".join(lines[-3:]) if lines else f"exit code {proc.returncode}"
        raise EnvironmentFailed(f"{requirements}: {what} failed: {detail}")
    return proc.stdout


def _build_venv(target: Path, requirements: Path, *, offline: bool) -> None:
    """Create the venv at ``target`` (replacing a half-built one); mark it complete last."""
    if target.exists():
        shutil.rmtree(target)
    uv = _uv()
    flags = ["--offline"] if offline else []
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(target)], "uv venv", requirements)
    python = str(target / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--python", python, *flags]
    # --no-build: never run an sdist's setup code on the host while installing.
    install += ["--no-build", "-r", str(requirements), KERNEL_REQUIREMENT]
    _run(install, "uv pip install", requirements)
    info = json.loads(_run([python, "-c", _VERSIONS_SCRIPT], "reading package versions", requirements))
    (target / COMPLETE_MARKER).write_text(json.dumps(info))

"""Environments of a notebook's era: one resolution, as of a date, on a chosen interpreter.

The kernel's own packages (ipykernel and what it pulls in: IPython, matplotlib-inline, ...) are
resolved *together with* the author's requirements by one ``uv pip compile``, so the author's pins
constrain them: a notebook pinned to matplotlib 3.6 does not get IPython 9, whose
``%matplotlib inline`` needs a newer matplotlib (``cannot import name 'backend2gui'``).
``artifact.environment.as_of`` resolves every requirement not pinned exactly as of that date
(uv's ``--exclude-newer``), kernel packages included; an exact pin (``pandas==1.5.3``) is exempt
(``--exclude-newer-package pandas=false``), so a date never makes the author's own pin
unsatisfiable. Without ``as_of``, exact pins still date the kernel's packages: see
:mod:`.era`. The resolved set (the lock) is then installed exactly (``--no-deps``) and recorded
with each result.

``artifact.environment.python`` picks an interpreter the host already has; uv is never allowed to
download one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.requirements import logical_lines
from codeml_repro.model.submission import SUBMISSION_FILE, Submission

# The kernel's packages, resolved with the author's requirements. ipykernel 6 is the oldest
# the runner drives (IPC transport, the launcher module); the era picks which 6.x or later.
KERNEL_REQUIREMENT = "ipykernel>=6"
KERNEL_INPUT = "codeml-kernel.in"
LOCK_FILE = "codeml-lock.txt"
# The kernel's packages an inferred era dates (see run/env/era.py): what a notebook's ``%matplotlib
# inline`` and display path run through, and what breaks an older stack when newer.
KERNEL_PACKAGES = ("ipykernel", "ipython", "matplotlib-inline", "jupyter-client", "pyzmq", "tornado",
                   "traitlets")
OWN_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
"""The toolkit's own ``major.minor``: :func:`host_pythons` gives it the toolkit's own interpreter."""


@dataclass(frozen=True)
class Era:
    """What an environment is resolved for: a date (or none: today) and an interpreter."""

    as_of: date | None = None
    python: str | None = None  # "3.11"; None: the toolkit's own interpreter
    # The kernel's packages resolve as of this day (inferred from the exact pins' upload dates when
    # ``as_of`` is not given: run/env/era.py). Not in the key: the pins it comes from are.
    kernel_as_of: date | None = None

    def key(self) -> list[str]:
        """Part of the environment's cache key (empty for the default era, so old keys stay)."""
        out = []
        if self.as_of is not None:
            out.append(f"as_of={self.as_of.isoformat()}")
        if self.python is not None:
            out.append(f"python={self.python}")
        return out


def era_of(sub: Submission) -> Era:
    return Era(as_of=sub.spec.artifact.environment.as_of, python=asked_python(sub))


def asked_python(sub: Submission) -> str | None:
    """The interpreter ``sub`` asks for (``artifact.environment.python``), None when that is the
    toolkit's own version: :func:`host_pythons` gives that version the toolkit's own interpreter, so
    asking for it builds the same environment as not asking, and must find it under the same key."""
    wanted = sub.spec.artifact.environment.python
    return None if wanted == OWN_PYTHON else wanted


def exact_pins(text: str) -> dict[str, str]:
    """``{canonical name: version}`` of the requirements pinned exactly (``name==1.2.3``; not
    ``==1.2.*``, not a range), in the file's order."""
    pins: dict[str, str] = {}
    for _number, line in logical_lines(text):
        bare = re.sub(r"\s--hash[=\s]\s*\S+", "", " " + line).strip()
        try:
            requirement = Requirement(bare)
        except InvalidRequirement:
            continue  # an option or a local wheel: nothing pinned by name
        specs = list(requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def _cutoff_after(day: date) -> str:
    """The end of ``day`` in UTC as uv reads a timestamp: uploads that day are in."""
    return f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"


def compile_argv(uv: str, requirements: Path, kernel_input: Path, python: str, era: Era,
                 flags: list[str], pinned: Collection[str] = ()) -> list[str]:
    """``uv pip compile`` of the author's requirements and the kernel's, in one resolution.

    ``pinned`` (the exactly pinned names) are exempt from any date: the author's pin stands.
    """
    argv = [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--no-build"]
    argv += ["--python", python, "--no-python-downloads", *flags]
    if era.as_of is not None:
        argv += ["--exclude-newer", era.as_of.isoformat()]
        for name in sorted(pinned):
            argv += ["--exclude-newer-package", f"{name}=false"]
    if era.kernel_as_of is not None:
        for name in KERNEL_PACKAGES:
            if name not in pinned:
                argv += ["--exclude-newer-package", f"{name}={_cutoff_after(era.kernel_as_of)}"]
    return [*argv, str(requirements), str(kernel_input)]


def lock_header(era: Era) -> str:
    """The lock file's first lines: the dates it was resolved as of (comments: uv skips them)."""
    lines = [f"# as of {era.as_of.isoformat()} (exact pins exempt)"] if era.as_of else []
    if era.kernel_as_of is not None:
        lines.append(f"# kernel packages ({', '.join(KERNEL_PACKAGES)}) as of "
                     f"{era.kernel_as_of.isoformat()}, inferred from the exact pins' upload dates")
    return "".join(line + "\n" for line in lines)


def install_argv(uv: str, python: str, lock: Path, flags: list[str]) -> list[str]:
    """Install exactly the lock: no resolution, no dependency added, never a source build."""
    return [uv, "pip", "install", "--quiet", "--python", python, *flags, "--no-deps", "--no-build",
            "-r", str(lock)]


def bytecode_argv(python: str, venv: Path) -> list[str]:
    """Compile a venv's packages (not their test suites) to bytecode at build time, so a kernel
    (which runs with ``PYTHONDONTWRITEBYTECODE``) does not compile IPython, numpy, ... at every
    start: for the base environment, which many runs share (about half of an empty run's time).
    ``-I -S``: no ``site``, so no ``.pth`` file of a wheel runs; compiling never executes a module."""
    libs = sorted(str(lib) for lib in venv.glob("lib/python*"))
    return [python, "-I", "-S", "-m", "compileall", "-q", "-j", "0", "-x", "/tests?/", *libs]


def lock_lines(text: str) -> list[str]:
    """The ``name==version`` lines of uv's output, sorted (comments and options dropped)."""
    lines = {ln.split("#", 1)[0].strip() for ln in text.splitlines()}
    return sorted(ln for ln in lines if ln and not ln.startswith("-"))


@functools.lru_cache(maxsize=1)
def host_pythons() -> dict[str, str]:
    """``major.minor`` -> interpreter path for every CPython the host has (the toolkit's first).

    Asked of ``uv python list`` (never downloading one); without uv, only the toolkit's own.
    """
    found = {OWN_PYTHON: sys.executable}
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "NO_COLOR": "1"}
    env |= {k: v for k, v in os.environ.items() if k in ("UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME")}
    argv = [uv, "python", "list", "--only-installed", "--no-python-downloads", "--output-format", "json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)
        entries = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return found
    for entry in entries if isinstance(entries, list) else []:
        version, path = str(entry.get("version", "")), entry.get("path")
        if entry.get("implementation") != "cpython" or not isinstance(path, str) or not Path(path).is_file():
            continue
        found.setdefault(".".join(version.split(".")[:2]), path)
    return found


def pick_python(sub: Submission, pythons: dict[str, str] | None = None) -> str:
    """The interpreter for ``sub``; an unavailable version is invalid, naming the available ones."""
    wanted = sub.spec.artifact.environment.python
    if wanted is None:
        return sys.executable
    pythons = host_pythons() if pythons is None else pythons
    if wanted in pythons:
        return pythons[wanted]
    have = ", ".join(f'"{v}"' for v in sorted(pythons, key=lambda v: tuple(map(int, v.split(".")))))
    raise SubmissionInvalid(
        f"{sub.folder / SUBMISSION_FILE}: artifact.environment.python: \"{wanted}\" is not available "
        f"here; this host runs notebooks on Python {have}; {ci_python(wanted)}"
    )


def ci_python(version: str) -> str:
    """Where a Python this runner lacks comes from: CI's install step, which has the network."""
    return (f"CI, where `uv python install` reaches the network, can provide Python {version} "
            "(`codeml-repro env build` installs the Pythons the submissions ask for)")


NO_WHEELS = re.compile(
    r"Because ([A-Za-z0-9._-]+)==([A-Za-z0-9.!+*-]+) has no (?:usable wheels|wheels with a matching)"
)


def _resolve_one(uv: str, requirement: str, python: str, flags: list[str], lowest: bool,
                 env: dict[str, str]) -> str | None:
    argv = [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--no-build",
            "--no-python-downloads", "--python", python, *flags]
    if lowest:
        argv += ["--resolution", "lowest-direct"]
    try:
        proc = subprocess.run([*argv, "-"], input=requirement + "\n", capture_output=True, text=True,
                              timeout=120, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    name = requirement.split(">", 1)[0].strip().lower()
    for line in lock_lines(proc.stdout) if proc.returncode == 0 else []:
        dist, _, version = line.partition("==")
        if re.sub(r"[-_.]+", "-", dist).lower() == re.sub(r"[-_.]+", "-", name):
            return version
    return None


def explain_no_wheels(message: str, uv: str, python: str, python_version: str, flags: list[str],
                      env: dict[str, str]) -> str:
    """The wheels-only refusal with what to pin instead: the interpreter the wheel must match,
    the first version after the pinned one with a wheel for it, and the newest."""
    found = NO_WHEELS.search(message)
    if found is None:
        return message
    name, pinned = found.group(1), found.group(2)
    first = _resolve_one(uv, f"{name}>={pinned}", python, flags, True, env)
    newest = _resolve_one(uv, name, python, flags, False, env)
    minor = ".".join(python_version.split(".")[:2])
    advice = f"{name} {pinned} publishes no wheel for Python {minor} on Linux (wheels only: nothing is built)"
    if first is not None:
        advice += f"; the first version after it with one is {first}"
    if newest is not None and newest != first:
        advice += f", the newest {newest}"
    return f"{message} ({advice})"

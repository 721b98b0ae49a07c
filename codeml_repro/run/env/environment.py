"""The Python environment a submission's kernel runs in.

``env="current"`` uses the toolkit's own interpreter (for development).
Otherwise a venv is created with ``uv`` from the submission's requirements
(without any: the base environment's, see :mod:`.baseenv`), with ipykernel,
cached under ``<cache>/envs/<hash>`` (``RunPolicy.cache``: ``$CODEML_CACHE``, default
``~/.cache/codeml-repro``; handed down, never looked up here) and guarded by a
file lock so parallel runs build it once. The kernel imports ``codeml_repro.record``
from a shim on its ``PYTHONPATH`` (see the runner), so a venv never needs the
toolkit itself.

Nothing from the venv runs on the host: uv installs wheels only (``--no-build``)
with an environment holding no secrets, and the versions recorded for a run are
read from the venv's ``*.dist-info/METADATA`` files, never by starting its
interpreter (a ``.pth`` file in any wheel would run code there).
"""

from __future__ import annotations

import dataclasses
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

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.matrix import replace_pins
from codeml_repro.model.policy import EnvMode, IndexSettings
from codeml_repro.model.requirements import local_files_digest
from codeml_repro.model.shownpaths import scrub_prefixes
from codeml_repro.model.submission import Submission
from codeml_repro.run.env import lock as era_lock
from codeml_repro.run.env.baseenv import BASE_AS_OF, BASE_REQUIREMENTS
from codeml_repro.run.env.era import Inferred, UploadDates, explain_python, kernel_era
from codeml_repro.run.env.lock import KERNEL_REQUIREMENT, Era, exact_pins
from codeml_repro.run.env.uvtool import find_uv, uv_env, uv_error, uv_index_args
from codeml_repro.run.env.venvinfo import read_venv_info

EnvKind = Literal["current", "venv", "kernel"]
ENV_FORMAT = 1  # bump to rebuild every cached environment
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


@dataclass(frozen=True)
class KernelEnv:
    """An interpreter with ipykernel, and what it contains."""

    kind: EnvKind
    python: str
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)
    requirements_hash: str | None = None
    path: str | None = None  # the venv directory
    lock: tuple[str, ...] = ()  # the resolved set, name==version (see run/env/lock.py)
    base: bool = False  # the base environment (run/env/baseenv.py), not one built from the author's file
    notes: tuple[str, ...] = ()  # warnings for the run's result (what the environment did not honour)
    kernelspec: str | None = None  # kind "kernel": the host kernelspec configured for the language
    # the kernel's era inferred from the pins (run/env/era.py)
    era: dict[str, Any] = field(default_factory=dict)

    @property
    def cache(self) -> Path | None:
        """The cache folder a venv was built in (``<cache>/envs/<key>``); None for other kinds."""
        return Path(self.path).parent.parent if self.kind == "venv" and self.path else None

    def describe(self) -> dict[str, Any]:
        """What the run records as its environment."""
        out: dict[str, Any] = {
            "env_kind": self.kind,
            "python": self.python_version,
            "python_executable": shown_host_path(self.python, self.cache),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "packages": dict(sorted(self.packages.items())),
        }
        if self.requirements_hash:
            out["requirements_hash"] = self.requirements_hash
        if self.lock:
            out["lock"] = list(self.lock)
        if self.base:
            out["base"] = True
        if self.kernelspec:
            out["kernelspec"] = self.kernelspec
        if self.era:
            out["era"] = dict(self.era)
        return out


def envs_dir(cache: Path) -> Path:
    """Where environments are cached in the cache folder ``cache`` (made on first use)."""
    envs = cache / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    return envs


def requirements_hash(
    text: str, python_version: str, index: IndexSettings | None = None, era: Era | None = None,
    local: str = "",
) -> str:
    """Hash of the normalized requirements, the interpreter, the env format and the index.

    The default index adds nothing, so environments built before index settings existed
    keep their hash.
    """
    lines = sorted({ln.split("#", 1)[0].strip() for ln in text.splitlines()} - {""})
    parts: list[Any] = [ENV_FORMAT, python_version, KERNEL_REQUIREMENT, lines]
    if index is not None and not index.is_default:
        parts.append(index.model_dump())
    if era is not None and era.key():
        parts.append(era.key())
    if (era is None or era.as_of is None) and exact_pins(text):
        parts.append("kernel_era=pins")  # the kernel's packages dated by the pins (run/env/era.py)
    if local:  # the bytes of local wheels and folders the requirements name
        parts.append({"local": local})
    key = json.dumps(parts)
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


def current_env_notes(sub: Submission) -> tuple[str, ...]:
    """What ``--env current`` leaves out of ``sub``'s ``artifact.environment``, said in its result.

    The toolkit's own interpreter is a development mode: a submission asking for another Python
    or an era runs anyway, and its result must not read as if it ran on what it asked for.
    """
    wanted = sub.spec.artifact.environment
    ignored = []
    if era_lock.asked_python(sub) is not None:
        ignored.append(f'artifact.environment.python "{wanted.python}"')
    if wanted.as_of is not None:
        ignored.append(f"artifact.environment.as_of {wanted.as_of.isoformat()}")
    if not ignored:
        return ()
    return (
        f"{' and '.join(ignored)} not honoured: --env current runs the notebook on the toolkit's own "
        f"Python {platform.python_version()} and packages (a development mode); run with --env auto "
        "to get the environment the submission asks for",
    )


def prepare_environment(
    sub: Submission, mode: EnvMode, *, cache: Path, offline: bool = False, index: IndexSettings | None = None
) -> KernelEnv:
    """The environment to run ``sub`` in; builds (or reuses) a venv unless ``mode`` is ``current``.

    A submission without requirements gets the base environment (:mod:`.baseenv`). ``cache``
    (``RunPolicy.cache``) is the cache folder the venv is kept in; ``index`` (default: uv's own
    index) says where uv finds packages; ``offline`` (``RunPolicy.offline``) keeps uv off the network.
    """
    req = sub.requirements_path
    if sub.pins and (mode == "current" or req is None):
        raise EnvironmentFailed(
            f"{sub.slug}: a matrix cell needs an environment of its own (requirements.txt, --env auto)"
        )
    if mode == "current":
        extra = _requirement_names(req.read_text()) if req is not None and req.is_file() else set()
        return dataclasses.replace(current_env(extra), notes=current_env_notes(sub))
    if req is not None and not req.is_file():
        raise EnvironmentFailed(
            f"{_label(req)}: requirements file not found; create it or remove artifact.requirements"
        )
    source, text, era = env_source(sub)
    python = era_lock.pick_python(sub) if era.python else None
    return venv_for(source, root=cache, offline=offline, index=index, text=text, era=era, python=python)


def env_source(sub: Submission) -> tuple[Path, str | None, Era]:
    """The requirements file ``sub``'s venv is built from, its replaced text (a matrix cell's pins,
    else None) and its era; the base environment's when ``sub`` has no requirements."""
    req = sub.requirements_path
    if req is None:  # the base environment, on the interpreter the author picked
        return BASE_REQUIREMENTS, None, Era(as_of=BASE_AS_OF, python=era_lock.asked_python(sub))
    text = replace_pins(req.read_text(), dict(sub.pins)) if sub.pins else None
    return req, text, era_lock.era_of(sub)


def cached_lock(sub: Submission, cache: Path, index: IndexSettings | None = None) -> tuple[str, ...] | None:
    """The lock of ``sub``'s environment as cached now in the cache folder ``cache`` (None: none is
    built). Read from the cache's marker, never resolved: planning stays offline."""
    req = sub.requirements_path
    if req is not None and not req.is_file():
        return None
    source, given, era = env_source(sub)
    text = source.read_text() if given is None else given
    index = index if index is not None else IndexSettings()
    local = local_files_digest(source)
    digest = requirements_hash(text, era.python or platform.python_version(), index, era, local)
    try:
        info = json.loads((cache / "envs" / digest / COMPLETE_MARKER).read_text())
    except (OSError, ValueError):
        return None
    lock = info.get("lock") if isinstance(info, dict) else None
    return tuple(lock) if isinstance(lock, list) else None


def venv_for(
    requirements: Path,
    *,
    root: Path,
    offline: bool = False,
    index: IndexSettings | None = None,
    text: str | None = None,
    era: Era | None = None,
    python: str | None = None,
) -> KernelEnv:
    """A cached venv with ``requirements`` and ipykernel, created once under a file lock in the
    cache folder ``root`` (``RunPolicy.cache``; no default: a caller never lands in another's).

    ``text`` replaces the file's content (a matrix cell's pins); errors still name the file.
    """
    from filelock import FileLock

    # uv runs in the submission's folder (its local wheels are relative to it): every path it is
    # handed must not depend on the caller's working directory, so a relative --root works too.
    requirements = requirements.absolute()
    index = index if index is not None else IndexSettings()
    given = text
    text = requirements.read_text() if given is None else given
    era = era or Era()
    local = local_files_digest(requirements)
    digest = requirements_hash(text, era.python or platform.python_version(), index, era, local)
    envs = envs_dir(root).absolute()
    target = envs / digest
    # uv reads a file: replaced requirements are written beside the environment they build
    source = requirements if given is None else envs / f"{digest}.txt"
    with FileLock(str(envs / f"{digest}.lock"), timeout=1800):
        if not (target / COMPLETE_MARKER).is_file():
            if given is not None:
                source.write_text(given)
            dated, inferred = kernel_era(era, text, UploadDates(index, envs.parent, offline))
            _build_venv(target, requirements, source, offline=offline, index=index, era=dated,
                        python=python or sys.executable, inferred=inferred)
        info = json.loads((target / COMPLETE_MARKER).read_text())
    return _cached_env(target, info, base=requirements == BASE_REQUIREMENTS)


def _cached_env(target: Path, info: dict[str, Any], *, base: bool) -> KernelEnv:
    """The environment at ``target`` as its completion marker ``info`` describes it (the folder's
    name is its requirements hash)."""
    recorded = info.get("era")
    inferred_record: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    return KernelEnv(
        "venv",
        str(target / "bin" / "python"),
        info["python"],
        info["packages"],
        requirements_hash=target.name,
        path=str(target),
        lock=tuple(info.get("lock", ())),
        base=base,
        notes=(Inferred.from_record(inferred_record).note(),) if inferred_record else (),
        era=inferred_record,
    )


def _label(requirements: Path) -> str:
    """The requirements file as ``<slug>/requirements.txt``: no host path in results."""
    if requirements == BASE_REQUIREMENTS:
        return "the base environment (codeml_repro/run/env/base-requirements.txt)"
    return f"{requirements.parent.name}/{requirements.name}"


def _run(argv: list[str], what: str, requirements: Path, cache: Path) -> str:
    """Run uv from the submission's folder: a local wheel or folder in ``requirements.txt``
    (``./wheels/x.whl``) is relative to it, as uv reads relative paths from its working directory."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False, env=uv_env(),
                              cwd=requirements.parent)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentFailed(f"{_label(requirements)}: {what} failed: {exc}") from None
    if proc.returncode != 0:
        detail = _shown(uv_error(proc.stderr, proc.returncode), requirements, cache)
        raise EnvironmentFailed(f"{_label(requirements)}: {what} failed: {detail}")
    return proc.stdout


def shown_host_path(text: str, cache: Path | None) -> str:
    """An interpreter's path as a result shows it: the cache folder ``cache`` (None: no cache is
    involved), this Python and the home directory by name (``$CODEML_CACHE/envs/<key>/bin/python``),
    never the runner's layout (results are published)."""
    return scrub_prefixes(text, [
        *([(str(cache.absolute()), "$CODEML_CACHE")] if cache is not None else []),
        (sys.prefix, "$PYTHON"),
        (str(Path.home()), "~"),
    ])


def _shown(message: str, requirements: Path, cache: Path) -> str:
    """uv's message without host paths: it names local wheels and folders by absolute path or
    ``file://`` URL, and the cache by its place on this machine; results are published."""
    folder = requirements.absolute().parent
    return shown_host_path(scrub_prefixes(message, [
        (str(folder) + os.sep, f"{folder.name}/"), (str(folder), folder.name),
    ]), cache)


def _build_venv(
    target: Path, requirements: Path, source: Path, *, offline: bool, index: IndexSettings, era: Era,
    python: str, inferred: Inferred | None = None,
) -> None:
    """Create the venv at ``target`` (replacing a half-built one); mark it complete last.

    The author's requirements and the kernel's are resolved in one ``uv pip compile`` (as of
    ``era``), and exactly that lock is installed: see :mod:`codeml_repro.run.env.lock`.
    """
    if target.exists():
        shutil.rmtree(target)
    uv = find_uv()
    cache = target.parent.parent  # <cache>/envs/<key>: named $CODEML_CACHE in uv's messages
    flags = (["--offline"] if offline else []) + uv_index_args(index)
    _run([uv, "venv", "--quiet", "--no-python-downloads", "--python", python, str(target)], "uv venv",
         requirements, cache)
    venv_python = str(target / "bin" / "python")
    kernel_input = target / era_lock.KERNEL_INPUT
    kernel_input.write_text(KERNEL_REQUIREMENT + "\n")
    pinned = exact_pins(source.read_text())
    try:
        compiled = _run(era_lock.compile_argv(uv, source, kernel_input, venv_python, era, flags, pinned),
                        "uv pip compile", requirements, cache)
    except EnvironmentFailed as exc:  # a pin with no wheel for this interpreter: say what has one
        version = read_venv_info(target)["python"]
        explained = era_lock.explain_no_wheels(exc.message, uv, venv_python, version, flags, uv_env())
        raise EnvironmentFailed(explain_python(explained, index)) from None
    lock_file = target / era_lock.LOCK_FILE
    lock_file.write_text(era_lock.lock_header(era) + compiled)
    # --no-build: never run an sdist's setup code on the host while installing.
    _run(era_lock.install_argv(uv, venv_python, lock_file, flags), "uv pip install", requirements, cache)
    if requirements == BASE_REQUIREMENTS:  # used by many runs: compiled once (best effort)
        subprocess.run(era_lock.bytecode_argv(venv_python, target), capture_output=True, timeout=1800,
                       check=False, env=uv_env())
    info = read_venv_info(target)  # never by running the new interpreter: see read_venv_info
    info["lock"] = era_lock.lock_lines(compiled)
    if inferred is not None:
        info["era"] = inferred.record()
    (target / COMPLETE_MARKER).write_text(json.dumps(info))

"""Environments built ahead of time: the base environment, and those the submissions need.

For an install step that may use the network (the README's commands, ``scripts/test.sh``, the CI
workflows): runs afterwards find every environment cached and need no download. Nothing runs a
notebook here; a submission whose environment cannot be built is reported on its own line and
the others are still built.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.errors import EnvironmentFailed, ReproError, SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import discover, load_submission
from codeml_repro.run.env.baseenv import BASE_AS_OF, BASE_REQUIREMENTS, base_pins
from codeml_repro.run.env.environment import KernelEnv, prepare_environment, venv_for
from codeml_repro.run.env.lock import Era, host_pythons
from codeml_repro.run.env.uvtool import find_uv, uv_env, uv_error
from codeml_repro.run.matrix.cellruns import cell_environments, has_matrix
from codeml_repro.run.plan.planning import plan


@dataclass(frozen=True)
class Built:
    """One line of ``env build``: what was built (or found cached), or why it could not be."""

    name: str  # "base" or a submission's slug
    text: str
    ok: bool = True

    def __str__(self) -> str:
        return f"{self.name}: {self.text}" if self.ok else f"{self.name}: not built: {self.text}"


def where(env: KernelEnv, cache: Path) -> str:
    """The environment's folder, shown under ``$CODEML_CACHE`` (the cache folder ``cache``; no host path)."""
    path = Path(env.path or env.python)
    try:
        return "$CODEML_CACHE/" + path.relative_to(cache.absolute()).as_posix()
    except ValueError:
        return str(path)


def describe_base(env: KernelEnv, cache: Path) -> str:
    """The base environment's interpreter, pinned packages and kernel, with its folder."""
    names = [*base_pins(), "ipykernel"]
    shown = ", ".join(f"{name} {env.packages.get(name, '?')}" for name in names)
    return f"Python {env.python_version}, {shown} ({where(env, cache)})"


def base_environment(policy: RunPolicy) -> KernelEnv:
    """The base environment on the toolkit's interpreter in ``policy.cache``, built now unless cached."""
    return venv_for(BASE_REQUIREMENTS, root=policy.cache, index=policy.package_sources(),
                    era=Era(as_of=BASE_AS_OF))


def build_base(policy: RunPolicy) -> Built:
    """The base environment, built now unless cached (its failure is the tool's: it raises)."""
    return Built("base", describe_base(base_environment(policy), policy.cache))


def install_python(folder: Path, offline: bool = False) -> Built | None:
    """The interpreter a submission asks for (``artifact.environment.python``) that this host lacks,
    installed with ``uv python install`` (a CPython build of uv's; never while offline), so the
    plan that follows finds it. None when nothing was to install."""
    try:
        sub = load_submission(folder)
    except ReproError:
        return None  # the plan says why
    wanted = sub.spec.artifact.environment.python
    if wanted is None or wanted in host_pythons() or offline:
        return None
    try:
        proc = subprocess.run([find_uv(), "python", "install", wanted], capture_output=True, text=True,
                              timeout=1800, check=False, env=uv_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Built(sub.slug, f"Python {wanted}: uv python install failed: {exc}", ok=False)
    host_pythons.cache_clear()
    if proc.returncode != 0 or wanted not in host_pythons():
        detail = uv_error(proc.stderr, proc.returncode)
        return Built(sub.slug, f"Python {wanted}: uv python install failed: {detail}", ok=False)
    return Built(sub.slug, f"Python {wanted} installed (uv python install)")


def build_submissions(root: Path, policy: RunPolicy, slugs: list[str] | None = None) -> Iterator[Built]:
    """The environment of each submission under ``root`` (every matrix cell's), one at a time,
    after the interpreter it asks for when this host lacks it."""
    for folder in discover(root, slugs):
        installed = install_python(folder, policy.offline)
        if installed is not None:
            yield installed
        planned = plan(folder, policy)
        sub = planned.submission
        if sub is None:
            yield Built(planned.slug, planned.problem or "invalid", ok=False)
            continue
        try:
            if has_matrix(planned):
                for line in cell_environments(planned, policy, root):
                    yield Built(planned.slug, line.split(": ", 1)[1])
                continue
            env = prepare_environment(sub, "auto", cache=policy.cache, index=policy.package_sources(),
                                      offline=policy.offline)
        except (EnvironmentFailed, SubmissionInvalid) as exc:
            yield Built(planned.slug, exc.message, ok=False)
            continue
        which = "the base environment" if env.base else f"{len(env.packages)} packages"
        yield Built(planned.slug, f"Python {env.python_version}, {which} ({where(env, policy.cache)})")

"""A kernel for a language other than Python, as the maintainer configured it.

The notebook's language (never its ``kernelspec.name``) is looked up in the maintainer's map
(``CODEML_KERNELS`` / ``run --kernel-for``, see :mod:`codeml_repro.model.kernels`); the
kernelspec it names is read from the host's Jupyter paths, and its ``argv`` is started like the
Python kernel: in the sandbox, with the kernelspec's interpreter and resource folder bound
read-only, under the same budgets. The author's requirements do not apply to it: the kernel's
packages are the host's.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.errors import EnvironmentFailed, SubmissionInvalid
from codeml_repro.model.kernels import notebook_language
from codeml_repro.model.submission import Submission
from codeml_repro.run.sandbox.bwrap import python_paths


@dataclass(frozen=True)
class HostKernel:
    """A configured kernelspec of the host: what to start, and what it must be able to read."""

    language: str
    name: str
    argv: tuple[str, ...]
    readable: tuple[Path, ...]


def host_kernel(sub: Submission, kernels: Mapping[str, str]) -> HostKernel | None:
    """The configured kernel for ``sub``'s language; None for a Python notebook (its own env).

    An unconfigured language is invalid (the plan says so first); a configured kernelspec the
    host lacks is this submission's environment failure, naming the setting to fix.
    """
    raw = json.loads(sub.notebook_path.read_text(encoding="utf-8"))
    language = notebook_language(raw)
    if language is None or language == "python":
        return None
    name = {lang.lower(): spec for lang, spec in kernels.items()}.get(language)
    if name is None:
        raise SubmissionInvalid(f"{sub.notebook_path}: a {language!r} notebook needs a configured kernel")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise EnvironmentFailed(
            f"{sub.slug}: the kernel {name!r} configured for {language} notebooks (CODEML_KERNELS, "
            "--kernel-for) is not installed on this host (see `jupyter kernelspec list`)"
        ) from None
    argv = [str(a) for a in spec.argv]
    if not argv or "{connection_file}" not in argv:
        raise EnvironmentFailed(f"{sub.slug}: the kernelspec {name!r} has no argv with {{connection_file}}")
    exe = shutil.which(argv[0]) or argv[0]
    readable = (*python_paths(exe), Path(spec.resource_dir))
    return HostKernel(language, name, (exe, *argv[1:]), readable)

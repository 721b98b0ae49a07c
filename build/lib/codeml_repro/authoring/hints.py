"""What to do about an exception a notebook raised, by its name: the `check` advice.

Kept apart from the report's assembly (advice.py) so the knowledge of common
failures (missing packages, files, network) grows in one place.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from datetime import date
from typing import Any

from codeml_repro.authoring.imports import (
    IMPORT_TO_DIST,
    imported_modules,
    missing_modules,
    version_mismatch_hint,
)
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ErrorInfo, Result
from codeml_repro.model.submission import Submission
from codeml_repro.run.env.era import UploadDates, infer
from codeml_repro.run.env.lock import exact_pins

_NETWORK_ERRORS = {
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "URLError",
    "HTTPError",
    "gaierror",
    "socket.gaierror",
    "MaxRetryError",
    "NewConnectionError",
    "SSLError",
    "ReadTimeout",
    "ConnectTimeout",
    "ConnectTimeoutError",
    "TimeoutError",
}
# Versions from different years in one environment: (what the error says, what clashed, the
# packages whose versions the advice shows, those whose release of the author's era to pin).
_CLASHES = (
    (("'RcParams' object has no attribute '_get'",),
     "the kernel's IPython and matplotlib-inline are newer than the notebook's matplotlib, whose RcParams "
     "lacks the _get they call",
     ("matplotlib", "ipython", "matplotlib-inline"), ("ipython", "matplotlib-inline")),
    (("numpy.core.multiarray failed to import", "compiled using NumPy 1.x cannot be run in"),
     "a compiled package was built for another numpy than the one installed", ("numpy",), ("numpy",)),
)


def _missing_module_hint(message: str, has_requirements: bool) -> str:
    module = message.split("'")[1].split(".")[0] if message.count("'") >= 2 else ""
    package = IMPORT_TO_DIST.get(module, module)
    what = f"add `{package}` (pinned, e.g. `{package}==X.Y.Z`)" if package else "add the package, pinned,"
    if module and package != module:
        what += f" — the package that provides `import {module}` —"
    where = "to your requirements.txt" if has_requirements else (
        "to a requirements.txt in the submission folder (the notebook then gets its own environment)"
    )
    return f"the package is not installed where the check runs: {what} {where}"


def failed_hint(error_type: str, message: str = "", has_requirements: bool = False,
                packages: Mapping[str, str] | None = None) -> str:
    """What to do about a cell that raised ``error_type`` (the kernel's exception name)."""
    name = error_type.rsplit(".", 1)[-1]
    mismatch = version_mismatch_hint(message, packages or {}) if name == "ImportError" else None
    if mismatch is not None:
        return mismatch
    if name in {"ModuleNotFoundError", "ImportError"}:
        return _missing_module_hint(message, has_requirements)
    if name in {"FileNotFoundError", "PermissionError", "IsADirectoryError"}:
        return (
            "the notebook runs inside a copy of the submission folder: put every file it reads "
            "in that folder and open it by a relative path; write only inside the folder"
        )
    if name in _NETWORK_ERRORS or error_type in _NETWORK_ERRORS:
        return (
            "the notebook runs without network access: declare what it downloads in artifact.data "
            "(fetched and verified before the run), ship it in the submission folder, "
            "or use a dataset bundled with a package"
        )
    if name == "NameError":
        return (
            "a name is used before it is defined: run the notebook top to bottom in a fresh kernel "
            "(Restart & Run All); only the cell tagged `parameters` gets values from submission.yml"
        )
    if name == "CalledProcessError":
        return (
            "a shell command exited non-zero and IPython raised it (a `%%bash` or `%%sh` cell does since "
            "IPython 8), which stops the run as in Jupyter: fix the command, or tag the cell "
            "`raises-exception` (or write `%%bash --no-raise-error`) if it may fail"
        )
    if name == "MemoryError":
        return "the notebook ran out of memory: use less data or smaller batches"
    return "reproduce it with Restart & Run All in Jupyter, fix that cell, and run the check again"


def _lacking(sub: Submission, environment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every module the notebook imports that the run's environment lacks (a static scan)."""
    modules = imported_modules(sub.notebook_path)
    if environment.get("env_kind") == "venv":
        return missing_modules(modules, environment.get("packages") or {})
    # the toolkit's own interpreter, which is the one running this check
    return [(m, IMPORT_TO_DIST.get(m, m)) for m in modules if importlib.util.find_spec(m) is None]


def _after_allowed(error: ErrorInfo, result: Result) -> ErrorInfo | None:
    """The allowed error of a cell before ``error``'s, whose remaining lines did not run."""
    if error.cell is None:
        return None
    earlier = [e for e in result.allowed_errors if e.cell is not None and e.cell < error.cell]
    return earlier[-1] if earlier else None


def _era_day(result: Result, sub: Submission | None, dates: UploadDates) -> str | None:
    """The day of the author's stack: the one the run inferred, else the pins' latest upload day."""
    era = result.environment.get("era")
    if isinstance(era, dict) and isinstance(era.get("kernel_as_of"), str):
        return str(era["kernel_as_of"])
    req = sub.requirements_path if sub is not None else None
    if req is None or not req.is_file():
        return None
    inferred = infer(exact_pins(req.read_text(encoding="utf-8", errors="replace")), dates)
    return inferred.day.isoformat() if inferred is not None and inferred.day is not None else None


def era_clash_hint(error: ErrorInfo, result: Result, sub: Submission | None, policy: RunPolicy) -> str | None:
    """Advice for the kernel's packages clashing with an older stack: the releases of the stack's
    era to pin, and the ``as_of`` that gets them (upload days from the maintainer's index, kept in
    the policy's cache folder)."""
    found = next((c[1:] for c in _CLASHES if any(text in error.message for text in c[0])), None)
    if found is None:
        return None
    clash, shown, names = found
    packages = {str(k).lower(): v for k, v in (result.environment.get("packages") or {}).items()}
    had = ", ".join(f"{n} {packages[n]}" for n in shown if n in packages)
    head = f"a clash of versions from different years, not a bug in the notebook: {clash}" + (
        f" (the run had {had})" if had else "")
    dates = UploadDates(policy.package_sources(), policy.cache, policy.offline)
    day = _era_day(result, sub, dates)
    if day is None:
        return (f"{head}; pin every package the notebook imports at the versions it ran with "
                "(`codeml-repro freeze`), or set artifact.environment.as_of to the day it last ran")
    pins = [f"`{n}=={v}`" for n in names if (v := dates.newest_on(n, date.fromisoformat(day)))]
    pinned = f"pin {' and '.join(pins)} in requirements.txt (the newest on {day}), or " if pins else ""
    return (f"{head}; {pinned}set artifact.environment.as_of: \"{day}\" (the latest upload date of your "
            "exact pins), so the other packages come from your stack's era too")


def failed_hints(error: ErrorInfo, result: Result, sub: Submission | None, policy: RunPolicy) -> list[str]:
    """The advice for a cell that raised, knowing the run's environment and allowed errors
    (``policy``: the run's package sources, offline switch and cache folder)."""
    clash = era_clash_hint(error, result, sub, policy)
    if clash is not None:
        return [clash]
    name = error.type.rsplit(".", 1)[-1]
    allowed = _after_allowed(error, result) if name == "NameError" else None
    if allowed is not None:
        return [
            f"cell {allowed.cell} may raise (raises-exception) and did ({allowed.type}): the lines after "
            "its error did not run, so a name they define is missing here; move what later cells need "
            "above the line that raises, or into a cell of its own"
        ]
    packages = result.environment.get("packages") or {}
    has_requirements = sub is not None and sub.requirements_path is not None
    hints = [failed_hint(error.type, error.message, has_requirements, packages)]
    if name == "ModuleNotFoundError" and sub is not None:
        lacking = _lacking(sub, result.environment)
        if len(lacking) > 1:
            listed = ", ".join(f"`{m}` ({d})" if d != m else f"`{m}`" for m, d in lacking)
            hints.append(
                f"the notebook imports {len(lacking)} modules its environment lacks: {listed}; "
                f"`codeml-repro freeze submissions/{sub.slug}` writes a requirements.txt pinning what "
                "you have installed"
            )
    return hints

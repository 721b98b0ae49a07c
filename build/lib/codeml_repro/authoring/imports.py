"""A notebook's imports: which distributions provide them, which an environment lacks, `freeze`.

The code cells are parsed, never run (magics and shell lines are blanked first). An import name
maps to the distribution that provides it: from the interpreter's own
``importlib.metadata.packages_distributions()`` where the package is installed, else from a
table of the common names that differ (``sklearn`` -> ``scikit-learn``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from codeml_repro.model.imports import IMPORT_TO_DIST, imported_modules, normalize

__all__ = ["IMPORT_TO_DIST", "imported_modules", "normalize"]

_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '([^']+)'")


def distribution_of(module: str, installed: Mapping[str, list[str]] | None = None) -> str:
    """The distribution that provides ``import module``: as installed here, else by the table."""
    found = (installed if installed is not None else metadata.packages_distributions()).get(module)
    return found[0] if found else IMPORT_TO_DIST.get(module, module)


def missing_modules(modules: Iterable[str], packages: Mapping[str, str]) -> list[tuple[str, str]]:
    """(import name, distribution) of every module whose distribution ``packages`` lacks."""
    have = {normalize(n) for n in packages}
    out = []
    for module in modules:
        dist = IMPORT_TO_DIST.get(module, module)
        if normalize(dist) not in have:
            out.append((module, dist))
    return out


def version_mismatch_hint(message: str, packages: Mapping[str, str]) -> str | None:
    """Advice for ``cannot import name 'X' from 'Y'``: Y's distribution is another version."""
    found = _CANNOT_IMPORT.search(message)
    if found is None:
        return None
    name, module = found.group(1), found.group(2).split(".")[0]
    dist = IMPORT_TO_DIST.get(module, module)
    version = {normalize(k): v for k, v in packages.items()}.get(normalize(dist))
    had = f"the run had {dist} {version}" if version else f"the run had another version of {dist}"
    return (
        f"a version mismatch, not a missing package: {had}, whose `{found.group(2)}` has no `{name}`; "
        f"pin the version you used in requirements.txt (`{dist}==X.Y.Z`: `pip show {dist}` where the "
        "notebook works prints it), or set artifact.environment.as_of to the date you ran it"
    )


def freeze_lines(notebook: Path) -> tuple[list[str], list[str]]:
    """``dist==version`` for every import installed here, and the imports that are not installed."""
    installed = metadata.packages_distributions()
    pins: dict[str, str] = {}
    absent = []
    for module in imported_modules(notebook):
        dist = distribution_of(module, installed)
        try:
            pins[normalize(dist)] = f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            absent.append(module)
    return sorted(pins.values(), key=str.lower), absent


def freeze(folder: Path, *, force: bool = False) -> tuple[Path, list[str], list[str]]:
    """Write ``folder/requirements.txt`` pinning the notebook's imports at the versions installed here.

    Returns the file, its pins and the imports not installed here (left for the author to add).
    An existing file is kept unless ``force``: it may hold pins written by hand.
    """
    from codeml_repro.model.errors import SubmissionInvalid
    from codeml_repro.model.notebook import check_notebook
    from codeml_repro.model.submission import load_submission

    sub = load_submission(folder)
    check_notebook(sub)
    target = folder / "requirements.txt"
    if target.exists() and not force:
        raise SubmissionInvalid(f"{target}: already exists; pass --force to replace it")
    pins, absent = freeze_lines(sub.notebook_path)
    head = [
        f"# Written by `codeml-repro freeze` from the imports of {sub.spec.artifact.notebook},",
        "# pinned at the versions installed where it ran. Review it before you commit it.",
    ]
    head += [f"# not installed here, add it pinned: {m} ({IMPORT_TO_DIST.get(m, m)})" for m in absent]
    target.write_text("\n".join([*head, *pins]) + "\n", encoding="utf-8")
    return target, pins, absent

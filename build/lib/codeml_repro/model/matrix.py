"""``artifact.matrix``: the versions of a library a result is shown on.

``{scikit-learn: ["1.3.*", "1.5.2", "latest"]}`` asks for one run per version; with several
packages the runs (cells) are the product of their lists. An entry is a PEP 440 specifier
(``>=1.3,<1.4``), a bare version (``1.5.2``, meaning ``==1.5.2``), a wildcard (``1.3.*``,
meaning ``==1.3.*``) or ``latest`` (the newest release, resolved when the run starts and
recorded exactly). Only text is checked here; what the index offers is checked at run time
(:mod:`codeml_repro.run.matrix.versions`).
"""

from __future__ import annotations

import itertools
import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

LATEST = "latest"
DEFAULT_MAX_CELLS = 8
_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_WILDCARD_RE = re.compile(r"^\d+(\.\d+)*\.\*$")
_REQ_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

Matrix = dict[str, list[str]]
Cell = dict[str, str]
"""One run of the matrix: package -> entry as written (``"1.3.*"``, ``"latest"``)."""


def entry_specifier(entry: str) -> SpecifierSet | None:
    """The specifier an entry means (None for ``latest``); ValueError when it is none."""
    text = entry.strip()
    if text == LATEST:
        return None
    if _WILDCARD_RE.match(text):
        return SpecifierSet(f"=={text}")
    try:
        return SpecifierSet(f"=={Version(text)}")
    except InvalidVersion:
        pass
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier:
        spec = SpecifierSet()
    if not str(spec):
        raise ValueError(
            f"{entry!r} is not a version, a PEP 440 specifier or 'latest' "
            "(e.g. '1.5.2', '1.3.*', '>=1.3,<1.4')"
        )
    return spec


def check_matrix(matrix: Matrix) -> Matrix:
    """Every package name and entry is well formed, and no package or entry is repeated."""
    seen: dict[str, str] = {}
    for package, entries in matrix.items():
        if not _NAME_RE.match(package):
            raise ValueError(f"{package!r} is not a package name")
        canonical = canonicalize_name(package)
        if canonical in seen:
            raise ValueError(f"{package!r} and {seen[canonical]!r} are the same package")
        seen[canonical] = package
        if not entries:
            raise ValueError(f"{package}: give at least one version")
        for entry in entries:
            try:
                entry_specifier(entry)
            except ValueError as exc:
                raise ValueError(f"{package}: {exc}") from None
        repeated = sorted({e for e in entries if entries.count(e) > 1})
        if repeated:
            raise ValueError(f"{package}: {', '.join(repeated)} given twice")
    return matrix


def cells(matrix: Matrix) -> list[Cell]:
    """The product of the packages' lists, in the order written."""
    packages = list(matrix)
    return [dict(zip(packages, combo, strict=True)) for combo in itertools.product(*matrix.values())]


def requirement_name(line: str) -> str | None:
    """The canonical project name a requirements line asks for (None: comment, option, URL)."""
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-") or "://" in text.split(";", 1)[0].split("@", 1)[0]:
        return None
    match = _REQ_NAME_RE.match(text)
    return canonicalize_name(match.group(1)) if match else None


def matrix_problem(matrix: Matrix, requirements: str | None, max_cells: int) -> str | None:
    """Why this matrix cannot run with these requirements under this cap (None when it can)."""
    if not matrix:
        return None
    count = len(cells(matrix))
    if count > max_cells:
        return f"{count} cells (the product of the version lists) is more than the limit of {max_cells}"
    if requirements is None:
        return "a matrix needs a requirements.txt that lists its packages"
    listed = {requirement_name(line) for line in requirements.splitlines()}
    for package in matrix:
        if canonicalize_name(package) not in listed:
            return f"{package} is not in requirements.txt; add it there (any pin: each cell replaces it)"
    return None


def replace_pins(requirements: str, pins: dict[str, str]) -> str:
    """``requirements`` with each pinned package's line replaced by ``name<specifier>``.

    Extras and environment markers of the author's line are kept.
    """
    wanted: dict[str, str] = {canonicalize_name(name): spec for name, spec in pins.items()}
    out = []
    for line in requirements.splitlines():
        name = requirement_name(line)
        if name in wanted:
            text = line.split("#", 1)[0].strip()
            match = _REQ_NAME_RE.match(text)
            assert match is not None
            rest = text[match.end():]
            extras = rest[: rest.index("]") + 1] if rest.lstrip().startswith("[") and "]" in rest else ""
            marker = ";" + text.split(";", 1)[1] if ";" in text else ""
            line = f"{match.group(1)}{extras.strip()}{wanted[name]}{marker}"
        out.append(line)
    return "\n".join(out) + "\n"

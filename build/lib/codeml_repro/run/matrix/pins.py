"""A matrix's entries as the exact releases they install, and ``validate``'s check of them.

``run`` turns each entry of ``artifact.matrix`` into a pin (``1.3.*`` -> ``==1.3.2``,
``latest`` -> the newest release now) from the maintainer's package sources; an unknown
package or an entry no release matches is the submission's ``invalid``. ``validate`` asks
the same sources, but the network only when told (``validate --online``): offline, it
trusts the find-links folder alone only when the runs are offline too (``CODEML_OFFLINE``),
since otherwise the index may offer what the folder lacks; what it cannot check it says so,
which is not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import Version

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.matrix import entry_specifier
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.shownpaths import from_root, project_root
from codeml_repro.model.submission import SUBMISSION_FILE, Submission
from codeml_repro.run.matrix.versions import VersionLookup, best_match


def _span(versions: Sequence[object]) -> str:
    shown = [str(v) for v in versions]
    return ", ".join(shown) if len(shown) <= 6 else f"{', '.join(shown[:3])}, ..., {', '.join(shown[-2:])}"


def where_matrix(sub: Submission) -> str:
    """``submissions/<slug>/submission.yml: artifact.matrix``, the start of every matrix problem
    (named from the project root, as every published problem is)."""
    return f"{from_root(str(sub.folder / SUBMISSION_FILE), project_root(sub.folder))}: artifact.matrix"


def resolve_package(where: str, package: str, entries: list[str], known: list[Version] | None
                    ) -> dict[str, str]:
    """entry -> the pin it installs, given the releases the sources offer.

    ``known`` None (no source could be asked): each entry is installed as written (``latest``
    unpinned) and the cell records what uv picked. Raises :class:`SubmissionInvalid` for a
    package with no release, or an entry no release matches.
    """
    if known is not None and not known:
        raise SubmissionInvalid(f"{where}.{package}: no release of {package} on the package index")
    pins: dict[str, str] = {}
    for entry in entries:
        spec = entry_specifier(entry)
        if known is None:
            pins[entry] = str(spec) if spec is not None else ""
            continue
        best = best_match(known, spec)
        if best is None:
            raise SubmissionInvalid(
                f"{where}.{package}: no release matches {entry!r} (available: {_span(known)})"
            )
        pins[entry] = f"=={best}"
    return pins


def resolve_entries(sub: Submission, policy: RunPolicy, lookup: VersionLookup | None = None
                    ) -> dict[str, dict[str, str]]:
    """package -> entry -> the pin it installs (see :func:`resolve_package`).

    ``lookup`` is the run's memo of the sources (one answer per package for the whole run).
    """
    lookup = lookup or VersionLookup(policy.package_sources(), policy.offline)
    return {
        package: resolve_package(where_matrix(sub), package, entries, lookup(package))
        for package, entries in sub.spec.artifact.matrix.items()
    }


@dataclass(frozen=True)
class SourceCheck:
    """What ``validate`` found: the problem (``invalid``), or the packages it could not check."""

    problem: str | None = None
    unchecked: tuple[str, ...] = ()

    def note(self, sub: Submission) -> str | None:
        """One line saying what was not checked, and how to check it (not an error)."""
        if not self.unchecked:
            return None
        return (
            f"{where_matrix(sub)}: could not check {', '.join(self.unchecked)} against the package "
            "sources (no wheel of it in CODEML_FIND_LINKS, and the index is asked only by "
            "`validate --online`)"
        )


def check_sources(sub: Submission, policy: RunPolicy, *, online: bool) -> SourceCheck:
    """Every matrix package known to the sources and every entry matched, where they can tell.

    Offline (no ``online``) only the find-links folder is read. A package missing there is
    invalid only when runs are offline too (``CODEML_OFFLINE``); otherwise the index might
    have it, and it is reported unchecked, as is everything when no source answers.
    """
    if not sub.spec.artifact.matrix:
        return SourceCheck()
    complete = online or policy.offline  # the sources asked are all that a run would ask
    lookup = VersionLookup(policy.package_sources(), offline=not online or policy.offline)
    unchecked: list[str] = []
    for package, entries in sub.spec.artifact.matrix.items():
        known = lookup(package)
        partial = known is None or not complete
        if partial and (not known or any(best_match(known, entry_specifier(e)) is None for e in entries)):
            unchecked.append(package)
            continue
        try:
            resolve_package(where_matrix(sub), package, entries, known)
        except SubmissionInvalid as exc:
            return SourceCheck(problem=exc.message)
    return SourceCheck(unchecked=tuple(unchecked))

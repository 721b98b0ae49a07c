"""``latest`` asked again for a matrix submission whose files did not change.

The submission's skip key covers its files, not the package index, so an unchanged
submission would keep last week's ``latest`` until a forced run. Before it is skipped, each
floating entry (``latest``, a wildcard, a range) is resolved again through the run's
:class:`~codeml_repro.run.matrix.versions.VersionLookup` (the maintainer's sources, once per package
per run) and the cells' keys, which hold the exact pins, are compared with the recorded
cells': a new release changes one cell's key, so that cell, and only that cell, runs again
(the others are read back by key). When no source answers (offline with no wheel folder,
an unreachable index), or the answer no longer satisfies an entry (a package or release gone
from the sources), the previous result is kept and the run's log says so; a forced run or a
change to the submission records the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.matrix import cells, entry_specifier
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result
from codeml_repro.run.matrix.cellruns import cell_key
from codeml_repro.run.matrix.pins import resolve_entries
from codeml_repro.run.matrix.versions import VersionLookup
from codeml_repro.run.plan.planning import Planned


@dataclass(frozen=True)
class LatestCheck:
    """Whether an unchanged matrix submission must run again, and why it could not be told."""

    changed: bool = False
    problem: str | None = None  # the previous result was kept: its floating entries were not resolved


def floating_packages(planned: Planned) -> list[str]:
    """The matrix packages with an entry that can mean a newer release tomorrow."""
    sub = planned.submission
    if sub is None:
        return []
    return [
        package for package, entries in sub.spec.artifact.matrix.items()
        if any(_floats(entry) for entry in entries)
    ]


def _floats(entry: str) -> bool:
    spec = entry_specifier(entry)
    if spec is None:
        return True  # latest
    return not (len(spec) == 1 and next(iter(spec)).operator in ("==", "===") and "*" not in str(spec))


def recheck_latest(planned: Planned, previous: Result, policy: RunPolicy, lookup: VersionLookup
                   ) -> LatestCheck:
    """Compare the cells' keys as resolved now with those of ``previous``; see the module docstring."""
    floating = floating_packages(planned)
    sub = planned.submission
    if not floating or sub is None:
        return LatestCheck()
    silent = [p for p in floating if lookup(p) is None]
    if silent:
        return LatestCheck(problem=(
            f"{planned.slug}: kept the previous result: could not ask the package sources for the "
            f"newest {', '.join(silent)} (offline, no wheel in CODEML_FIND_LINKS, or the index did "
            "not answer); `latest` is as recorded"
        ))
    try:
        resolved = resolve_entries(sub, policy, lookup)
    except SubmissionInvalid as exc:  # the sources answered, but not as before: not a new release
        return LatestCheck(problem=f"{planned.slug}: kept the previous result: {exc.message}")
    recorded = {cell.key for cell in previous.matrix}
    for requested in cells(sub.spec.artifact.matrix):
        pins = {package: resolved[package][entry] for package, entry in requested.items()}
        if cell_key(planned, policy, pins) not in recorded:
            return LatestCheck(changed=True)
    return LatestCheck()


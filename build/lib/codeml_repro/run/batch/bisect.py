"""``codeml-repro bisect``: the first release of a package on which a claim stops holding.

The releases between a good and a bad version come from the maintainer's package sources
(:mod:`codeml_repro.run.matrix.versions`). Each probe is a matrix cell with that one version
pinned, so a version probed before (by a matrix or an earlier bisect) is read from the cell
cache instead of run again. Binary search: with ``n`` releases in between, at most
``ceil(log2(n + 1))`` probes find the boundary, plus one for each side of it that was
never probed (the reported values come from real runs, never from the endpoints' labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from codeml_repro.model.errors import ReproError, SubmissionInvalid
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.matrix import matrix_problem
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, MatrixCellResult, Status
from codeml_repro.model.submission import SUBMISSION_FILE, discover
from codeml_repro.model.text import shorten
from codeml_repro.results.cells import CellCache
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.repeats import run_planned
from codeml_repro.run.matrix.cellruns import cell_result, plan_cell
from codeml_repro.run.matrix.versions import available_versions
from codeml_repro.run.plan.planning import Planned, plan

HOLDS = {Status.REPRODUCED, Status.FUNCTIONAL}


@dataclass(frozen=True)
class Probe:
    """One version tried: its cell, and whether it came from the cache."""

    version: str
    cell: MatrixCellResult
    cached: bool

    @property
    def holds(self) -> bool:
        return self.cell.status in HOLDS


@dataclass
class BisectReport:
    """What bisect found: the last good and first bad release, and the claim that broke."""

    package: str
    releases: list[str]
    probes: list[Probe] = field(default_factory=list)
    last_good: Probe | None = None
    first_bad: Probe | None = None
    problem: str | None = None  # when there is no boundary to report (e.g. good does not hold)

    @property
    def broken_claims(self) -> list[tuple[ClaimResult, ClaimResult | None]]:
        """Claims that held on the last good release and not on the first bad one (before, after)."""
        if self.last_good is None or self.first_bad is None:
            return []
        after = {c.name: c for c in self.first_bad.cell.claims}
        held = [c for c in self.last_good.cell.claims if c.ok]
        return [(c, after.get(c.name)) for c in held if not _ok(after.get(c.name))]


def _ok(claim: ClaimResult | None) -> bool:
    return claim is not None and claim.ok


def _version(text: str, flag: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise ReproError(f"{flag} {text!r}: not a version (e.g. 1.5.2)") from None


def releases_between(package: str, good: str, bad: str, policy: RunPolicy) -> list[Version]:
    """The releases from ``good`` to ``bad`` (both included), oldest first."""
    low, high = _version(good, "--good"), _version(bad, "--bad")
    if low >= high:
        raise ReproError(f"--good {good} must be older than --bad {bad}")
    known = available_versions(package, policy.package_sources(), offline=policy.offline)
    if known is None:
        raise ReproError(
            f"cannot list the releases of {package}: no package source answered "
            "(set CODEML_FIND_LINKS, or run online)"
        )
    for value, flag in ((low, "--good"), (high, "--bad")):
        if value not in known:
            shown = ", ".join(str(v) for v in known[-8:]) or "none"
            raise ReproError(f"{flag} {value}: not a release of {package} (latest known: {shown})")
    return [v for v in known if low <= v <= high and (not v.is_prerelease or v in (low, high))]


def _planned(root: Path, slug: str, package: str, policy: RunPolicy) -> Planned:
    (folder,) = discover(root, [slug])
    planned = plan(folder, policy)
    if planned.submission is None:
        raise SubmissionInvalid(planned.problem or f"{slug}: invalid")
    req = planned.submission.requirements_path
    text = req.read_text(encoding="utf-8", errors="replace") if req is not None and req.is_file() else None
    problem = matrix_problem({package: ["0"]}, text, max_cells=1)
    if problem is not None:
        raise SubmissionInvalid(f"{folder / SUBMISSION_FILE}: --package: {problem}")
    return planned


class _Prober:
    """Runs (or reads from the cache) the submission with one version of the package pinned."""

    def __init__(self, root: Path, planned: Planned, package: str, policy: RunPolicy) -> None:
        self.planned, self.package, self.policy = planned, package, policy
        self.store, self.cache = ResultStore(root), CellCache(root)
        self.seen: dict[Version, Probe] = {}

    def __call__(self, version: Version) -> Probe:
        if version in self.seen:
            return self.seen[version]
        pins = {self.package: f"=={version}"}
        cell = plan_cell(self.planned, self.policy, {self.package: str(version)}, pins)
        cached = self.cache.read(self.planned.slug, cell.planned.key)
        if cached is None:
            cached_flag = False
            done = cell_result(cell, run_planned(cell.planned, self.policy, self.store))
            self.cache.write(self.planned.slug, done)
        else:
            cached_flag, done = True, cached
        probe = Probe(str(version), done, cached_flag)
        self.seen[version] = probe
        return probe


def bisect(
    root: Path,
    slug: str,
    package: str,
    good: str,
    bad: str,
    policy: RunPolicy,
    on_probe: Callable[[Probe], Any] | None = None,
) -> BisectReport:
    """Find the first release between ``good`` and ``bad`` on which the claims stop holding."""
    package = str(canonicalize_name(package))
    planned = _planned(root, slug, package, policy)
    versions = releases_between(package, good, bad, policy)
    report = BisectReport(package, [str(v) for v in versions])
    prober = _Prober(root, planned, package, policy)

    def probe(index: int) -> Probe:
        seen = versions[index] in prober.seen
        found = prober(versions[index])
        if not seen:
            report.probes.append(found)
            if on_probe is not None:
                on_probe(found)
        return found

    lo, hi = 0, len(versions) - 1  # assumed: holds at lo, broken at hi (checked below)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid).holds:
            lo = mid
        else:
            hi = mid
    before, after = probe(lo), probe(hi)
    if not before.holds:
        status = before.cell.status.value
        report.problem = f"the claims do not hold on {package} {before.version} either ({status})"
    elif after.holds:
        report.problem = f"the claims still hold on {package} {after.version}: nothing broke in this range"
    else:
        report.last_good, report.first_bad = before, after
    return report


def _value(claim: ClaimResult | None) -> str:
    if claim is None or not claim.recorded:
        return "not recorded"
    return log_line(shorten(repr(claim.observed), 80))


def describe_probe(package: str, probe: Probe) -> str:
    """One line per probe, as it finishes."""
    how = "cached" if probe.cached else f"{probe.cell.duration_s:.1f}s"
    return f"probe {package} {probe.version}: {probe.cell.status.value} ({how})"


def describe_report(report: BisectReport) -> list[str]:
    """The finding: the first bad release, and each claim with its value before and after."""
    probes = f"{len(report.probes)} probe(s) over {len(report.releases)} release(s)"
    if report.first_bad is None or report.last_good is None:
        return [f"no boundary found: {report.problem} ({probes})"]
    bad, good = report.first_bad, report.last_good
    lines = [f"first bad version: {report.package} {bad.version} (last good: {good.version}; {probes})"]
    for before, after in report.broken_claims:
        lines.append(
            f"claim {before.name}: {_value(before)} on {good.version} -> {_value(after)} on {bad.version} "
            f"(expected {log_line(shorten(repr(before.expected), 80))})"
        )
    if not report.broken_claims:
        error = bad.cell.error
        detail = f": {log_line(shorten(error.type + ': ' + error.message, 200))}" if error else ""
        lines.append(f"on {bad.version} the run {bad.cell.status.value}{detail}")
    return lines

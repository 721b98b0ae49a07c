"""A submission with ``artifact.matrix``: one run per cell, and the result they add up to.

:func:`expand` turns the matrix into cells: each entry becomes the exact version the
package sources offer (``latest`` the newest release, now), and each cell a planned run
of its own (slug ``<slug>@<cell id>``) that the worker pool schedules like any other. A
cell whose key was recorded before (:class:`~codeml_repro.results.cells.CellCache`) is
not run again. :func:`combine` derives the submission's result: ``reproduced`` when every
cell reproduced; otherwise the cells say on how many versions it held.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.matrix import cells
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import MatrixCellResult, Result, Status
from codeml_repro.model.skipkey import inputs_key, skip_key
from codeml_repro.results.cells import CellCache
from codeml_repro.results.combine import combine_cells, describe_versions
from codeml_repro.results.parts import ShardShare
from codeml_repro.results.store import ResultStore
from codeml_repro.run.matrix.pins import resolve_entries
from codeml_repro.run.matrix.versions import VersionLookup
from codeml_repro.run.plan.outcome import invalid_result, now_iso
from codeml_repro.run.plan.planning import Planned

CELL_SEPARATOR = "@"


@dataclass(frozen=True)
class CellPlan:
    """One cell: the entries as written, the pins it installs, and its planned run."""

    requested: dict[str, str]
    pins: dict[str, str]  # package -> specifier, "==1.5.2" once resolved
    versions: dict[str, str]  # package -> exact version ("" until the environment says)
    planned: Planned


@dataclass
class MatrixJob:
    """A matrix submission being run: its cells, and the results they have so far."""

    planned: Planned
    cells: list[CellPlan]
    done: dict[str, MatrixCellResult] = field(default_factory=dict)  # cell key -> result
    part: bool = False  # only this shard's cells: its result is a part (results/parts.py)

    @property
    def todo(self) -> list[Planned]:
        return [c.planned for c in self.cells if c.planned.key not in self.done]

    @property
    def complete(self) -> bool:
        return all(c.planned.key in self.done for c in self.cells)


def has_matrix(planned: Planned) -> bool:
    return planned.submission is not None and bool(planned.submission.spec.artifact.matrix)


def cell_slug(slug: str) -> str:
    """The submission's slug from a cell's (``slug@id`` -> ``slug``)."""
    return slug.split(CELL_SEPARATOR, 1)[0]


def cell_key(planned: Planned, policy: RunPolicy, pins: dict[str, str]) -> str:
    """What a cell's outcome depends on: the submission's inputs but its matrix, and the pins."""
    sub = planned.submission
    assert sub is not None
    spec = sub.run_inputs()
    spec["artifact"] = {k: v for k, v in spec["artifact"].items() if k != "matrix"}
    inputs = inputs_key(sub.folder, sub.notebook_path, spec)
    timeout = policy.effective_timeout(sub.spec.artifact.timeout)
    budgets = {**policy.budget_key(), "effective_timeout_s": timeout}
    budgets.pop("max_matrix_cells", None)
    return skip_key(inputs, {**budgets, "matrix_cell": dict(sorted(pins.items()))})


def plan_cell(
    planned: Planned, policy: RunPolicy, requested: dict[str, str], pins: dict[str, str]
) -> CellPlan:
    """A cell as a planned run of its own: the submission with its pins, keyed by them."""
    sub = planned.submission
    assert sub is not None
    key = cell_key(planned, policy, pins)
    cell_id = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:10]
    pinned = dataclasses.replace(sub, pins=tuple(sorted(pins.items())))
    unit = Planned(f"{planned.slug}{CELL_SEPARATOR}{cell_id}", sub.folder, pinned, None, planned.inputs, key)
    versions = {p: s[2:] if s.startswith("==") and "*" not in s else "" for p, s in pins.items()}
    return CellPlan(requested, pins, versions, unit)


def expand(planned: Planned, policy: RunPolicy, cache: CellCache, *, force: bool,
           lookup: VersionLookup | None = None) -> MatrixJob:
    """The cells of a matrix submission, with those recorded before already done (unless ``force``).

    Raises :class:`SubmissionInvalid` for an entry the package sources cannot satisfy.
    """
    sub = planned.submission
    assert sub is not None
    resolved = resolve_entries(sub, policy, lookup)
    job = MatrixJob(planned, [])
    for requested in cells(sub.spec.artifact.matrix):
        pins = {package: resolved[package][entry] for package, entry in requested.items()}
        cell = plan_cell(planned, policy, requested, pins)
        job.cells.append(cell)
        cached = None if force else cache.read(planned.slug, cell.planned.key)
        if cached is not None:
            job.done[cell.planned.key] = cached
    return job


def cell_result(cell: CellPlan, result: Result) -> MatrixCellResult:
    """What a cell's run leaves: its versions (exact, from its environment), status and claims."""
    lock = {str(k): str(v) for k, v in (result.environment.get("packages") or {}).items()}
    versions = {
        package: version or lock.get(canonicalize_name(package), "?")
        for package, version in cell.versions.items()
    }
    return MatrixCellResult(
        versions=versions,
        requested=cell.requested,
        status=result.status,
        claims=result.claims,
        duration_s=result.duration_s,
        error=result.error,
        key=cell.planned.key,
        finished_at=result.finished_at,
        lock=lock,
        notebook=result.notebook,
        sandbox=result.sandbox,
        warnings=result.warnings,
    )


def combine(job: MatrixJob) -> Result:
    """The submission's result from its cells (in matrix order); see :func:`combine_cells`."""
    sub = job.planned.submission
    assert sub is not None
    done = [job.done[c.planned.key] for c in job.cells]
    return combine_cells(job.planned.slug, sub.spec, done, key=job.planned.key,
                         inputs_key=job.planned.inputs, finished_at=now_iso())


def held_on(result: Result) -> tuple[int, int]:
    """On how many of its cells a matrix result reproduced, of how many."""
    return sum(c.status == Status.REPRODUCED for c in result.matrix), len(result.matrix)


class MatrixRuns:
    """The matrix submissions of one batch: their cells go to the pool as units of their own.

    :meth:`split` replaces each matrix submission by its cells still to run; :meth:`take`
    records a finished cell and returns the submission's result once its last cell is in.
    """

    def __init__(self, policy: RunPolicy, cache: CellCache, *, force: bool,
                 lookup: VersionLookup | None = None, share: ShardShare | None = None) -> None:
        self.policy = policy
        self.cache = cache
        self.force = force
        self.lookup = lookup or VersionLookup(policy.package_sources(), policy.offline)
        self.share = share  # with --shard: the cells of split submissions this shard runs
        self.jobs: dict[str, MatrixJob] = {}

    def is_part(self, slug: str) -> bool:
        """Whether ``slug``'s result holds only this shard's cells of it (a part, not the result)."""
        job = self.jobs.get(slug)
        return job is not None and job.part

    def _expand(self, planned: Planned) -> MatrixJob:
        job = expand(planned, self.policy, self.cache, force=self.force, lookup=self.lookup)
        mine = self.share.cells.get(planned.slug) if self.share is not None else None
        if mine is not None:
            job.cells = [cell for i, cell in enumerate(job.cells) if i in mine]
            job.part = True
        self.jobs[planned.slug] = job
        return job

    def split(self, todo: list[Planned]) -> tuple[list[Planned], list[Result]]:
        """The units to run, and the results already known (invalid, or every cell cached)."""
        units: list[Planned] = []
        ready: list[Result] = []
        for planned in todo:
            if not has_matrix(planned):
                units.append(planned)
                continue
            try:
                job = self._expand(planned)
            except SubmissionInvalid as exc:
                if self.share is None or self.share.records(planned.slug):
                    unrunnable = dataclasses.replace(planned, submission=None, problem=exc.message)
                    ready.append(invalid_result(unrunnable))
                continue
            if job.complete:
                ready.append(combine(job))
            else:
                units.extend(job.todo)
        return units, ready

    def take(self, result: Result) -> Result | None:
        """``result`` if it is a submission's; a cell's is kept until its submission is complete."""
        if CELL_SEPARATOR not in result.slug:
            return result
        job = self.jobs[cell_slug(result.slug)]
        cell = next(c for c in job.cells if c.planned.slug == result.slug)
        done = cell_result(cell, result)
        self.cache.write(job.planned.slug, done)
        job.done[done.key] = done
        return combine(job) if job.complete else None


def record_matrix(store: ResultStore, result: Result) -> Result:
    """Write a matrix submission's result, with the notebook of the cell it reports as its own."""
    body = None
    if result.notebook:
        with contextlib.suppress(OSError):
            body = (store.results_dir / result.notebook).read_bytes()
    if body is None:
        with contextlib.suppress(OSError):
            store.notebook_path(result.slug).unlink()  # an older run's notebook is not this one's
    shown = f"notebooks/{result.slug}.ipynb" if body is not None else None
    result = result.model_copy(update={"notebook": shown})
    store.write(result, body)
    return result


def cell_environments(planned: Planned, policy: RunPolicy, root: Path) -> list[str]:
    """Build (or find cached) the environment of every matrix cell of ``planned``; no notebook runs.

    For an install step that may use the network (``codeml-repro env build``), so runs later need
    none. Returns one line per cell.
    """
    from codeml_repro.run.env.environment import prepare_environment

    lines = []
    job = expand(planned, policy, CellCache(root), force=True)
    for cell in job.cells:
        sub = cell.planned.submission
        assert sub is not None
        env = prepare_environment(sub, "auto", cache=policy.cache, index=policy.package_sources(),
                                  offline=policy.offline)
        shown = describe_versions({p: env.packages.get(canonicalize_name(p), "?") for p in cell.pins})
        lines.append(f"{planned.slug}: {shown}")
    return lines

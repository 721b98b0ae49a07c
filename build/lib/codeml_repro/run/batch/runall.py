"""The batch: every selected submission that needs a run, through the worker pool.

This is the library API the CLI's ``run`` is a thin layer over; it never
raises for a notebook, only when the tool itself cannot work.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result, Status
from codeml_repro.model.skipkey import locked_key
from codeml_repro.results.cells import CellCache
from codeml_repro.results.parts import ShardShare, clear_part, write_part
from codeml_repro.results.store import ResultStore
from codeml_repro.run.matrix.cellruns import MatrixRuns, record_matrix
from codeml_repro.run.matrix.latest import recheck_latest
from codeml_repro.run.matrix.versions import VersionLookup
from codeml_repro.run.plan.planning import Planned, RunOptions, plan, select_share


@dataclass
class RunReport:
    """What ``run`` did: every result, and which were skipped."""

    results: list[Result] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

def expected_key(previous: Result, planned: Planned, policy: RunPolicy) -> str:
    """The key a run would record now: the planned key with the lock of the environment as cached
    here (read from the cache, never resolved: planning stays offline). With no environment built
    on this machine, the recorded lock stands until one is."""
    recorded = previous.environment.get("lock")
    if planned.submission is None or policy.env == "current" or planned.submission.spec.artifact.matrix:
        return planned.key  # no lock: the toolkit's interpreter; a matrix keys each cell's pins
    from codeml_repro.run.env.environment import cached_lock

    cached = cached_lock(planned.submission, policy.cache, policy.package_sources())
    return locked_key(planned.key, cached if cached is not None else recorded)


def _unchanged(previous: Result | None, planned: Planned, policy: RunPolicy, lookup: VersionLookup,
               report: RunReport) -> bool:
    """``previous`` still stands: same key, same lock, and a matrix's ``latest`` still the same.

    A run skipped for lack of a GPU is tried again: this machine may have one.
    """
    if previous is None or previous.status is Status.SKIPPED:
        return False
    if previous.key != expected_key(previous, planned, policy):  # inputs, budgets or lock changed
        return False
    if not previous.matrix:
        return True
    checked = recheck_latest(planned, previous, policy, lookup)
    if checked.problem:
        report.problems.append(checked.problem)
    return not checked.changed


def _todo(
    folders: list[Path], policy: RunPolicy, options: RunOptions, store: ResultStore, report: RunReport,
    lookup: VersionLookup | None = None,
) -> list[Planned]:
    lookup = lookup or VersionLookup(policy.package_sources(), policy.offline)
    todo = []
    for folder in folders:
        planned = plan(folder, policy, check=False, profile=options.profile)
        previous = store.read(planned.slug)
        rerun = options.force or options.repeat > 1  # --repeat asks for fresh runs
        if not rerun and _unchanged(previous, planned, policy, lookup, report):
            assert previous is not None
            report.skipped.append(planned.slug)
            report.results.append(previous)
        else:
            todo.append(plan(folder, policy, profile=options.profile) if planned.problem is None else planned)
    return todo


def _fetch_stage(
    todo: list[Planned],
    policy: RunPolicy,
    store: ResultStore,
    report: RunReport,
    on_result: Callable[[Result], None] | None,
    on_fetch: Callable[[str, int, int], None] | None,
    share: ShardShare | None,
) -> list[Planned]:
    """Fetch every declared input once; a submission whose inputs fail gets its result here
    (recorded by the shard that records the whole submission)."""
    subs = [p.submission for p in todo if p.submission is not None and p.submission.spec.artifact.data]
    if not subs:
        return todo
    from codeml_repro.run.batch.repeats import record_without_run
    from codeml_repro.run.inputs.fetch import fetch_inputs
    from codeml_repro.run.plan.outcome import data_failed

    failures = fetch_inputs(subs, policy, on_fetch).failures
    ready = []
    for planned in todo:
        if planned.submission is None or planned.slug not in failures:
            ready.append(planned)
            continue
        if share is not None and not share.records(planned.slug):
            continue  # a split matrix submission: the shard of its first cell records it
        result = record_without_run(data_failed(planned, planned.submission, failures[planned.slug]), store)
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return ready


def _shard_todo(todo: list[Planned], share: ShardShare, store: ResultStore) -> list[Planned]:
    """A shard's own work: a split matrix submission that cannot run (invalid) is recorded only
    by the shard of its first cell; parts of an earlier run in this folder are removed."""
    for slug in share.cells:
        clear_part(store.results_dir, slug)
    return [p for p in todo if p.submission is not None or share.records(p.slug)]


def _record(store: ResultStore, matrices: MatrixRuns, result: Result) -> Result:
    """A matrix submission's result, or this shard's part of one (merge combines the parts)."""
    if matrices.is_part(result.slug):
        write_part(store.results_dir, result)
        return result
    return record_matrix(store, result)


def run_all(
    root: Path,
    policy: RunPolicy,
    options: RunOptions,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_fetch: Callable[[str, int, int], None] | None = None,
) -> RunReport:
    """Run every selected submission that needs it; never raises for a notebook."""
    store = ResultStore(root)
    report = RunReport()
    lookup = VersionLookup(policy.package_sources(), policy.offline)  # each package asked once per run
    folders, share = select_share(root, options, store)
    todo = _todo(folders, policy, options, store, report, lookup)
    if share is not None:
        todo = _shard_todo(todo, share, store)
    if on_start is not None:
        on_start(len(todo), len(report.skipped))
    todo = _fetch_stage(todo, policy, store, report, on_result, on_fetch, share)
    from codeml_repro.run.batch.pool import run_pool

    matrices = MatrixRuns(policy, CellCache(root), force=options.force or options.repeat > 1, lookup=lookup,
                          share=share)
    units, ready = matrices.split(todo)  # a matrix submission runs as its cells
    for result in ready:
        _record(store, matrices, result)
    for result, problems in itertools.chain(((r, []) for r in ready), run_pool(units, policy, root, options)):
        report.problems.extend(problems)
        finished = matrices.take(result)
        if finished is None:
            continue  # a matrix cell; its submission's result comes with its last cell
        if finished is not result:
            finished = _record(store, matrices, finished)
        report.results.append(finished)
        if on_result is not None:
            on_result(finished)
    report.results.sort(key=lambda r: r.slug)
    report.problems.extend(store.problems)
    return report

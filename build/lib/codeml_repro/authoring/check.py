"""``codeml-repro check PATH``: run one submission as CI would, and explain the outcome.

The report is plain language for an author: the status and the badges it
earns, every claim's expected and observed value with its tolerance, and for
each problem one line saying what happened, where, and what to do about it.
``ok`` is true only when the submission earns its best possible badge
(*Reproduced (automated re-run)* when it declares claims, *Functional
(automated run)* when it has none) and no longer carries the template's
placeholder title, authors or abstract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.authoring.advice import ADVICE, AdviceContext, size_text
from codeml_repro.authoring.claimhints import suggestion_lines
from codeml_repro.authoring.data_hints import DATA_ERRORS, recorded_lines
from codeml_repro.authoring.placeholders import placeholder_fields
from codeml_repro.model.artifact import describe_tolerance
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, Result, Status
from codeml_repro.model.submission import SUBMISSION_FILE, Submission, load_submission
from codeml_repro.results.badges import NO_ARCHIVE_REASON, TIER_LABELS, badges_for
from codeml_repro.results.costs import budget_warnings, cost_line, slowest_cells
from codeml_repro.run.batch.outputclaims import author_cells

_STOPPED = {Status.FAILED, Status.TIMEOUT, Status.KERNEL_DIED, Status.OUTPUT_LIMIT}


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` prints, and whether the submission is ready."""

    result: Result
    ok: bool
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _claim_line(claim: ClaimResult, reads: dict[str, str]) -> str:
    """One claim; ``reads`` names the output an output claim reads (claim name -> "cell 12")."""
    mark = "ok" if claim.ok else ("missing" if not claim.recorded else "FAIL")
    observed = repr(claim.observed) if claim.recorded else "never recorded"
    if not claim.recorded and claim.name in reads:
        observed = f"no match in {reads[claim.name]}'s output (its regex found nothing)"
    if not claim.reached:
        mark, observed = "not reached", "not reached: the notebook stopped itself before"
    where = f" ({claim.description})" if claim.description else ""
    return (
        f"  [{mark}] {claim.name}: expected {claim.expected!r}, observed {observed}, "
        f"tolerance {describe_tolerance(claim)}{where}"
    )


def best_status(sub: Submission | None) -> Status:
    """The best status a submission can reach: reproduced with claims, else functional."""
    return Status.REPRODUCED if sub is not None and sub.spec.claims else Status.FUNCTIONAL


def _badge_names(result: Result) -> str:
    return ", ".join(TIER_LABELS[b] for b in result.badges) or "none"


def _spec_lines(sub: Submission | None) -> list[str]:
    """What the run cannot tell: the template's placeholders, and the missing archive."""
    if sub is None:
        return []
    where = f"submissions/{sub.slug}/{SUBMISSION_FILE}"
    lines = [
        f"warning: {where}: {name}: still the template's placeholder; replace it with your paper's"
        for name in placeholder_fields(sub.spec)
    ]
    if sub.spec.links.archival_id is None:
        lines.append(f"note: Available not earned: {NO_ARCHIVE_REASON} (links.doi, or links.swh)")
    return lines


def _cost_lines(ctx: AdviceContext) -> list[str]:
    """What the run cost (as the poster page says it), its slowest cells, and budgets nearly used up."""
    result = ctx.result
    gpus = ctx.sub.spec.artifact.resources.gpu if ctx.sub is not None else 0
    line = cost_line(result, gpus)
    if line is None:
        return []
    slow = ", ".join(f"cell {c.cell} ({c.duration_s:.1f} s)" for c in slowest_cells(result))
    lines = [line] + ([f"slowest cells: {slow}"] if slow else [])
    warnings = budget_warnings(result, timeout_s=ctx.timeout_s, memory_bytes=ctx.policy.memory_bytes)
    return lines + [f"warning: {w}" for w in warnings]


def _context_lines(ctx: AdviceContext, cells: list[Any] | None) -> list[str]:
    result, policy = ctx.result, ctx.policy
    lines = [f"{result.slug}: {result.status.value} (badges: {_badge_names(result)})"]
    not_run = result.error is not None and result.error.type == "EnvironmentFailed"
    if not_run:
        lines.append("not run: the environment could not be built")
    elif result.error is not None and result.error.type in DATA_ERRORS:
        lines.append("not run: a declared input (artifact.data) could not be fetched or verified")
    elif result.status is not Status.INVALID:
        lines.append(
            f"ran in {result.duration_s:.1f} s; sandbox {result.sandbox}; budgets: whole run "
            f"{ctx.timeout_s:g} s, each cell {policy.cell_timeout_s:g} s, "
            f"outputs {size_text(policy.max_output_bytes)}"
        )
    lines += _cost_lines(ctx)
    if policy.sandbox == "off":
        lines.append(
            "note: CI runs the notebook in the sandbox (no network, read-only host); "
            "check without --sandbox off to see what CI sees"
        )
    lines += [f"warning: {w}" for w in result.warnings]
    lines += [
        f"allowed error in cell {e.cell}: {e.type}: {e.message} (the cell may raise: raises-exception "
        "tag or execution.allow_errors)"
        for e in result.allowed_errors
    ]
    lines += _claims_lines(ctx, cells)
    return lines


def _ran_after(cells: list[Any] | None, cell: int | None) -> bool:
    """Whether any author cell after ``cell`` ran (has an execution count) in the executed notebook."""
    if cells is None or cell is None:
        return False
    return any(c.get("execution_count") is not None for c in author_cells(cells)[cell + 1:])


def _claims_lines(ctx: AdviceContext, cells: list[Any] | None) -> list[str]:
    """The claims, under a heading that says the run stopped only when later cells did not run."""
    result = ctx.result
    if not result.claims:
        return []
    heading = "claims:"
    where = result.error.cell if result.error is not None else None
    if result.status in _STOPPED and not _ran_after(cells, where):
        at = f", at cell {where}" if where is not None else ""
        heading = f"claims (the run stopped early{at}, so later values were never printed or recorded):"
    elif result.status in _STOPPED:
        heading = f"claims (the run failed at cell {where}; the cells after it ran):"
    spec = ctx.sub.spec.claims if ctx.sub is not None else []
    reads = {c.name: f"cell {c.output.cell}" for c in spec if c.output is not None}
    return [heading, *(_claim_line(c, reads) for c in result.claims)]


def _verdict(ctx: AdviceContext, ok: bool) -> list[str]:
    if ctx.sub is None:
        return ["not ready: nothing runs until submission.yml and the notebook are valid; fix the above"]
    best = best_status(ctx.sub)
    label = TIER_LABELS[badges_for(best)[-1]]
    folder = f"submissions/{ctx.result.slug}/"
    if ok and placeholder_fields(ctx.sub.spec):
        return [f"not ready: it earns {label}, but replace the template's placeholders above first"]
    if ok:
        lines = [f"ready: this submission earns its best badge, {label}. Open a pull request adding {folder}"]
        if best is Status.FUNCTIONAL:
            lines.append(
                "tip: declare claims (numbers your paper reports, recorded by the notebook) "
                f"to earn {TIER_LABELS['reproduced']} as well"
            )
        return lines
    return [f"not ready: the best badge for this submission is {label}; fix the above and check again"]


def _report(result: Result, sub: Submission | None, policy: RunPolicy, timeout_s: float,
            cells: list[Any] | None = None) -> CheckReport:
    ctx = AdviceContext(result, sub, policy, timeout_s)
    ok = sub is not None and result.status is best_status(sub)
    lines = _context_lines(ctx, cells)
    if cells is not None and sub is not None:
        lines += suggestion_lines(cells, sub.spec.claims)
    advise = ADVICE.get(result.status)
    if advise is not None and not ok:
        lines.append("what to do:")
        lines += [f"  - {line}" for line in advise(ctx)]
    if result.flaky:
        lines.append("warning: recorded values differed between repeated runs: seed every random generator")
    lines += _spec_lines(sub)
    lines += _verdict(ctx, ok)
    ready = ok and (sub is None or not placeholder_fields(sub.spec))
    return CheckReport(result=result, ok=ready, lines=tuple(lines))


def build_report(result: Result, sub: Submission, policy: RunPolicy, timeout_s: float,
                 cells: list[Any] | None = None) -> CheckReport:
    """The plain-language report of one run of ``sub`` under ``policy``; ``cells`` are the executed
    notebook's (claims to suggest for printed numbers, and whether cells ran after a failure)."""
    return _report(result, sub, policy, timeout_s, cells)


def invalid_report(slug: str, message: str, policy: RunPolicy) -> CheckReport:
    """The report for a submission that cannot be loaded: the one-line error and the fix."""
    from codeml_repro.run.plan.outcome import invalid_status

    return _report(invalid_status(slug, message), None, policy, policy.timeout_s)


def with_matrix_lines(report: CheckReport) -> CheckReport:
    """The report with one line per matrix cell (versions, status, each claim's value) first."""
    cells = report.result.matrix
    if not cells:
        return report
    lines = [f"versions: {len(cells)} cell(s) of artifact.matrix"]
    for cell in cells:
        shown = ", ".join(f"{p} {v}" for p, v in cell.versions.items())
        values = "; ".join(f"{c.name}={c.observed!r}" for c in cell.claims if c.recorded)
        lines.append(f"  {shown}: {cell.status.value}" + (f" ({values})" if values else ""))
    return CheckReport(report.result, report.ok, (*lines, *report.lines))


def _folder_of(path: Path) -> Path:
    folder = path.parent if path.is_file() else path
    return folder if folder.name not in {"", ".", ".."} else folder.resolve()


def _run_keeping_notebook(sub: Submission, policy: RunPolicy) -> tuple[Result, list[Any] | None]:
    """One run recorded in a scratch results/ (never the project's), and its executed cells."""
    import tempfile

    from codeml_repro.model.errors import SubmissionInvalid
    from codeml_repro.model.notebookfile import notebook_cells
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.batch.repeats import run_submission

    with tempfile.TemporaryDirectory(prefix="codeml-check-") as scratch:
        result = run_submission(sub, policy, Path(scratch), save=True)
        executed = ResultStore(Path(scratch)).notebook_path(result.slug)
        try:
            cells = notebook_cells(executed) if executed.is_file() else None
        except SubmissionInvalid:  # over the size bound: no suggestions, the run stands
            cells = None
    return result, cells


def check_path(path: Path, policy: RunPolicy, *, record_downloads: bool = False) -> CheckReport:
    """Validate and run the submission at ``path`` (its folder or its submission.yml) as CI would.

    Nothing is written to ``results/``. Raises :class:`~codeml_repro.model.errors.ReproError`
    only when the tool itself cannot work (e.g. the sandbox is required but missing).
    With ``record_downloads`` the notebook keeps the network, through a proxy that notes what it
    downloads, and the report ends with the ``artifact.data`` entries to paste.
    """
    folder = _folder_of(path)
    if not folder.is_dir():
        return invalid_report(
            folder.name, f"{folder}: no such folder; create one with 'codeml-repro new SLUG'", policy
        )
    try:
        sub = load_submission(folder)
        check_notebook(sub, policy.kernel_map())
    except SubmissionInvalid as exc:
        return invalid_report(folder.name, exc.message, policy)
    if record_downloads:
        from codeml_repro.run.sandbox.recorder import recording

        with recording(policy.data_bytes) as recorder:
            report = _checked_run(sub, policy)
            recorded = recorded_lines(list(recorder.downloads.values()), sub)
        return CheckReport(report.result, report.ok, (*report.lines, *recorded))
    return _checked_run(sub, policy)


def _checked_run(sub: Submission, policy: RunPolicy) -> CheckReport:
    timeout_s = policy.effective_timeout(sub.spec.artifact.timeout)
    if sub.spec.artifact.matrix:  # one run per cell; their cells kept apart from results/
        import tempfile

        from codeml_repro.results.cells import CellCache
        from codeml_repro.run.batch.repeats import run_matrix_now

        with tempfile.TemporaryDirectory(prefix="codeml-check-") as scratch:
            result = run_matrix_now(sub, policy, CellCache(Path(scratch)))
        cells = None
    else:
        result, cells = _run_keeping_notebook(sub, policy)
    report = build_report(result, sub, policy, timeout_s, cells)
    return with_matrix_lines(report)

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

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.authoring.data_hints import DATA_ERRORS, data_error_advice, declare_advice
from codeml_repro.authoring.hints import failed_hints
from codeml_repro.authoring.placeholders import placeholder_fields
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
from codeml_repro.model.submission import SUBMISSION_FILE, Submission, load_submission
from codeml_repro.model.text import cell_source, shorten
from codeml_repro.results.badges import NO_ARCHIVE_REASON, TIER_LABELS, badges_for
from codeml_repro.results.costs import budget_warnings, cost_line, slowest_cells
from codeml_repro.run.claims import describe_tolerance, is_number

_MAX_MESSAGE = 200
_MAX_SNIPPET = 60
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


@dataclass(frozen=True)
class _Context:
    result: Result
    sub: Submission | None
    policy: RunPolicy
    timeout_s: float

    @property
    def error(self) -> ErrorInfo:
        return self.result.error or ErrorInfo(type="UnknownError", message="no details were recorded")

    @property
    def notebook_name(self) -> str:
        return self.sub.spec.artifact.notebook if self.sub else "the notebook"


def _short(text: str) -> str:
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    return shorten(first, _MAX_MESSAGE)


def _size(n: float) -> str:
    """Decimal units, as the output cap is usually quoted: 10 MB."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1000:
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} GB"


def _cell_source(sub: Submission | None, cell: int) -> str | None:
    if sub is None:
        return None
    try:
        cells = json.loads(sub.notebook_path.read_text(encoding="utf-8"))["cells"]
        source = cells[cell]["source"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    text = cell_source(source)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    joined = "; ".join(lines)
    return shorten(joined, _MAX_SNIPPET) or None


def _where(ctx: _Context) -> str:
    """'cell 7 (the 8th cell of artifact.ipynb: `x = 1 / 0`)', or '' when unknown."""
    cell = ctx.error.cell
    if cell is None:
        return ""
    source = _cell_source(ctx.sub, cell)
    snippet = f": `{source}`" if source else ""
    return f"cell {cell} (the {_ordinal(cell + 1)} cell of {ctx.notebook_name}{snippet})"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _claim_line(claim: ClaimResult) -> str:
    mark = "ok" if claim.ok else ("missing" if not claim.recorded else "FAIL")
    observed = repr(claim.observed) if claim.recorded else "never recorded"
    if not claim.reached:
        mark, observed = "not reached", "not reached: the notebook stopped itself before"
    where = f" ({claim.description})" if claim.description else ""
    return (
        f"  [{mark}] {claim.name}: expected {claim.expected!r}, observed {observed}, "
        f"tolerance {describe_tolerance(claim)}{where}"
    )


def _allowed_range(claim: ClaimResult) -> str:
    if not is_number(claim.expected) or (claim.rel_tol is None and claim.abs_tol is None):
        return "exact match required"
    expected = float(claim.expected)
    margin = max((claim.rel_tol or 0.0) * abs(expected), claim.abs_tol or 0.0)
    return f"allowed about {expected - margin:.6g} to {expected + margin:.6g}"


def _claim_advice(claim: ClaimResult) -> list[str]:
    name = claim.name
    if not claim.reached:
        return [
            f"claim '{name}' was not reached: the notebook stopped itself (sys.exit / SystemExit) "
            "before the cell that records it; remove the early exit, or record it before"
        ]
    if not claim.recorded:
        return [
            f"claim '{name}' was never recorded: in the cell that computes it, add "
            f'`from codeml_repro import record` and `record("{name}", value)` '
            f'(or myst-nb\'s `glue("{name}", value)`, or scrapbook\'s `sb.glue("{name}", value)`); '
            "the name must match the claim's name exactly, and that cell must run"
        ]
    head = (
        f"claim '{name}' not reproduced: expected {claim.expected!r}, observed {claim.observed!r}, "
        f"tolerance {describe_tolerance(claim)} ({_allowed_range(claim)}"
    )
    if is_number(claim.expected) and not is_number(claim.observed):
        kind = type(claim.observed).__name__
        return [f"{head})", f"the notebook recorded a {kind}, not a number: record the number itself"]
    if is_number(claim.expected) and is_number(claim.observed) and math.isfinite(float(claim.observed)):
        diff = float(claim.observed) - float(claim.expected)
        rel = f", {abs(diff) / abs(float(claim.expected)):.2%}" if claim.expected else ""
        head += f"; off by {diff:+.6g}{rel}"
    return [
        f"{head})",
        "if the notebook is right, correct `expected` to the number your paper reports; "
        "if the value changes from run to run, seed every random generator; "
        "widen rel_tol/abs_tol only as far as the paper's precision allows",
    ]


def _advise_not_reproduced(ctx: _Context) -> list[str]:
    out = [line for claim in ctx.result.claims if not claim.ok for line in _claim_advice(claim)]
    return out or ["a claim did not match; see the claims above"]


def _advise_environment(ctx: _Context) -> list[str]:
    req = ctx.sub.spec.artifact.requirements if ctx.sub else None
    name = req or "requirements.txt"
    detail = " ".join(ctx.error.message.split())
    detail = shorten(detail, 2 * _MAX_MESSAGE)
    return [
        f"the notebook's environment could not be built from {name}, so no cell ran: {detail}",
        f"check every package name in {name} against pypi.org (a typo reads as 'not found')",
        "pin versions that publish wheels for Linux and this Python version: the check installs "
        "wheels only and never builds a package from source (uv pip install --no-build)",
        f"try it yourself in a fresh venv: `uv pip install --no-build -r {name} ipykernel`",
    ]


def _advise_failed(ctx: _Context) -> list[str]:
    err = ctx.error
    if err.type == "EnvironmentFailed":
        return _advise_environment(ctx)
    if err.type in DATA_ERRORS:
        return data_error_advice(err)
    where = _where(ctx) or "the run, before any cell of yours"
    hints = failed_hints(err, ctx.result, ctx.sub)
    return [f"{where} raised {err.type}: {_short(err.message)}", *hints, *declare_advice(err, ctx.sub)]


def _advise_timeout(ctx: _Context) -> list[str]:
    err, policy = ctx.error, ctx.policy
    where = _where(ctx) or ("a cell" if err.type == "CellTimeout" else "the notebook")
    cap = f"{policy.max_timeout_s:g}"
    if err.type == "CellTimeout":
        head = (
            f"{where} ran past the {policy.cell_timeout_s:g} s cell budget: lower the work in that "
            "cell (e.g. a smaller value in artifact.parameters) or split it into several cells"
        )
    elif ctx.timeout_s >= policy.max_timeout_s:
        head = (
            f"{where} was still running when the whole-run budget of {ctx.timeout_s:g} s ran out: "
            f"lower the work (e.g. smaller artifact.parameters); the whole-run budget cannot go "
            f"above {cap} s"
        )
    else:
        head = (
            f"{where} was still running when the whole-run budget of {ctx.timeout_s:g} s ran out: "
            f"lower the work (e.g. smaller artifact.parameters) or raise artifact.timeout up to {cap}"
        )
    return [head, "a cell that should be quick may be looping forever or waiting for input() or network"]


def _advise_kernel_died(ctx: _Context) -> list[str]:
    where = _where(ctx) or "the notebook"
    detail = _short(ctx.error.message)
    memory = f"{ctx.policy.memory_bytes / 1024**3:.3g} GiB"
    return [
        f"the kernel process died while running {where}" + (f" ({detail})" if detail else ""),
        f"most often it ran out of memory (the cap is {memory}): use less data or smaller batches, "
        "and free large arrays with `del` once done",
        "a call to os._exit() (or sys.exit() inside a library) also ends the kernel: remove it",
        "a crash (segmentation fault) in a compiled library: pin a version that works in requirements.txt",
    ]


def _advise_output_limit(ctx: _Context) -> list[str]:
    where = _where(ctx) or "the notebook"
    cap = _size(ctx.policy.max_output_bytes)
    return [
        f"{where} printed past the {cap} output cap and the run was stopped",
        "print less: summaries instead of whole arrays, a log line every few hundred steps, "
        "progress bars off (e.g. tqdm(disable=True)); write large results to files instead",
    ]


def _advise_invalid(ctx: _Context) -> list[str]:
    message = ctx.error.message
    if ".ipynb" in message and SUBMISSION_FILE not in message.split(":", 1)[0]:
        fix = "open the notebook in Jupyter, save it again (nbformat 4), and run the check again"
    else:
        fix = (
            "fix that field in submission.yml (an editor that reads submission.schema.json checks it "
            "as you type), then run the check again"
        )
    return [f"invalid: {message}", fix]


def _advise_skipped(ctx: _Context) -> list[str]:
    reason = ctx.result.skip_reason or "this machine lacks a declared resource"
    return [
        f"not run here: {reason}",
        "check on a machine that has it, add a 'smoke' profile that runs without it, or lower "
        "artifact.resources if the notebook does not need it",
    ]


_ADVICE: dict[Status, Callable[[_Context], list[str]]] = {
    Status.NOT_REPRODUCED: _advise_not_reproduced,
    Status.FAILED: _advise_failed,
    Status.TIMEOUT: _advise_timeout,
    Status.KERNEL_DIED: _advise_kernel_died,
    Status.OUTPUT_LIMIT: _advise_output_limit,
    Status.INVALID: _advise_invalid,
    Status.SKIPPED: _advise_skipped,
}


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


def _cost_lines(ctx: _Context) -> list[str]:
    """What the run cost (as the poster page says it), its slowest cells, and budgets nearly used up."""
    result = ctx.result
    gpus = ctx.sub.spec.artifact.resources.gpu if ctx.sub is not None else 0
    line = cost_line(result, gpus)
    if line is None:
        return []
    slow = ", ".join(f"cell {c.cell} ({c.duration_s:.1f} s)" for c in slowest_cells(result))
    lines = [line] + ([f"slowest cells: {slow}"] if slow else [])
    warnings = budget_warnings(
        result, timeout_s=ctx.timeout_s, cell_timeout_s=ctx.policy.cell_timeout_s,
        memory_bytes=ctx.policy.memory_bytes,
    )
    return lines + [f"warning: {w}" for w in warnings]


def _context_lines(ctx: _Context) -> list[str]:
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
            f"outputs {_size(policy.max_output_bytes)}"
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
    if result.claims and result.status in _STOPPED:
        lines.append("claims (the run stopped early, so later values were never recorded):")
    elif result.claims:
        lines.append("claims:")
    lines += [_claim_line(c) for c in result.claims]
    return lines


def _verdict(ctx: _Context, ok: bool) -> list[str]:
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


def _report(result: Result, sub: Submission | None, policy: RunPolicy, timeout_s: float) -> CheckReport:
    ctx = _Context(result, sub, policy, timeout_s)
    ok = sub is not None and result.status is best_status(sub)
    lines = _context_lines(ctx)
    advise = _ADVICE.get(result.status)
    if advise is not None and not ok:
        lines.append("what to do:")
        lines += [f"  - {line}" for line in advise(ctx)]
    if result.flaky:
        lines.append("warning: recorded values differed between repeated runs: seed every random generator")
    lines += _spec_lines(sub)
    lines += _verdict(ctx, ok)
    ready = ok and (sub is None or not placeholder_fields(sub.spec))
    return CheckReport(result=result, ok=ready, lines=tuple(lines))


def build_report(result: Result, sub: Submission, policy: RunPolicy, timeout_s: float) -> CheckReport:
    """The plain-language report of one run of ``sub`` under ``policy``."""
    return _report(result, sub, policy, timeout_s)


def invalid_report(slug: str, message: str, policy: RunPolicy) -> CheckReport:
    """The report for a submission that cannot be loaded: the one-line error and the fix."""
    from codeml_repro.run.outcome import invalid_status

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


def _root_of(folder: Path) -> Path:
    parent = folder.parent
    return parent.parent if parent.name == "submissions" else parent


def check_path(path: Path, policy: RunPolicy) -> CheckReport:
    """Validate and run the submission at ``path`` (its folder or its submission.yml) as CI would.

    Nothing is written to ``results/``. Raises :class:`~codeml_repro.model.errors.ReproError`
    only when the tool itself cannot work (e.g. the sandbox is required but missing).
    """
    folder = _folder_of(path)
    if not folder.is_dir():
        return invalid_report(
            folder.name, f"{folder}: no such folder; create one with 'codeml-repro new SLUG'", policy
        )
    try:
        sub = load_submission(folder)
        check_notebook(sub)
    except SubmissionInvalid as exc:
        return invalid_report(folder.name, exc.message, policy)
    from codeml_repro.run.repeats import run_submission

    timeout_s = policy.effective_timeout(sub.spec.artifact.timeout)
    if sub.spec.artifact.matrix:  # one run per cell; their cells kept apart from results/
        import tempfile

        from codeml_repro.results.cells import CellCache
        from codeml_repro.run.matrix import run_matrix_now

        with tempfile.TemporaryDirectory(prefix="codeml-check-") as scratch:
            result = run_matrix_now(sub, policy, CellCache(Path(scratch)))
    else:
        result = run_submission(sub, policy, _root_of(folder), save=False)
    report = build_report(result, sub, policy, timeout_s)
    return with_matrix_lines(report)

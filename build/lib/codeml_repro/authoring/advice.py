"""What ``check`` advises for each outcome: one line per problem, what happened and what to do.

One function per status (:data:`ADVICE`), each given an :class:`AdviceContext`:
the result, the submission when it loaded, and the budgets of the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from codeml_repro.authoring.data_hints import DATA_ERRORS, data_error_advice, declare_advice
from codeml_repro.authoring.hints import failed_hints
from codeml_repro.model.artifact import describe_tolerance
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebookfile import notebook_cells
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
from codeml_repro.model.submission import SUBMISSION_FILE, Submission
from codeml_repro.model.text import cell_source, shorten
from codeml_repro.run.batch.claims import is_number

_MAX_MESSAGE = 200
_MAX_SNIPPET = 60


@dataclass(frozen=True)
class AdviceContext:
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


def size_text(n: float) -> str:
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
        source = notebook_cells(sub.notebook_path)[cell]["source"]
    except (SubmissionInvalid, KeyError, IndexError, TypeError):
        return None
    text = cell_source(source)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    joined = "; ".join(lines)
    return shorten(joined, _MAX_SNIPPET) or None


def where_in_notebook(ctx: AdviceContext) -> str:
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


def _advise_not_reproduced(ctx: AdviceContext) -> list[str]:
    out = [line for claim in ctx.result.claims if not claim.ok for line in _claim_advice(claim)]
    return out or ["a claim did not match; see the claims above"]


def _advise_environment(ctx: AdviceContext) -> list[str]:
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


def _advise_failed(ctx: AdviceContext) -> list[str]:
    err = ctx.error
    if err.type == "EnvironmentFailed":
        return _advise_environment(ctx)
    if err.type in DATA_ERRORS:
        return data_error_advice(err)
    where = where_in_notebook(ctx) or "the run, before any cell of yours"
    hints = failed_hints(err, ctx.result, ctx.sub, ctx.policy)
    return [f"{where} raised {err.type}: {_short(err.message)}", *hints, *declare_advice(err, ctx.sub)]


def _advise_timeout(ctx: AdviceContext) -> list[str]:
    err, policy = ctx.error, ctx.policy
    where = where_in_notebook(ctx) or ("a cell" if err.type == "CellTimeout" else "the notebook")
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


def _advise_kernel_died(ctx: AdviceContext) -> list[str]:
    where = where_in_notebook(ctx) or "the notebook"
    detail = _short(ctx.error.message)
    memory = f"{ctx.policy.memory_bytes / 1024**3:.3g} GiB"
    return [
        f"the kernel process died while running {where}" + (f" ({detail})" if detail else ""),
        f"most often it ran out of memory (the cap is {memory}): use less data or smaller batches, "
        "and free large arrays with `del` once done",
        "a call to os._exit() (or sys.exit() inside a library) also ends the kernel: remove it",
        "a crash (segmentation fault) in a compiled library: pin a version that works in requirements.txt",
    ]


def _advise_output_limit(ctx: AdviceContext) -> list[str]:
    where = where_in_notebook(ctx) or "the notebook"
    cap = size_text(ctx.policy.max_output_bytes)
    return [
        f"{where} printed past the {cap} output cap and the run was stopped",
        "print less: summaries instead of whole arrays, a log line every few hundred steps, "
        "progress bars off (e.g. tqdm(disable=True)); write large results to files instead",
    ]


def _advise_invalid(ctx: AdviceContext) -> list[str]:
    message = ctx.error.message
    if ".ipynb" in message and SUBMISSION_FILE not in message.split(":", 1)[0]:
        fix = "open the notebook in Jupyter, save it again (nbformat 4), and run the check again"
    else:
        fix = (
            "fix that field in submission.yml (an editor that reads submission.schema.json checks it "
            "as you type), then run the check again"
        )
    return [f"invalid: {message}", fix]


def _advise_skipped(ctx: AdviceContext) -> list[str]:
    reason = ctx.result.skip_reason or "this machine lacks a declared resource"
    return [
        f"not run here: {reason}",
        "check on a machine that has it, add a 'smoke' profile that runs without it, or lower "
        "artifact.resources if the notebook does not need it",
    ]


ADVICE: dict[Status, Callable[[AdviceContext], list[str]]] = {
    Status.NOT_REPRODUCED: _advise_not_reproduced,
    Status.FAILED: _advise_failed,
    Status.TIMEOUT: _advise_timeout,
    Status.KERNEL_DIED: _advise_kernel_died,
    Status.OUTPUT_LIMIT: _advise_output_limit,
    Status.INVALID: _advise_invalid,
    Status.SKIPPED: _advise_skipped,
}

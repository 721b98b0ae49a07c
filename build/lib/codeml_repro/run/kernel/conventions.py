"""Jupyter conventions an author's notebook may rely on, read as the ecosystem reads them.

- A cell tagged ``raises-exception`` may raise (nbclient, nbmake, Jupyter Book, myst-nb): the run
  goes on and the error stays in the saved notebook.
- Notebook metadata ``execution.allow_errors`` / ``execution.timeout`` (nbmake, Jupyter Book) and
  ``mystnb.execution_allow_errors`` / ``mystnb.execution_timeout`` (myst-nb): allowed errors do
  not fail the run; the per-cell timeout applies only when it is lower than the policy's.
- A cell's own ``metadata.execution.timeout`` (nbformat's cell ``execution`` namespace, the
  field proposed for it in nbformat#180 and jupyter-cache#39): that cell's budget, again only
  when lower. nbclient reads no cell metadata itself but asks ``timeout_func(cell)`` per cell,
  after emptying the cell's ``execution`` metadata for its timing record: the runner answers
  from the notebook as the author wrote it.
- ``sys.exit(0)`` / ``raise SystemExit`` stops the run without an error, as papermill does.

Errors are noted from the kernel's execute replies as they arrive (see
:mod:`codeml_repro.run.kernel.client`), never read back from the saved notebook, so the error
that fails the run is the first one *not* allowed, with its real name and message (a magic's
``UsageError`` included, which IPython reports in the reply but not as an error output).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codeml_repro.model.result import ErrorInfo
from codeml_repro.run.kernel import shellstatus

RAISES_TAG = "raises-exception"


@dataclass(frozen=True)
class NotebookSettings:
    """Execution settings the author wrote in the notebook's metadata."""

    allow_errors: bool = False
    cell_timeout_s: float | None = None  # None: the policy's per-cell budget


@dataclass(frozen=True)
class CellError:
    """One error a cell's execute reply carried; ``cell`` indexes the executed notebook."""

    cell: int
    ename: str
    evalue: str
    allowed: bool

    @property
    def clean_exit(self) -> bool:
        """``sys.exit()``, ``sys.exit(0)``, ``raise SystemExit``: papermill treats them as success."""
        return self.ename == "SystemExit" and self.evalue.strip() in {"", "0", "None"}


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 else None


def notebook_settings(metadata: Mapping[str, Any]) -> NotebookSettings:
    """The settings of ``execution`` (nbmake, Jupyter Book) or ``mystnb`` (myst-nb) metadata.

    Malformed values are ignored, as a setting that does not parse is no setting: the policy
    applies. Of two timeouts the lower one wins.
    """
    execution = metadata.get("execution")
    mystnb = metadata.get("mystnb")
    execution = execution if isinstance(execution, Mapping) else {}
    mystnb = mystnb if isinstance(mystnb, Mapping) else {}
    allow = execution.get("allow_errors") is True or mystnb.get("execution_allow_errors") is True
    timeouts = [
        t for t in (_positive(execution.get("timeout")), _positive(mystnb.get("execution_timeout")))
        if t is not None
    ]
    return NotebookSettings(allow_errors=allow, cell_timeout_s=min(timeouts) if timeouts else None)


def cell_timeout(policy_s: float, settings: NotebookSettings) -> float:
    """The per-cell budget: the notebook's own only when it is lower (it never raises the policy's)."""
    if settings.cell_timeout_s is None:
        return policy_s
    return min(policy_s, settings.cell_timeout_s)


def own_timeout(cell: Mapping[str, Any]) -> float | None:
    """A cell's ``metadata.execution.timeout`` in seconds (None: absent or malformed).

    No executor reads it by default: nbclient leaves per-cell budgets to its ``timeout_func``
    hook, and myst-nb, Jupyter Book and nbmake read ``execution.timeout`` only in the
    notebook's metadata. Cell metadata has an ``execution`` namespace in nbformat, where the
    discussions of a per-cell timeout (nbformat#180, jupyter-cache#39) put it, so it is read
    there, with the same name as the notebook-level field. nbformat's schema requires every value
    in that namespace to be a string (Jupyter keeps execution timestamps there), so the seconds
    are written as one (``"20"``); a number would make the notebook invalid before it runs.
    """
    execution = (cell.get("metadata") or {}).get("execution")
    value = execution.get("timeout") if isinstance(execution, Mapping) else None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    return _positive(value) if value == value else None  # NaN is no timeout


def budget_of(cell: Mapping[str, Any], policy_s: float, settings: NotebookSettings) -> float:
    """One cell's budget: the lowest of the policy's, the notebook's and the cell's own.

    An author may shorten a cell's budget (to fail fast on a loop that hangs), never lengthen
    it: the policy's budget protects the batch.
    """
    own = own_timeout(cell)
    budget = cell_timeout(policy_s, settings)
    return budget if own is None else min(budget, own)


def timeout_source(cell: Mapping[str, Any], policy_s: float, settings: NotebookSettings) -> str:
    """Where a timed-out cell's budget came from, when the author's metadata lowered it."""
    own = own_timeout(cell)
    notebook = cell_timeout(policy_s, settings)
    if own is not None and own < notebook:
        return f" (the cell's own metadata execution.timeout: {own:g} s)"
    if notebook < policy_s:
        return f" (the notebook's metadata execution timeout: {notebook:g} s)"
    return ""


def allowed(cell: Mapping[str, Any], settings: NotebookSettings) -> bool:
    """Whether a cell may raise without failing the run."""
    tags = (cell.get("metadata") or {}).get("tags") or []
    return settings.allow_errors or RAISES_TAG in tags


def error_from_reply(cell: Mapping[str, Any], index: int, content: Mapping[str, Any],
                     settings: NotebookSettings) -> CellError:
    """A :class:`CellError` from an execute reply's content (status ``error``)."""
    error = CellError(
        cell=index,
        ename=str(content.get("ename") or "CellExecutionError"),
        evalue=str(content.get("evalue") or ""),
        allowed=allowed(cell, settings),
    )
    if error.clean_exit:  # the notebook asked to stop: never "allowed" and run on
        return CellError(error.cell, error.ename, error.evalue, allowed=False)
    return error


def _error_outputs(cell: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    outputs = cell.get("outputs") or []
    return [o for o in outputs if isinstance(o, Mapping) and o.get("output_type") == "error"]


def display_error(cell: Mapping[str, Any], index: int, content: Mapping[str, Any],
                  settings: NotebookSettings) -> CellError | None:
    """An error raised while *displaying* a result (``_repr_html_``...), which the reply hides.

    IPython catches it in its display formatter and shows the traceback as an error output;
    before IPython 9 the reply still says ``ok`` (papermill then fails the run on the output,
    whatever the cell's tags), from IPython 9 it says ``error`` with no exception name
    (``NoneType``). Either way the error output names it, and a ``raises-exception`` cell or
    ``allow_errors`` covers it, as nbclient and myst-nb treat it.
    """
    outputs = _error_outputs(cell)
    if not outputs:
        return None
    status, ename = content.get("status"), content.get("ename")
    if status == "ok" or (status == "error" and ename in (None, "", "NoneType")):
        out = outputs[-1]
        return CellError(index, str(out.get("ename") or "Exception"), str(out.get("evalue") or ""),
                         allowed(cell, settings))
    return None


def first_fatal(errors: list[CellError]) -> CellError | None:
    """The error that ends the run: the first one not allowed (a clean exit included)."""
    return next((e for e in errors if not e.allowed), None)


@dataclass(frozen=True)
class CellErrors:
    """What the notebook's errors mean for the run, in the author's cell indices."""

    fatal: ErrorInfo | None  # the error that fails the run (None: none, or a clean exit)
    allowed: list[ErrorInfo]  # errors of cells that may raise, in order
    stopped_at: int | None  # the cell that called sys.exit(0) / raised SystemExit


def summarize(errors: list[CellError], index_of: Callable[[int], int | None]) -> CellErrors:
    """Sort the noted errors into the one that fails the run, the allowed ones, and a clean exit.

    ``index_of`` maps an index of the executed notebook to the author's (None for injected cells).
    """
    def info(e: CellError) -> ErrorInfo:
        return ErrorInfo(type=e.ename, message=e.evalue, cell=index_of(e.cell))

    fatal = first_fatal(errors)
    allowed_errors = [info(e) for e in errors if e.allowed]
    if fatal is not None and fatal.clean_exit:
        return CellErrors(fatal=None, allowed=allowed_errors, stopped_at=index_of(fatal.cell))
    return CellErrors(fatal=None if fatal is None else info(fatal), allowed=allowed_errors, stopped_at=None)


def stop_note(stopped_at: int, n_cells: int) -> str:
    """The sentence a result carries when the notebook stopped itself."""
    head = f"the notebook stopped itself at cell {stopped_at} (sys.exit / SystemExit)"
    first, last = stopped_at + 1, n_cells - 1
    if first > last:
        return f"{head}; it was the last cell"
    rest = f"cell {first}" if first == last else f"cells {first}-{last}"
    return f"{head}; {rest} did not run"


def parameters_note(notebook: str, cells: list[Mapping[str, Any]]) -> str | None:
    """A warning when parameters are injected at the top because no cell is tagged ``parameters``."""
    if any("parameters" in ((c.get("metadata") or {}).get("tags") or []) for c in cells):
        return None
    return (
        f"no cell of {notebook} is tagged 'parameters': papermill injected artifact.parameters at "
        "the top of the notebook, so a later cell that sets the same names overwrites them; tag the "
        "cell that sets their defaults 'parameters'"
    )


_SHELL_NOT_FOUND = re.compile(
    r"^(?:\S*/)?(?:ba|da)?sh: (?:\d+: |line \d+: )?(.+?): (?:command )?not found\s*$", re.M
)


def _text_of(cell: Mapping[str, Any]) -> str:
    parts = []
    for out in cell.get("outputs") or []:
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "".join(parts)


def shell_failures(cells: list[Mapping[str, Any]], index_of: Callable[[int], int | None],
                   statuses: Mapping[int, int] | None = None) -> list[str]:
    """Warnings for shell commands that failed: IPython goes on, keeping the status in ``_exit_code``
    (``statuses``, by executed cell, see :mod:`.shellstatus`) or printing the shell's 'not found'.
    Package installs are left to :mod:`codeml_repro.run.batch.runnotes`, which says why they cannot work."""
    notes = []
    for i, cell in enumerate(cells):
        command = shellstatus.shell_command(cell)
        where = index_of(i)
        if command is None or where is None or shellstatus.INSTALL.search(command):
            continue
        found = _SHELL_NOT_FOUND.search(_text_of(cell))
        status = (statuses or {}).get(i)
        if found is not None:
            why = f"failed ({found.group(1)}: not found, exit status 127)"
        elif status is not None:
            why = shellstatus.status_words(status)
        else:
            continue
        notes.append(f"cell {where}: the shell command `{command[:80]}` {why}; IPython does not stop on "
                     "it, so later cells ran without it")
    return notes

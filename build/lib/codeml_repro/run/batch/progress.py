"""What a person sees during and after a run: a progress bar and tables.

Progress goes to stderr (so ``status --json`` style output stays clean);
tables go to stdout.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeml_repro.model.logsafe import log_line
from codeml_repro.model.result import Result, Status
from codeml_repro.model.text import shorten
from codeml_repro.run.batch.runall import RunReport

_STYLE = {
    Status.REPRODUCED: "green",
    Status.FUNCTIONAL: "blue",
    Status.NOT_REPRODUCED: "yellow",
    Status.PENDING: "dim",
    Status.INVALID: "magenta",
    Status.SKIPPED: "cyan",
}


class RunProgress:
    """A progress bar over the notebooks that actually run (and one over the inputs they fetch)."""

    def __init__(self) -> None:
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.fields[stage]}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=self._console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._fetch: TaskID | None = None

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None or self._fetch is not None:
            self._progress.stop()

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self._console.print(f"{skipped} unchanged submission(s) skipped (use --force to run them)")
        if total:
            self._progress.start()
            self._task = self._progress.add_task("", total=total, stage="running")

    def fetched(self, name: str, done: int, total: int) -> None:
        """One declared input is ready (fetched, or found intact in the cache), or failed."""
        if self._fetch is None:
            self._progress.start()
            self._fetch = self._progress.add_task("", total=total, stage="inputs")
        self._progress.update(self._fetch, completed=done, description=escape(log_line(name)))

    def advance(self, result: Result) -> None:
        if self._task is not None:
            text = escape(log_line(f"{result.slug}: {result.status.value}"))
            self._progress.update(self._task, advance=1, description=text)


def _table(results: list[Result], skipped: set[str], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("submission", "status", "claims", "time", "note"):
        table.add_column(column, overflow="fold")
    for r in results:
        ok = sum(c.ok for c in r.claims)
        claims = f"{ok}/{len(r.claims)}" if r.claims else "-"
        note = "skipped (unchanged)" if r.slug in skipped else ""
        if r.error is not None:
            where = f" in cell {r.error.cell}" if r.error.cell is not None else ""
            note = log_line(shorten(f"{r.error.type}{where}: {r.error.message}", 120))
        if r.skip_reason:
            note = log_line(f"not run here: {r.skip_reason}")
        if r.flaky:
            note = ("flaky; " + note).strip("; ")
        if r.profile != "full":
            note = (f"profile {r.profile}; " + note).strip("; ")
        style = _STYLE.get(r.status, "red")
        row = (escape(log_line(r.slug)), f"[{style}]{r.status.value}[/]", claims, f"{r.duration_s:.1f}s")
        table.add_row(*row, escape(note))  # author text: no rich markup, no workflow command
    return table


def print_summary(report: RunReport, title: str = "Artifacts") -> None:
    """The status table (``title``: e.g. "ReproML artifacts", from the site's data) and the counts."""
    console = Console()
    if not report.results:
        console.print("no submissions found")
        return
    console.print(_table(report.results, set(report.skipped), title))
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def print_status_table(results: list[Result], title: str = "Artifacts") -> None:
    Console().print(_table(results, set(), title) if results else "no submissions found")

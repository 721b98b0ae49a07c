"""The ``codeml-repro`` command: a thin layer over the library.

Exit codes: 0 when the command did its job (``run``: every submission got a
status, whatever it is); 1 when ``validate``/``check`` found a problem with a
submission; 2 when the tool itself could not work (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from codeml_repro.model.errors import ReproError
from codeml_repro.model.logsafe import log_line

F = TypeVar("F", bound=Callable[..., Any])

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder holding submissions/ and results/.",
)


def _one_line_errors(func: F) -> F:
    """Tool errors print one line, never a traceback, and exit 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReproError as exc:
            click.echo(f"error: {log_line(exc.message)}", err=True)
            sys.exit(2)
        except OSError as exc:  # a disk, permission or lock problem (filelock.Timeout is one)
            click.echo(f"error: {log_line(exc)}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _policy_options(func: F) -> F:
    from codeml_repro.model import budgets

    options = [
        click.option("--timeout", "timeout_s", type=float, default=None,
                     help=f"Whole-run seconds per notebook [default: {budgets.TIMEOUT_S:g}, "
                     "or artifact.timeout]."),
        click.option("--cell-timeout", "cell_timeout_s", type=float, default=budgets.CELL_TIMEOUT_S,
                     show_default=True, help="Seconds per cell."),
        click.option("--max-output-bytes", type=int, default=budgets.MAX_OUTPUT_BYTES,
                     show_default=True, help="Cap on all outputs; the kernel is stopped past it."),
        click.option("--sandbox", type=click.Choice(["required", "auto", "off"]), default=None,
                     help="bwrap isolation [default: required when CI is set, else auto]."),
        click.option("--env", "env", type=click.Choice(["auto", "current"]), default="auto",
                     show_default=True,
                     help="auto: a uv venv per requirements.txt; current: this Python."),
        click.option("--index-url", default=None, metavar="URL",
                     help="Package index every environment is built from [default: $CODEML_INDEX_URL, "
                     "else uv's]."),
        click.option("--find-links", default=None, metavar="DIR",
                     help="A folder of wheels searched too [default: $CODEML_FIND_LINKS]."),
        click.option("--data-budget", "data_bytes", type=int, default=None, metavar="BYTES",
                     help="Most bytes of artifact.data one submission may fetch [default: 5 GB]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_OPTION_OF = {
    "timeout_s": "--timeout",
    "max_timeout_s": "--timeout",
    "cell_timeout_s": "--cell-timeout",
    "max_output_bytes": "--max-output-bytes",
    "data_bytes": "--data-budget",
}


def _require_submissions(root: Path) -> None:
    """A mistyped --root must not pass as 'nothing to do' in CI."""
    if not (root / "submissions").is_dir():
        raise ReproError(f"{root}: no submissions/ folder here; pass --root with the project folder")


def _policy(timeout_s: float | None, cell_timeout_s: float, max_output_bytes: int,
            sandbox: str | None, env: str, index_url: str | None = None,
            find_links: str | None = None, data_bytes: int | None = None) -> Any:
    from pydantic import ValidationError

    from codeml_repro.model.policy import IndexSettings, RunPolicy, default_sandbox_mode

    values: dict[str, Any] = {
        "cell_timeout_s": cell_timeout_s,
        "max_output_bytes": max_output_bytes,
        "sandbox": sandbox or default_sandbox_mode(),
        "env": env,
    }
    if index_url or find_links:  # else the environment variables, read when environments are built
        values["index"] = IndexSettings.from_environ().with_options(index_url, find_links)
    if timeout_s is not None:
        values.update(timeout_s=timeout_s, max_timeout_s=timeout_s)
    if data_bytes is not None:
        values["data_bytes"] = data_bytes
    try:
        return RunPolicy(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = _OPTION_OF.get(str(first["loc"][0]), str(first["loc"][0]))
        raise click.BadParameter(first["msg"], param_hint=option) from None


def _terminate_as_interrupt() -> None:
    """SIGTERM (a cancelled CI job) stops runs as Ctrl-C does: workers and kernels cleaned up."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="codeml_repro")
def cli() -> None:
    """Run CODEML artifact notebooks, check the claimed numbers, record badges."""


@cli.command(short_help="Check submissions without running them.")
@click.argument("slugs", nargs=-1)
@root_option
@click.option("--pull-request", is_flag=True,
              help="Also refuse a review of another version of the artifact (CI on pull requests).")
@_one_line_errors
def validate(slugs: tuple[str, ...], root: Path, pull_request: bool) -> None:
    """Check submission.yml and the notebook of SLUGS (default: all); no execution."""
    from codeml_repro.authoring.review import stale_review_problem
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.submission import discover
    from codeml_repro.run.plan import plan

    _require_submissions(root)
    folders = discover(root, list(slugs) or None)
    bad = 0
    for folder in folders:
        planned = plan(folder, RunPolicy())
        if pull_request and planned.submission is not None and not planned.problem:
            planned = replace(planned, problem=stale_review_problem(planned.submission))
        if planned.problem:
            bad += 1
            click.echo(log_line(planned.problem), err=True)
        else:
            click.echo(f"ok: {planned.slug}")
    click.echo(f"{len(folders) - bad} valid, {bad} invalid", err=True)
    sys.exit(1 if bad else 0)


@cli.command(short_help="Run artifact notebooks and record results.")
@click.argument("slugs", nargs=-1)
@root_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Notebooks run in parallel [default: number of cores].")
@click.option("--force", is_flag=True, help="Run even when nothing changed since the last run.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each notebook N times; differing values mark it flaky.")
@click.option("--shard", default=None, metavar="I/N", help="Run only shard I of N (0-based).")
@click.option("--profile", default="full", show_default=True, metavar="NAME",
              help="Artifact profile to run (e.g. smoke); submissions without it run full.")
@click.option("--gpu", "gpu", type=click.Choice(["any", "only", "none"]), default="any", show_default=True,
              help="only: just the submissions declaring a GPU (a GPU runner); none: all the others.")
@_policy_options
@_one_line_errors
def run(slugs: tuple[str, ...], root: Path, jobs: int | None, force: bool, repeat: int,
        shard: str | None, profile: str, gpu: str, **policy_args: Any) -> None:
    """Run the artifact notebooks of SLUGS (default: all) and record results."""
    import os

    from codeml_repro.run.batch import run_all
    from codeml_repro.run.plan import RunOptions
    from codeml_repro.run.progress import RunProgress, print_summary
    from codeml_repro.run.shards import parse_shard

    _require_submissions(root)
    policy = _policy(**policy_args)
    options = RunOptions(
        slugs=list(slugs) or None,
        jobs=jobs or os.cpu_count() or 1,
        force=force,
        repeat=repeat,
        shard=parse_shard(shard) if shard else None,
        profile=profile,
        gpu=gpu,  # type: ignore[arg-type]  # click.Choice checked it
    )
    _terminate_as_interrupt()
    try:
        with RunProgress() as progress:
            report = run_all(root, policy, options, on_start=progress.start, on_result=progress.advance,
                             on_fetch=progress.fetched)
    except KeyboardInterrupt:
        click.echo("interrupted: runs in progress were stopped; finished results are recorded", err=True)
        sys.exit(130)
    for problem in report.problems:
        click.echo(f"warning: {log_line(problem)}", err=True)
    print_summary(report)


@cli.command(short_help="Show the status of every submission.")
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array sorted by slug.")
@_one_line_errors
def status(root: Path, as_json: bool) -> None:
    """Show the last recorded status of every submission."""
    from codeml_repro.run.progress import print_status_table
    from codeml_repro.run.status import current_status

    _require_submissions(root)
    results, problems = current_status(root)
    for problem in problems:
        click.echo(f"warning: {log_line(problem)}", err=True)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        print_status_table(results)


@cli.command(short_help="Scaffold a new submission.")
@click.argument("slug")
@root_option
@click.option("--requirements", is_flag=True,
              help="Also write a requirements.txt (the run then builds its own environment).")
@_one_line_errors
def new(slug: str, root: Path, requirements: bool) -> None:
    """Scaffold submissions/SLUG/ with a template, a notebook and a claim."""
    from codeml_repro.authoring.scaffold import new_submission

    folder = new_submission(root, slug, requirements=requirements)
    click.echo(f"created {folder}: edit submission.yml and artifact.ipynb, then run "
               f"'codeml-repro check {folder}'")


@cli.command(short_help="Check one submission as CI would, with advice.")
@click.argument("path", type=click.Path(path_type=Path))
@root_option
@_policy_options
@_one_line_errors
def check(path: Path, root: Path, **policy_args: Any) -> None:
    """Validate and run one submission as CI would, and explain the outcome.

    PATH is the submission folder (or its submission.yml, or its slug), relative to --root.
    Nothing is written to results/.
    """
    from codeml_repro.authoring.check import check_path

    target = root / path
    if not target.exists() and (root / "submissions" / path).is_dir():
        target = root / "submissions" / path  # a slug, as validate and run take
    report = check_path(target, _policy(**policy_args))
    click.echo("\n".join(report.lines))
    sys.exit(0 if report.ok else 1)


@cli.command("plan", short_help="Split the submissions into CI shards by last durations.")
@root_option
@click.option("--shards", "count", type=click.IntRange(min=1), default=None,
              help="Exactly N shards [default: as many as --target-minutes needs].")
@click.option("--target-minutes", type=click.FloatRange(min=0, min_open=True), default=20.0,
              envvar="CODEML_SHARD_MINUTES", show_default=True,
              help="Predicted minutes per shard (env CODEML_SHARD_MINUTES).")
@click.option("--max-shards", type=click.IntRange(min=1), default=32, envvar="MAX_SHARDS",
              show_default=True, help="Most shards --target-minutes may ask for (env MAX_SHARDS).")
@click.option("--json", "as_json", is_flag=True,
              help='Print [{"shard": 0, "slugs": [...], "predicted_s": ...}, ...].')
@_one_line_errors
def plan_command(root: Path, count: int | None, target_minutes: float, max_shards: int,
                 as_json: bool) -> None:
    """Split the submissions into shards by their last durations, as `run --shard I/N` does.

    A submission never run weighs the median of the known durations. The
    lower bound is the larger of total/N and the longest single submission.
    """
    from codeml_repro.model.submission import discover
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.shards import last_durations, plan_shards

    _require_submissions(root)
    slugs = [folder.name for folder in discover(root)]
    durations = last_durations(ResultStore(root))
    shard_plan = plan_shards(slugs, durations, count=count, target_s=target_minutes * 60,
                             max_shards=max_shards)
    n = len(shard_plan.shards)
    summary = (f"{len(slugs)} submissions, {n} shard{'s' if n != 1 else ''}: longest shard "
               f"{shard_plan.makespan_s / 60:.1f} min, lower bound {shard_plan.lower_bound_s / 60:.1f} min "
               f"(total {shard_plan.total_s / 60:.1f} min, longest {shard_plan.longest_s / 60:.1f} min)")
    if as_json:
        click.echo(json.dumps(shard_plan.to_json()))
        click.echo(summary, err=True)
        return
    for row in shard_plan.to_json():
        click.echo(f"shard {row['shard']}/{len(shard_plan.shards)}: {len(row['slugs'])} submissions, "
                   f"predicted {row['predicted_s'] / 60:.1f} min")
    click.echo(summary)


@cli.command(short_help="Find the first version of a package on which a claim breaks.")
@click.argument("slug")
@root_option
@click.option("--package", required=True, help="A package of the submission's requirements.txt.")
@click.option("--good", required=True, metavar="V1", help="A release on which the claims hold.")
@click.option("--bad", required=True, metavar="V2", help="A later release on which they do not.")
@_policy_options
@_one_line_errors
def bisect(slug: str, root: Path, package: str, good: str, bad: str, **policy_args: Any) -> None:
    """Run SLUG on releases of --package between --good and --bad (from the package index, or
    CODEML_FIND_LINKS) by binary search, and report the first on which a claim stops holding.
    Versions probed before, by bisect or a matrix, are read from results/cells/. Exits 0 when
    it found the version, 1 when the range shows no break (e.g. --good does not hold either)."""
    from codeml_repro.run.bisect import bisect as run_bisect
    from codeml_repro.run.bisect import describe_probe, describe_report

    _require_submissions(root)
    policy = _policy(**policy_args)
    _terminate_as_interrupt()
    try:
        report = run_bisect(root, slug, package, good, bad, policy,
                            on_probe=lambda probe: click.echo(describe_probe(package, probe), err=True))
    except KeyboardInterrupt:
        click.echo("interrupted: the probe in progress was stopped", err=True)
        sys.exit(130)
    for line in describe_report(report):
        click.echo(line)
    sys.exit(0 if report.first_bad is not None else 1)


@cli.command(short_help="Print the review block organizers paste into submission.yml.")
@click.argument("slug")
@root_option
@click.option("--by", required=True, help='Reviewer, or "artifact evaluation committee".')
@click.option("--reusable/--not-reusable", default=True, show_default=True,
              help="The reviewers' verdict on reuse.")
@click.option("--note", default="", help="A short note shown on the poster page.")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Day of the review (default: today, UTC).")
@_one_line_errors
def review(slug: str, root: Path, by: str, reusable: bool, note: str, day: datetime | None) -> None:
    """Print a `review:` block for SLUG as it is now, with the inputs key it reviews."""
    from codeml_repro.authoring.review import review_block
    from codeml_repro.model.submission import discover, load_submission

    (folder,) = discover(root, [slug])
    when = (day or datetime.now(timezone.utc)).date()
    click.echo(review_block(load_submission(folder), by, reusable, note, when), nl=False)


@cli.command(short_help="Combine results of CI shards.")
@click.argument("dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@root_option
@click.option("--shards", "shard_total", type=click.IntRange(min=1), default=None, metavar="N",
              help="DIRS are shard-0..shard-N-1 of `run --shard I/N`: each may update only the "
              "submissions assigned to it (computed from ROOT as the shards computed it).")
@_one_line_errors
def merge(dirs: tuple[Path, ...], root: Path, shard_total: int | None) -> None:
    """Combine the results of CI shards (DIRS) into ROOT/results."""
    from codeml_repro.results.merge import merge_results

    assigned = None
    if shard_total is not None:
        from codeml_repro.run.shards import assignment_of_dirs

        assigned = assignment_of_dirs(root, shard_total, list(dirs))
    report = merge_results(list(dirs), root, assigned)
    click.echo(str(report))


@cli.command(short_help="Print the JSON Schema of submission.yml.")
@click.option("--write", is_flag=True, help="Write submission.schema.json into --root.")
@root_option
@_one_line_errors
def schema(write: bool, root: Path) -> None:
    """Print (or write) the JSON Schema of submission.yml."""
    from codeml_repro.model.schema import schema_text

    text = schema_text()
    if write:
        from codeml_repro.results.store import atomic_write

        atomic_write(root / "submission.schema.json", text.encode())
        click.echo(f"wrote {root / 'submission.schema.json'}")
    else:
        click.echo(text, nl=False)


@cli.group(name="import", short_help="Import accepted papers into submissions/.")
def import_group() -> None:
    """Import accepted papers from a conference system into submissions/<slug>/."""


@import_group.command(name="openreview", short_help="Import accepted papers from OpenReview.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--venue", default=None, metavar="ID",
              help="Fetch from OpenReview instead of FILE, e.g. ICML.cc/2025/Workshop/CODEML "
              "(needs the [openreview] extra and the network).")
@click.option("--dry-run", is_flag=True, help="Print a diff per file; write nothing.")
@root_option
@_one_line_errors
def import_openreview(file: Path | None, venue: str | None, dry_run: bool, root: Path) -> None:
    """Write submissions/<slug>/submission.yml for each accepted paper of an OpenReview export.

    FILE is the notes JSON that openreview-py's get_all_notes returns (API v2, or v1), saved
    with json.dump. A re-import finds each paper's folder by its openreview_id and updates
    only what came from OpenReview; withdrawn or rejected papers are reported, never deleted.
    Exits 1 when a note could not be imported (the others are).
    """
    from codeml_repro.authoring.importer import apply_plan, plan_import
    from codeml_repro.authoring.openreview import fetch_venue, read_export

    if (file is None) == (venue is None):
        raise click.UsageError("give either FILE or --venue")
    _require_submissions(root)
    export = read_export(file) if file is not None else fetch_venue(str(venue))
    plan = plan_import(root, export)
    for change in plan.changes:
        if dry_run and change.kind != "unchanged":
            click.echo(change.diff(), nl=False)
        verb = {"created": "would create", "updated": "would update"} if dry_run else {}
        click.echo(f"{verb.get(change.kind, change.kind)}: {change.label}", err=True)
    for note in plan.notes:
        click.echo(note, err=True)
    for problem in plan.problems:
        click.echo(f"error: {problem}", err=True)
    if not dry_run:
        apply_plan(plan)
    sys.exit(1 if plan.problems else 0)
@cli.command(short_help="Write requirements.txt from the notebook's imports, pinned as installed here.")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing requirements.txt.")
@_one_line_errors
def freeze(folder: Path, force: bool) -> None:
    """Pin every module the notebook in FOLDER (submissions/SLUG) imports at the version installed
    in this Python, and write FOLDER/requirements.txt. Imports not installed here are listed."""
    from codeml_repro.authoring.imports import freeze as freeze_folder

    target, pins, absent = freeze_folder(folder, force=force)
    click.echo(f"wrote {target}: {len(pins)} pinned" + "".join(f"\n  {p}" for p in pins))
    for module in absent:
        click.echo(f"not installed here, add it yourself (pinned): {module}")


@cli.command(name="hash", short_help="Print the sha256 of data files (for artifact.data).")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_one_line_errors
def hash_files(files: tuple[Path, ...]) -> None:
    """Print the sha256 and size of FILES, as an artifact.data entry declares them."""
    from codeml_repro.model.inputs import sha256_file

    for path in files:
        click.echo(f"{sha256_file(path)}  {path.stat().st_size:>12}  {path}")


@cli.group(short_help="Manage the workshop's editions (years).")
def edition() -> None:
    """The current edition is book/_data/ and submissions/; past ones live in editions/YEAR/."""


@edition.command(name="close", short_help="Move this edition to editions/YEAR.")
@click.argument("year", type=int)
@root_option
@_one_line_errors
def edition_close(year: int, root: Path) -> None:
    """Move the current edition to editions/YEAR and list it under "Past editions".

    Copies book/_data/ to editions/YEAR/_data/, moves the submissions (not the toolkit's
    examples) to editions/YEAR/submissions/, writes the edition's home, schedule, speakers
    and posters pages and adds them to _toc.yml. Results stay keyed by slug: history goes
    on, the scheduled runs keep running these artifacts, poster pages keep their URLs.
    """
    from codeml_repro.authoring.editions import close_edition

    closed = close_edition(root, year)
    click.echo(f"closed {year}: {len(closed.moved)} submissions moved to {closed.folder / 'submissions'}")
    if closed.kept:
        click.echo(f"kept with the current edition (examples): {', '.join(closed.kept)}")
    click.echo(f"pages: {closed.folder}/{{index,schedule,speakers,posters}}.md, listed in _toc.yml; "
               "edit book/_data/*.yml for the next edition")


def main() -> None:
    cli(prog_name="codeml-repro")



if __name__ == "__main__":
    main()

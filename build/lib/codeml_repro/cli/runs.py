"""The CI commands: validate, run, status, plan (shards), bisect and merge."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from codeml_repro.cli.options import (
    environment_policy,
    one_line_errors,
    policy_from,
    policy_options,
    require_submissions,
    root_option,
    terminate_as_interrupt,
)
from codeml_repro.model.logsafe import log_line


def table_title(root: Path) -> str:
    """"ReproML artifacts": the run table is titled after the site's workshop (workshop.yml)."""
    from codeml_repro.model.workshopname import workshop_names

    return workshop_names(root).titled("artifacts")


@click.command(short_help="Check submissions without running them.")
@click.argument("slugs", nargs=-1)
@root_option
@click.option("--pull-request", is_flag=True, hidden=True,
              help="Accepted for older workflows: reviews live in reviews/ now, nothing more to check.")
@click.option("--online", is_flag=True,
              help="Also ask the package index (CODEML_INDEX_URL, else uv's default) for the "
              "packages of artifact.matrix; without it only CODEML_FIND_LINKS is read.")
@one_line_errors
def validate(slugs: tuple[str, ...], root: Path, pull_request: bool, online: bool) -> None:
    """Check submission.yml and the notebook of SLUGS (default: all); no execution.

    The packages and versions of artifact.matrix are checked against the wheels in
    CODEML_FIND_LINKS (offline), and with --online against the package index too; what
    cannot be checked is a note, not an error.
    """
    from codeml_repro.model.submission import discover
    from codeml_repro.run.matrix.pins import check_sources
    from codeml_repro.run.plan.planning import plan

    del pull_request  # a stale review is shown stale; authors cannot write one (model/review.py)
    require_submissions(root)
    folders = discover(root, list(slugs) or None)
    bad = 0
    for folder in folders:
        planned = plan(folder, environment_policy())
        if planned.submission is not None and not planned.problem:
            checked = check_sources(planned.submission, environment_policy(), online=online)
            note = checked.note(planned.submission)
            if note:
                click.echo(f"note: {log_line(note)}", err=True)
            planned = replace(planned, problem=checked.problem)
        if planned.problem:
            bad += 1
            click.echo(log_line(planned.problem), err=True)
        else:
            click.echo(f"ok: {planned.slug}")
    click.echo(f"{len(folders) - bad} valid, {bad} invalid", err=True)
    sys.exit(1 if bad else 0)


@click.command(short_help="Run artifact notebooks and record results.")
@click.argument("slugs", nargs=-1)
@root_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Notebooks run in parallel [default: number of cores].")
@click.option("--force", is_flag=True, help="Run even when nothing changed since the last run.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each notebook N times; differing values mark it flaky.")
@click.option("--shard", default=None, metavar="I/N",
              help="Run only shard I of N (0-based); matrix cells are shared out one by one.")
@click.option("--profile", default="full", show_default=True, metavar="NAME",
              help="Artifact profile to run (e.g. smoke); submissions without it run full.")
@click.option("--gpu", "gpu", type=click.Choice(["any", "only", "none"]), default="any", show_default=True,
              help="only: just the submissions declaring a GPU (a GPU runner); none: all the others.")
@policy_options
@one_line_errors
def run(slugs: tuple[str, ...], root: Path, jobs: int | None, force: bool, repeat: int,
        shard: str | None, profile: str, gpu: str, **policy_args: Any) -> None:
    """Run the artifact notebooks of SLUGS (default: all) and record results."""
    import os

    from codeml_repro.run.batch.progress import RunProgress, print_summary
    from codeml_repro.run.batch.runall import run_all
    from codeml_repro.run.plan.planning import RunOptions
    from codeml_repro.run.plan.shards import parse_shard

    require_submissions(root)
    policy = policy_from(**policy_args)
    options = RunOptions(
        slugs=list(slugs) or None,
        jobs=jobs or os.cpu_count() or 1,
        force=force,
        repeat=repeat,
        shard=parse_shard(shard) if shard else None,
        profile=profile,
        gpu=gpu,  # type: ignore[arg-type]  # click.Choice checked it
    )
    terminate_as_interrupt()
    try:
        with RunProgress() as progress:
            report = run_all(root, policy, options, on_start=progress.start, on_result=progress.advance,
                             on_fetch=progress.fetched)
    except KeyboardInterrupt:
        click.echo("interrupted: runs in progress were stopped; finished results are recorded", err=True)
        sys.exit(130)
    for problem in report.problems:
        click.echo(f"warning: {log_line(problem)}", err=True)
    print_summary(report, table_title(root))


@click.command(short_help="Show the status of every submission.")
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array sorted by slug.")
@one_line_errors
def status(root: Path, as_json: bool) -> None:
    """Show the last recorded status of every submission."""
    from codeml_repro.run.batch.progress import print_status_table
    from codeml_repro.run.plan.status import current_status

    require_submissions(root)
    results, problems = current_status(root)
    for problem in problems:
        click.echo(f"warning: {log_line(problem)}", err=True)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        print_status_table(results, table_title(root))


@click.command("plan", short_help="Split the submissions into CI shards by last durations.")
@root_option
@click.option("--shards", "count", type=click.IntRange(min=1), default=None,
              help="Exactly N shards [default: as many as --target-minutes needs].")
@click.option("--target-minutes", type=click.FloatRange(min=0, min_open=True), default=20.0,
              envvar="CODEML_SHARD_MINUTES", show_default=True,
              help="Predicted minutes per shard (env CODEML_SHARD_MINUTES).")
@click.option("--max-shards", type=click.IntRange(min=1), default=32, envvar="MAX_SHARDS",
              show_default=True, help="Most shards --target-minutes may ask for (env MAX_SHARDS).")
@click.option("--json", "as_json", is_flag=True,
              help='Print [{"shard": 0, "slugs": [...], "predicted_s": ...}, ...]; a matrix cell '
              'is SLUG@I (cell I of its artifact.matrix).')
@one_line_errors
def plan_command(root: Path, count: int | None, target_minutes: float, max_shards: int,
                 as_json: bool) -> None:
    """Split the submissions into shards by their last durations, as `run --shard I/N` does.

    Each cell of an artifact.matrix is a unit of its own (SLUG@I in --json), so one
    submission's cells may run on several shards; `merge --shards N` combines them. A unit
    never run weighs the median of the known durations. The lower bound is the larger of
    total/N and the longest single unit.
    """
    from codeml_repro.model.submission import discover
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.plan.shards import plan_shards, shard_units, unit_durations, unit_slug

    require_submissions(root)
    folders = discover(root)
    slugs = [folder.name for folder in folders]
    units = [unit for group in shard_units(folders).values() for unit in group]
    durations = unit_durations(folders, ResultStore(root))
    shard_plan = plan_shards(units, durations, count=count, target_s=target_minutes * 60,
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
        held = len({unit_slug(unit)[0] for unit in row["slugs"]})
        click.echo(f"shard {row['shard']}/{len(shard_plan.shards)}: {held} submissions, "
                   f"predicted {row['predicted_s'] / 60:.1f} min")
    click.echo(summary)


@click.command(short_help="Find the first version of a package on which a claim breaks.")
@click.argument("slug")
@root_option
@click.option("--package", required=True, help="A package of the submission's requirements.txt.")
@click.option("--good", required=True, metavar="V1", help="A release on which the claims hold.")
@click.option("--bad", required=True, metavar="V2", help="A later release on which they do not.")
@policy_options
@one_line_errors
def bisect(slug: str, root: Path, package: str, good: str, bad: str, **policy_args: Any) -> None:
    """Run SLUG on releases of --package between --good and --bad (from the package index, or
    CODEML_FIND_LINKS) by binary search, and report the first on which a claim stops holding.
    Versions probed before, by bisect or a matrix, are read from results/cells/. Exits 0 when
    it found the version, 1 when the range shows no break (e.g. --good does not hold either)."""
    from codeml_repro.run.batch.bisect import bisect as run_bisect
    from codeml_repro.run.batch.bisect import describe_probe, describe_report

    require_submissions(root)
    policy = policy_from(**policy_args)
    terminate_as_interrupt()
    try:
        report = run_bisect(root, slug, package, good, bad, policy,
                            on_probe=lambda probe: click.echo(describe_probe(package, probe), err=True))
    except KeyboardInterrupt:
        click.echo("interrupted: the probe in progress was stopped", err=True)
        sys.exit(130)
    for line in describe_report(report):
        click.echo(line)
    sys.exit(0 if report.first_bad is not None else 1)


@click.command(short_help="Combine results of CI shards.")
@click.argument("dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@root_option
@click.option("--shards", "shard_total", type=click.IntRange(min=1), default=None, metavar="N",
              help="DIRS are shard-0..shard-N-1 of `run --shard I/N`: each may update only the "
              "submissions and matrix cells assigned to it (computed from ROOT as the shards "
              "computed it).")
@click.option("--gpu", "gpu", type=click.Choice(["any", "only", "none"]), default="any", show_default=True,
              help="As the runs that made DIRS were given it. only: DIRS come from `run --gpu only` and "
              "may update only submissions declaring artifact.resources.gpu; none: with --shards, the "
              "shards of `run --gpu none` (the GPU submissions left out).")
@one_line_errors
def merge(dirs: tuple[Path, ...], root: Path, shard_total: int | None, gpu: str) -> None:
    """Combine the results of CI shards (DIRS) into ROOT/results.

    A matrix submission whose cells ran on several shards is combined from the parts each
    shard recorded (results/parts/SLUG.json), as a single run would have combined its cells.
    """
    from codeml_repro.results.merge import NOT_ASSIGNED, merge_results
    from codeml_repro.run.plan.planning import merge_assignment

    assigned = merge_assignment(root, list(dirs), shard_total, gpu)  # type: ignore[arg-type]  # a Choice
    refusal = NOT_ASSIGNED
    if gpu == "only" and shard_total is None:
        refusal = "does not declare artifact.resources.gpu (merge --gpu only)"
    report = merge_results(list(dirs), root, assigned, refusal)
    click.echo(str(report))

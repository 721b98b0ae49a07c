"""The organizers' commands: init (a new site), review, import (OpenReview) and edition close."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from codeml_repro.cli.options import one_line_errors, require_submissions, root_option


@click.command(short_help="Write the organizers' review of a submission (reviews/<slug>.yml).")
@click.argument("slug")
@root_option
@click.option("--by", required=True, help='Reviewer, or "artifact evaluation committee".')
@click.option("--reusable/--not-reusable", default=True, show_default=True,
              help="The reviewers' verdict on reuse.")
@click.option("--note", default="", help="A short note shown on the poster page.")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Day of the review (default: today, UTC).")
@one_line_errors
def review(slug: str, root: Path, by: str, reusable: bool, note: str, day: datetime | None) -> None:
    """Write reviews/SLUG.yml: the review of SLUG as it is now, with the inputs key it reviews.

    Reviews live at the project root, outside the folders authors write; commit the file
    (only organizers may change reviews/: .github/CODEOWNERS and the pull-request check).
    """
    from codeml_repro.model.submission import discover, load_submission
    from codeml_repro.organizers.review import write_review

    (folder,) = discover(root, [slug])
    when = (day or datetime.now(timezone.utc)).date()
    path = write_review(root, load_submission(folder), by, reusable, note, when)
    verdict = "reusable" if reusable else "not reusable"
    click.echo(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}: {verdict}")


@click.group(name="import", short_help="Import accepted papers into submissions/.")
def import_group() -> None:
    """Import accepted papers from a conference system into submissions/<slug>/."""


@import_group.command(name="openreview", short_help="Import accepted papers from OpenReview.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--venue", default=None, metavar="ID",
              help="Fetch from OpenReview instead of FILE, e.g. ICML.cc/2025/Workshop/CODEML "
              "(needs the [openreview] extra and the network).")
@click.option("--dry-run", is_flag=True, help="Print a diff per file; write nothing.")
@root_option
@one_line_errors
def import_openreview(file: Path | None, venue: str | None, dry_run: bool, root: Path) -> None:
    """Write submissions/<slug>/submission.yml for each accepted paper of an OpenReview export.

    FILE is the notes JSON that openreview-py's get_all_notes returns (API v2, or v1), saved
    with json.dump. A re-import finds each paper's folder by its openreview_id and updates
    only what came from OpenReview; withdrawn or rejected papers are reported, never deleted.
    Exits 1 when a note could not be imported (the others are).
    """
    from codeml_repro.organizers.importer import apply_plan, plan_import
    from codeml_repro.organizers.openreview import fetch_venue, read_export

    if (file is None) == (venue is None):
        raise click.UsageError("give either FILE or --venue")
    require_submissions(root)
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


@click.group(short_help="Manage the workshop's editions (years).")
def edition() -> None:
    """The current edition is book/_data/ and submissions/; past ones live in editions/YEAR/."""


@edition.command(name="close", short_help="Move this edition to editions/YEAR.")
@click.argument("year", type=int)
@root_option
@one_line_errors
def edition_close(year: int, root: Path) -> None:
    """Move the current edition to editions/YEAR and list it under "Past editions".

    Copies book/_data/ to editions/YEAR/_data/, moves the submissions (not the toolkit's
    examples) to editions/YEAR/submissions/, writes the edition's home, schedule, speakers
    and posters pages and adds them to _toc.yml. Results stay keyed by slug: history goes
    on, the scheduled runs keep running these artifacts, poster pages keep their URLs.
    """
    from codeml_repro.organizers.editions import close_edition

    closed = close_edition(root, year)
    click.echo(f"closed {year}: {len(closed.moved)} submissions moved to {closed.folder / 'submissions'}")
    if closed.kept:
        click.echo(f"kept with the current edition (examples): {', '.join(closed.kept)}")
    click.echo(f"pages: {closed.folder}/{{index,schedule,speakers,posters}}.md, listed in _toc.yml; "
               "edit book/_data/*.yml for the next edition")


@click.command(name="init", short_help="Write a new workshop's site into DIR.")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default=None, help='The workshop\'s name, e.g. "Workshop on Reproducible ML".')
@click.option("--short-name", default=None, help="Short name, e.g. ReproML: cite keys, file names, titles "
              "[default: the name's initials].")
@click.option("--year", type=int, default=None, help="The edition's year [default: this year].")
@click.option("--venue", default=None, help='Host conference, e.g. "NeurIPS" [default: a placeholder].')
@click.option("--url", default=None, help="Link of the call for papers' format [default: a placeholder].")
@one_line_errors
def init(folder: Path, name: str | None, short_name: str | None, year: int | None, venue: str | None,
         url: str | None) -> None:
    """Write a complete new site into DIR (new or empty): the book's config, pages and data
    (book/_data/*.yml, lists empty), an example submission, the GitHub workflows and a README.
    Asks nothing; edit book/_data/workshop.yml for anything left as a placeholder. Then:
    cd DIR && jupyter-book build . -W
    """
    from codeml_repro.organizers.newsite import init_site, site_values

    values = site_values(name, short_name, year, venue, url, datetime.now(timezone.utc).year)
    written = init_site(folder, values)
    click.echo(f"wrote {len(written)} files and submissions/example-demo/ into {folder} "
               f"for {values.name} ({values.short_name} {values.year})")
    click.echo(f"next: cd {folder} && jupyter-book build . -W   (pip install 'codeml-repro[site]' first)")

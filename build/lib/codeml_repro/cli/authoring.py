"""The authors' commands: new, check, freeze, hash and schema."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from codeml_repro.cli.options import one_line_errors, policy_from, policy_options, root_option


@click.command(short_help="Scaffold a new submission.")
@click.argument("slug")
@root_option
@click.option("--requirements", is_flag=True,
              help="Also write a requirements.txt (the run then builds its own environment).")
@one_line_errors
def new(slug: str, root: Path, requirements: bool) -> None:
    """Scaffold submissions/SLUG/ with a template, a notebook and a claim."""
    from codeml_repro.authoring.scaffold import new_submission

    folder = new_submission(root, slug, requirements=requirements)
    click.echo(f"created {folder}: edit submission.yml and artifact.ipynb, then run "
               f"'codeml-repro check {folder}'")


@click.command(short_help="Check one submission as CI would, with advice.")
@click.argument("path", type=click.Path(path_type=Path))
@root_option
@click.option("--record-downloads", is_flag=True,
              help="Let the notebook download (this machine's network, through a recording proxy) and "
                   "print the artifact.data entries (URL, sha256, size) to paste.")
@policy_options
@one_line_errors
def check(path: Path, root: Path, record_downloads: bool, **policy_args: Any) -> None:
    """Validate and run one submission as CI would, and explain the outcome.

    PATH is the submission folder (or its submission.yml, or its slug), relative to --root.
    Nothing is written to results/.
    """
    from codeml_repro.authoring.check import check_path

    target = root / path
    if not target.exists() and (root / "submissions" / path).is_dir():
        target = root / "submissions" / path  # a slug, as validate and run take
    report = check_path(target, policy_from(**policy_args), record_downloads=record_downloads)
    click.echo("\n".join(report.lines))
    sys.exit(0 if report.ok else 1)


@click.command(short_help="Write requirements.txt from the notebook's imports, pinned as installed here.")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing requirements.txt.")
@one_line_errors
def freeze(folder: Path, force: bool) -> None:
    """Pin every module the notebook in FOLDER (submissions/SLUG) imports at the version installed
    in this Python, and write FOLDER/requirements.txt. Imports not installed here are listed."""
    from codeml_repro.authoring.imports import freeze as freeze_folder

    target, pins, absent = freeze_folder(folder, force=force)
    click.echo(f"wrote {target}: {len(pins)} pinned" + "".join(f"\n  {p}" for p in pins))
    for module in absent:
        click.echo(f"not installed here, add it yourself (pinned): {module}")


@click.command(name="hash", short_help="Print the sha256 of data files (for artifact.data).")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@one_line_errors
def hash_files(files: tuple[Path, ...]) -> None:
    """Print the sha256 and size of FILES, as an artifact.data entry declares them."""
    from codeml_repro.model.inputs import sha256_file

    for path in files:
        click.echo(f"{sha256_file(path)}  {path.stat().st_size:>12}  {path}")


@click.command(short_help="Print the JSON Schema of submission.yml.")
@click.option("--write", is_flag=True, help="Write submission.schema.json into --root.")
@root_option
@one_line_errors
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

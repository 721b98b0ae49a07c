"""Organizers' data command: the data cache of ``artifact.data`` inputs, exported as a mirror.

``codeml-repro data export DIR`` writes every verified file of the cache as
``DIR/sha256/<hash>``; served over http(s), DIR is what ``CODEML_DATA_MIRROR`` names, so a
workshop keeps every artifact's data when the authors' links rot.
"""

from __future__ import annotations

from pathlib import Path

import click

from codeml_repro.cli.options import one_line_errors


@click.group("data")
def data_group() -> None:
    """The data cache of artifact.data inputs ($CODEML_CACHE/data, default ~/.cache/codeml-repro/data)."""


@data_group.command("export")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@one_line_errors
def export(dest: Path) -> None:
    """Write the cache's verified files to DEST/sha256/<hash>: a mirror for CODEML_DATA_MIRROR.

    Files already in DEST with the right bytes are kept. Hugging Face repositories are not
    exported (HF_ENDPOINT names a Hub mirror).
    """
    from codeml_repro.cli.options import environment_policy
    from codeml_repro.run.inputs.datacache import MIRROR_FOLDER, export_mirror

    count, skipped = export_mirror(environment_policy().cache, dest)
    for name in skipped:
        click.echo(f"skipped {name}: its bytes no longer match its name (fetched again when used)",
                   err=True)
    click.echo(f"{count} files in {dest / MIRROR_FOLDER}; serve {dest} and set CODEML_DATA_MIRROR to its URL")

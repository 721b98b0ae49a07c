"""The install-time command: ``env build``, environments built before any run needs them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codeml_repro.cli.options import one_line_errors, policy_from, require_submissions, root_option


@click.group(name="env", short_help="Build environments ahead of time (at install, with the network).")
def env_group() -> None:
    """Environments are built with uv and cached under $CODEML_CACHE (default ~/.cache/codeml-repro).

    A submission without requirements.txt runs in the base environment (numpy, scipy, pandas,
    matplotlib, scikit-learn, myst-nb, scrapbook, pinned in codeml_repro/run/env/base-requirements.txt);
    `run --env current` uses this Python instead (for development).
    """


@env_group.command(name="build", short_help="Build the base environment and the submissions'.")
@click.argument("slugs", nargs=-1)
@root_option
@click.option("--base", "base_only", is_flag=True, help="Only the base environment.")
@click.option("--index-url", default=None, metavar="URL",
              help="Package index [default: $CODEML_INDEX_URL, else uv's].")
@click.option("--find-links", default=None, metavar="DIR",
              help="A folder of wheels searched too [default: $CODEML_FIND_LINKS].")
@one_line_errors
def env_build(slugs: tuple[str, ...], root: Path, base_only: bool, index_url: str | None,
              find_links: str | None) -> None:
    """Build (or find cached) the base environment and, unless --base, the environment of every
    submission under --root (or of SLUGS; each matrix cell's), so runs afterwards need no
    download; a Python a submission asks for that this host lacks is installed first (uv python
    install). One line each; exits 1 when a submission's environment could not be built."""
    from codeml_repro.run.batch.prebuild import build_base, build_submissions

    policy = policy_from(None, 30.0, 1, "off", "auto", index_url, find_links)
    click.echo(str(build_base(policy)))
    if base_only:
        return
    require_submissions(root)
    failed = 0
    for built in build_submissions(root, policy, list(slugs) or None):
        click.echo(str(built), err=not built.ok)
        failed += not built.ok
    sys.exit(1 if failed else 0)

"""The authors' ``kernel`` commands: the CI sandbox of one submission as a Jupyter kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from codeml_repro.cli.options import one_line_errors, policy_from, policy_options, root_option


@click.group(name="kernel", short_help="Install a submission's CI sandbox as a Jupyter kernel.")
def kernel_group() -> None:
    """A notebook that passes at home and fails in CI: run it in Jupyter (or papermill -k) under the
    exact sandbox CI uses (no network, read-only inputs, the same memory, CPU and disk budgets)."""


@kernel_group.command(name="install", short_help="Write the kernelspec 'codeml-repro sandbox: SLUG'.")
@click.argument("slug")
@click.option("--user", is_flag=True, help="Into your Jupyter data folder [default: this Python's prefix].")
@root_option
@policy_options
@one_line_errors
def kernel_install(slug: str, user: bool, root: Path, **policy_args: Any) -> None:
    """Fetch SLUG's inputs, build its environment, and install a kernel (codeml-SLUG) whose every
    start prepares a run exactly as CI does. The budgets are the options' (CI's by default);
    --sandbox defaults to required: the kernel never runs without isolation."""
    from codeml_repro.run.kernel.installed import install

    folder = root / "submissions" / slug
    if Path(slug).name != slug or slug.startswith(".") or not folder.is_dir():
        raise click.ClickException(f"{folder}: no such submission folder")
    policy_args["sandbox"] = policy_args.get("sandbox") or "required"
    name, where = install(folder, policy_from(**policy_args), user=user)
    click.echo(f"installed kernel {name} ('codeml-repro sandbox: {slug}') in {where}; pick it in Jupyter, "
               f"or run `papermill -k {name} IN.ipynb OUT.ipynb`")


@kernel_group.command(name="uninstall", short_help="Remove the kernelspec kernel install wrote.")
@click.argument("slug")
@one_line_errors
def kernel_uninstall(slug: str) -> None:
    """Remove the kernel 'codeml-repro sandbox: SLUG' (codeml-SLUG)."""
    from codeml_repro.run.kernel.installed import uninstall

    click.echo(f"removed {uninstall(slug)}")

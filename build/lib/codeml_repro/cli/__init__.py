"""The ``codeml-repro`` command: a thin layer over the library.

Exit codes: 0 when the command did its job (``run``: every submission got a
status, whatever it is); 1 when ``validate``/``check`` found a problem with a
submission; 2 when the tool itself could not work (one line on stderr).

The commands live in one module per audience (``runs``: CI; ``authoring``:
authors; ``organizers``: the workshop's organizers) and share ``options``;
this module only groups them. The cli is the top layer: it may import every
other layer, and nothing imports it.
"""

from __future__ import annotations

import gc

import click

from codeml_repro.cli import authoring, data, environments, kernels, organizers, runs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="codeml_repro")
def cli() -> None:
    """Run a workshop's artifact notebooks, check the claimed numbers, record badges."""


for _command in (
    runs.validate, runs.run, runs.status, runs.plan_command, runs.bisect, runs.merge,
    authoring.new, authoring.check, authoring.freeze, authoring.hash_files, authoring.schema,
    organizers.review, organizers.import_group, organizers.edition, organizers.init, environments.env_group,
    data.data_group, kernels.kernel_group,
):
    cli.add_command(_command)


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


def main() -> None:
    """The console script's entry point (``codeml-repro``, ``python -m codeml_repro.cli``).

    A command imports a few hundred modules whose objects live as long as the process: with the
    default threshold the cyclic collector walks them over and over while they are imported, and
    once more at exit (a few hundred ms of a one-notebook run). Here only: tests call ``cli``
    in their own long-lived process, which keeps its own settings.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        cli(prog_name="codeml-repro")
    finally:
        gc.freeze()  # the process ends here: what is left needs no last collection

"""What the commands share: --root, the run-policy options, one-line errors.

Only click and two small model modules are imported here, so that ``--help``
stays cheap; the library is imported inside each command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from codeml_repro.model.errors import ReproError
from codeml_repro.model.logsafe import log_line

F = TypeVar("F", bound=Callable[..., Any])

def _absolute_root(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """The root as an absolute path, fixed once here: every path later handed to a subprocess
    (uv, bwrap, papermill) is then independent of the working directory each one runs in.
    What is shown to people stays relative to it (:mod:`codeml_repro.model.shownpaths`)."""
    return value.absolute()


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    callback=_absolute_root,
    help="Folder holding submissions/ and results/.",
)


def one_line_errors(func: F) -> F:
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


def policy_options(func: F) -> F:
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
                     help="auto: a uv venv per requirements.txt, else the base environment; "
                     "current: this Python (development)."),
        click.option("--index-url", default=None, metavar="URL",
                     help="Package index every environment is built from [default: $CODEML_INDEX_URL, "
                     "else uv's]."),
        click.option("--find-links", default=None, metavar="DIR",
                     help="A folder of wheels searched too [default: $CODEML_FIND_LINKS]."),
        click.option("--data-budget", "data_bytes", type=int, default=None, metavar="BYTES",
                     help="Most bytes of artifact.data one submission may fetch, counted as they "
                     "arrive [default: 5 GB]. Inputs come from public addresses only, unless "
                     "CODEML_ALLOW_PRIVATE_URLS=1; CODEML_DATA_MIRROR=URL is asked first."),
        click.option("--fetch-timeout", "fetch_timeout_s", type=float, default=None, metavar="S",
                     help=f"Seconds the whole fetch stage may take [default: {budgets.FETCH_TIMEOUT_S:g}]."),
        click.option("--kernel-for", "kernel_for", multiple=True, metavar="LANG=KERNELSPEC",
                     help="Run LANG notebooks with this host kernelspec (repeatable) "
                     "[default: $CODEML_KERNELS, e.g. r=ir,julia=julia-1.9]."),
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
    "data_mirror": "CODEML_DATA_MIRROR",
    "fetch_timeout_s": "--fetch-timeout",
}


def require_submissions(root: Path) -> None:
    """A mistyped --root must not pass as 'nothing to do' in CI."""
    if not (root / "submissions").is_dir():
        raise ReproError(f"{root}: no submissions/ folder here; pass --root with the project folder")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes"}


def environment_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run-policy fields the maintainer sets through environment variables: the one place
    below which no module reads them (README lists each; ``tests/test_settings.py`` checks).

    ``CI`` requires the sandbox (a laptop falls back with a warning); ``CODEML_INDEX_URL`` /
    ``CODEML_FIND_LINKS`` are the package sources, ``CODEML_KERNELS`` the host kernels,
    ``CODEML_ALLOW_PRIVATE_URLS`` / ``CODEML_DATA_MIRROR`` the fetch stage's, ``CODEML_OFFLINE``
    keeps uv off the network, ``CODEML_PREWARM=0`` stops kernel pre-start, ``CODEML_BWRAP``
    names the bwrap program (empty: none), ``CODEML_CACHE`` the cache folder (made absolute here:
    uv and the kernel run in other working directories).
    """
    from codeml_repro.model.addresses import private_allowed
    from codeml_repro.model.kernels import kernels_from_environ
    from codeml_repro.model.policy import IndexSettings, default_cache

    source = os.environ if environ is None else environ
    cache = source.get("CODEML_CACHE", "").strip()
    try:
        kernels = kernels_from_environ(source)
    except ValueError as exc:
        raise ReproError(str(exc)) from None
    return {
        "sandbox": "required" if _flag(source.get("CI")) else "auto",
        "index": IndexSettings.from_environ(source),
        "kernels": kernels or None,  # part of the skip key: none stays None, as before
        "allow_private_urls": private_allowed(source),
        "data_mirror": source.get("CODEML_DATA_MIRROR", "").strip() or None,
        "offline": source.get("CODEML_OFFLINE", "") not in ("", "0"),
        "prestart": source.get("CODEML_PREWARM", "1").strip() != "0",
        "bwrap": source.get("CODEML_BWRAP"),
        "cache": Path(cache).absolute() if cache else default_cache(),
    }


def environment_policy() -> Any:
    """A default run policy with the maintainer's environment settings (commands without
    policy options)."""
    from codeml_repro.model.policy import RunPolicy

    return RunPolicy(**environment_settings())


def policy_from(timeout_s: float | None, cell_timeout_s: float, max_output_bytes: int,
            sandbox: str | None, env: str, index_url: str | None = None,
            find_links: str | None = None, data_bytes: int | None = None,
            kernel_for: tuple[str, ...] = (), fetch_timeout_s: float | None = None) -> Any:
    from pydantic import ValidationError

    from codeml_repro.model.policy import RunPolicy

    values = environment_settings()  # the options below take precedence
    values.update(cell_timeout_s=cell_timeout_s, max_output_bytes=max_output_bytes, env=env)
    values["sandbox"] = sandbox or values["sandbox"]
    values["index"] = values["index"].with_options(index_url, find_links)
    if timeout_s is not None:
        values.update(timeout_s=timeout_s, max_timeout_s=timeout_s)
    if data_bytes is not None:
        values["data_bytes"] = data_bytes
    if fetch_timeout_s is not None:
        values["fetch_timeout_s"] = fetch_timeout_s
    if kernel_for:  # else CODEML_KERNELS
        from codeml_repro.model.kernels import parse_kernel_map

        try:
            values["kernels"] = parse_kernel_map(kernel_for, "--kernel-for")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--kernel-for") from None
    try:
        return RunPolicy(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = _OPTION_OF.get(str(first["loc"][0]), str(first["loc"][0]))
        raise click.BadParameter(first["msg"], param_hint=option) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt: every clean-up path that serves Ctrl-C serves it too.

    A subclass, not ``KeyboardInterrupt`` itself: CPython 3.11 marks the process as ended by an
    unhandled Ctrl-C when a ``KeyboardInterrupt`` leaves code run by ``exec`` of a string (a
    dataclass being made while papermill is imported, say), even when the CLI then catches it; the
    process then killed itself with SIGINT at exit instead of returning 130. CPython compares the
    exact type, so a subclass is caught as before and never marked.
    """


def terminate_as_interrupt() -> None:
    """SIGTERM (a cancelled CI job) stops runs as Ctrl-C does: workers and kernels cleaned up."""
    import signal

    from codeml_repro.run.batch.stopsignals import raise_on

    raise_on(signal.SIGTERM, lambda _signum: Terminated())

"""No host paths in what a result says: the run's directories, the cache, the home directory.

A kernel's messages name files by absolute path (``FileNotFoundError: ... '/tmp/codeml-run-x/
work/data.csv'``, ``cannot import name 'X' from 'y' (/root/.cache/.../y/__init__.py)``). Results
are published: they show a path relative to the submission folder, ``$CODEML_CACHE/...`` for the
cache folder (the run policy's, handed down), ``~`` for the runner's home, never the host's layout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from codeml_repro.model.result import ErrorInfo
from codeml_repro.run.sandbox.rundir import RunDirs


def replacements(dirs: RunDirs, cache: Path) -> list[tuple[str, str]]:
    """(host prefix, shown as), longest first, so the most specific prefix wins; ``cache`` is the
    run's cache folder (``RunPolicy.cache``)."""
    pairs = [
        (str(dirs.work) + os.sep, ""),  # relative to the submission folder
        (str(dirs.work), "."),
        (str(dirs.root), "$RUN"),
        (str(cache.absolute()), "$CODEML_CACHE"),
        (sys.prefix, "$PYTHON"),
        (str(Path.home()), "~"),
    ]
    return sorted((p for p in pairs if len(p[0]) > 1), key=lambda p: len(p[0]), reverse=True)


def scrub(text: str, pairs: list[tuple[str, str]]) -> str:
    for prefix, shown in pairs:
        text = text.replace(prefix, shown)
    return text


def scrub_error(error: ErrorInfo | None, dirs: RunDirs, cache: Path) -> ErrorInfo | None:
    """``error`` with every host path in its message replaced."""
    if error is None:
        return None
    message = scrub(error.message, replacements(dirs, cache))
    return error if message == error.message else error.model_copy(update={"message": message})

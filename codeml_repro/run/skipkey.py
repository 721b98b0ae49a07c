"""The skip key: what a run's outcome depends on, hashed.

Code cells' source, parameters, requirements, the other files of the
submission folder, the budgets and the result-format version; and, once an
environment is resolved, its lock (:func:`locked_key`). Not outputs,
metadata or execution counts, so re-saving a notebook after running it does
not trigger a re-run. Only the standard library and the notebook's JSON are
used: checking 100 unchanged submissions must not import papermill.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.inputs import sha256_file
from codeml_repro.model.notebookfile import notebook_cells
from codeml_repro.model.result import FORMAT_VERSION
from codeml_repro.model.text import cell_source

_IGNORED_DIRS = {".ipynb_checkpoints", "__pycache__", ".git"}


def _code_sources(notebook: Path) -> list[str]:
    try:
        cells = notebook_cells(notebook)  # bounded: a hostile notebook is refused, not recursed into
    except SubmissionInvalid:
        # An unreadable notebook still gets a key: its raw bytes (read in blocks).
        try:
            return [sha256_file(notebook)] if notebook.is_file() else []
        except OSError:
            return []
    return [
        cell_source(cell.get("source", ""))
        for cell in cells
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]


def _file_digest(path: Path) -> str:
    """Content hash; a symlink is hashed as its target's name, never followed."""
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _other_files(folder: Path, skip: set[Path]) -> list[tuple[str, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path not in skip:
                out.append((path.relative_to(folder).as_posix(), _file_digest(path)))
    return sorted(out)


def inputs_key(folder: Path, notebook: Path, spec: dict[str, Any] | None = None) -> str:
    """Hash of what the author controls: code, parameters, claims, files.

    ``spec`` is the run-relevant part of a loaded submission.yml (artifact and
    claims): given it, editing a title or an abstract does not force a re-run.
    """
    skip = {notebook}
    if spec is not None:
        skip.add(folder / "submission.yml")
    payload: dict[str, Any] = {
        "code": _code_sources(notebook),
        "spec": spec,
        "files": _other_files(folder, skip),
        "format": FORMAT_VERSION,
    }
    return _digest(payload)


def skip_key(inputs: str, budgets: dict[str, object]) -> str:
    """The inputs plus the budgets the run was held to."""
    return _digest({"inputs": inputs, "budgets": budgets})


def locked_key(key: str, lock: Sequence[str] | None) -> str:
    """``key`` with the environment's resolved lock (``name==version`` lines) hashed in, so a
    submission whose environment resolved to another set gets another key and runs again.

    No lock (the toolkit's own interpreter, no environment built) leaves ``key`` as it is.
    """
    if not lock:
        return key
    return _digest({"key": key, "lock": sorted(str(line) for line in lock)})


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]

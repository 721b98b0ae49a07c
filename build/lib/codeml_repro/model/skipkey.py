"""The skip key: what a run's outcome depends on, hashed.

Code cells' source and what changes how they run (cell tags such as
``raises-exception`` and ``parameters``, the ``execution`` and ``mystnb``
metadata of the notebook and of each cell, the kernel's language), parameters,
requirements, the other files of the submission folder, the budgets and the
result-format version; and, once an environment is resolved, its lock
(:func:`locked_key`). Not outputs, execution counts, the timing records
Jupyter and nbclient write into a cell's ``execution`` metadata, or any other
metadata, so re-saving a notebook after running it does not trigger a re-run.
Only the standard library and the notebook's JSON are used: checking 100
unchanged submissions must not import papermill. Files are hashed in blocks.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.inputs import sha256_file
from codeml_repro.model.kernels import notebook_language
from codeml_repro.model.notebookfile import load_notebook_json
from codeml_repro.model.result import FORMAT_VERSION
from codeml_repro.model.text import cell_source

if TYPE_CHECKING:
    from codeml_repro.model.submission import Submission

_IGNORED_DIRS = {".ipynb_checkpoints", "__pycache__", ".git"}


_RUN_METADATA = ("execution", "mystnb")  # nbmake / Jupyter Book, and myst-nb: read as the run reads them
_TIMING_PREFIXES = ("iopub.", "shell.")  # nbclient's and JupyterLab's timing record of a cell's last run


def _settings(metadata: Any) -> dict[str, Any]:
    """The ``execution`` and ``mystnb`` metadata that change a run, timing records left out."""
    if not isinstance(metadata, dict):
        return {}
    out = {}
    for field in _RUN_METADATA:
        value = metadata.get(field)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not str(k).startswith(_TIMING_PREFIXES)}
        if value not in (None, {}):
            out[field] = value
    return out


def _cell_entry(cell: dict[str, Any]) -> dict[str, Any]:
    """A code cell as it runs: its source, tags and run metadata."""
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return {"source": cell_source(cell.get("source", "")), "tags": tags or [], **_settings(metadata)}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reads_outputs(spec: dict[str, Any] | None) -> bool:
    """Whether a claim (top-level or a profile's) reads a cell's output, naming it by index or id."""
    if not isinstance(spec, dict):
        return False
    artifact = _dict(spec.get("artifact"))
    profiles = _dict(artifact.get("profiles"))
    lists = [spec.get("claims"), *(p.get("claims") for p in profiles.values() if isinstance(p, dict))]
    return any(isinstance(c, dict) and c.get("output") for claims in lists if isinstance(claims, list)
               for c in claims)


def _notebook_part(notebook: Path, layout: bool) -> dict[str, Any]:
    """What the notebook contributes to the key: its code cells as they run, and how it is run;
    with ``layout``, where every cell is and its id (an output claim names its cell so)."""
    try:
        nb = load_notebook_json(notebook)  # bounded: a hostile notebook is refused, not recursed into
    except SubmissionInvalid:
        # An unreadable notebook still gets a key: its raw bytes (read in blocks).
        try:
            return {"raw": sha256_file(notebook)} if notebook.is_file() else {}
        except OSError:
            return {}
    if not isinstance(nb, dict) or nb.get("nbformat") != 4:  # nbformat 3 (cells in worksheets): its bytes
        return {"raw": sha256_file(notebook)}
    found = nb.get("cells")
    cells: list[Any] = found if isinstance(found, list) else []
    part: dict[str, Any] = {
        "code": [_cell_entry(c) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"],
        "settings": _settings(nb.get("metadata")),
        "language": notebook_language(nb),
    }
    if layout:
        part["layout"] = [[c.get("cell_type"), c.get("id")] for c in cells if isinstance(c, dict)]
    return part


def _file_digest(path: Path) -> str:
    """Content hash, read in blocks; a symlink is hashed as its target's name, never followed."""
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    return sha256_file(path)


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
        "notebook": _notebook_part(notebook, _reads_outputs(spec)),
        "spec": spec,
        "files": _other_files(folder, skip),
        "format": FORMAT_VERSION,
    }
    return _digest(payload)


def submission_inputs(folder: Path, sub: Submission | None) -> str:
    """The inputs key of a folder, loaded or not (an invalid one hashes its raw files).

    The runner keys its runs with it and the book marks a result stale with it, so it lives
    here, below both."""
    if sub is None:
        return inputs_key(folder, folder / "artifact.ipynb")
    return inputs_key(folder, sub.notebook_path, sub.run_inputs())


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

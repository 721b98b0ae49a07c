"""The artifact notebook's checks: a real file, JSON, nbformat v4, Python, parameters taken.

They read the files but never run them; :func:`check_notebook` is what ``validate``
and the run's plan call before any execution.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.kernels import notebook_language
from codeml_repro.model.notebookfile import check_nbformat, load_notebook_json
from codeml_repro.model.requirements import check_requirements
from codeml_repro.model.submission import SUBMISSION_FILE, Submission
from codeml_repro.model.text import cell_source


def check_no_symlinks(sub: Submission) -> None:
    """Files are read on the host: a link could point anywhere on it."""
    for dirpath, dirnames, filenames in os.walk(sub.folder, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                raise SubmissionInvalid(
                    f"{path}: is a symbolic link; submissions must hold real files (copy it in)"
                )


def check_notebook(sub: Submission, kernels: Mapping[str, str] | None = None) -> None:
    """No symlinks; the artifact exists, is JSON and is a valid nbformat v4 notebook in Python or
    a language ``kernels`` (the maintainer's map, see :mod:`.kernels`) has a kernel for."""
    check_no_symlinks(sub)
    path = sub.notebook_path
    field = f"{sub.folder / SUBMISSION_FILE}: artifact.notebook"
    if not path.is_file():
        raise SubmissionInvalid(f"{field}: {path} does not exist")
    raw = load_notebook_json(path)  # size and depth bounds first: one line, never a traceback
    raw = check_nbformat(path, raw)  # as version 4: an nbformat 3 notebook upgraded, as papermill does
    check_language(path, raw, kernels or {})
    check_parameters(sub, raw)
    req = sub.requirements_path
    if sub.spec.artifact.requirements and req is not None and not req.is_file():
        where = f"{sub.folder / SUBMISSION_FILE}: artifact.requirements"
        raise SubmissionInvalid(f"{where}: {req} does not exist")
    if req is not None and req.is_file():
        check_requirements(req)  # data, never options: see model/requirements.py


RUNNABLE_LANGUAGES = ("python",)


def check_language(path: Path, notebook: dict[str, Any], kernels: Mapping[str, str] | None = None) -> None:
    """A notebook in another language must not run its code in a Python kernel; it runs only when
    the maintainer configured a kernel for its language (never by the kernelspec name it names)."""
    meta = notebook.get("metadata") or {}
    configured = {language.lower() for language in (kernels or {})}
    allowed = (*RUNNABLE_LANGUAGES, *sorted(configured))
    language = notebook_language(notebook)
    for field, key in (("kernelspec", "language"), ("language_info", "name")):
        section = meta.get(field)
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, str) and value.strip().lower() not in allowed:
            raise SubmissionInvalid(
                f"{path}: metadata.{field}.{key}: a {value!r} notebook cannot run here; the toolkit "
                f"runs notebooks in {', '.join(allowed)} only (save it with a Python kernel)"
            )
        if isinstance(value, str) and value.strip().lower() != language:
            raise SubmissionInvalid(
                f"{path}: metadata.{field}.{key}: {value!r} disagrees with the notebook's language "
                f"{language!r}; save the notebook again with one kernel"
            )


def _assigned_names(source: str) -> set[str] | None:
    """Names a parameters cell assigns (parsed, never run); None if it does not parse."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_parameters(sub: Submission, notebook: dict[str, Any]) -> None:
    """papermill ignores parameters silently when no cell takes them: say so instead."""
    artifact = sub.spec.artifact
    named = {f"artifact.parameters.{name}": name for name in artifact.parameters}
    for profile, variant in artifact.profiles.items():
        named.update({f"artifact.profiles.{profile}.parameters.{name}": name for name in variant.parameters})
    if not named:
        return
    cells = [
        c for c in notebook.get("cells", [])
        if c.get("cell_type") == "code" and "parameters" in (c.get("metadata") or {}).get("tags", [])
    ]
    if not cells:
        return  # papermill injects them at the top, as it does elsewhere; the run warns about it
    source = cells[0].get("source", "")
    assigned = _assigned_names(cell_source(source))
    if assigned is None:
        return  # e.g. IPython magics: papermill still injects; nothing to check here
    for field, name in named.items():
        if name not in assigned:
            close = difflib.get_close_matches(name, sorted(assigned), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; set a default for it in that cell"
            raise SubmissionInvalid(
                f"{sub.folder / SUBMISSION_FILE}: {field}: not assigned in the 'parameters' cell{hint}"
            )

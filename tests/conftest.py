"""Shared fixtures: tiny submissions built with nbformat in a temp root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def make_notebook(*sources: str, params: str | None = None, kernel: str = "python3") -> Any:
    """A notebook whose code cells are ``sources`` (after an optional parameters cell)."""
    cells = []
    if params is not None:
        cell = new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.extend(new_code_cell(s) for s in sources)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def tagged_cell(source: str, *tags: str) -> Any:
    """A code cell with cell tags (``raises-exception``, ``parameters``, ...)."""
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


MakeSubmission = Callable[..., Path]


@pytest.fixture
def make_submission(tmp_path: Path) -> MakeSubmission:
    """Write submissions/<slug>/ under tmp_path; returns the folder."""

    def make(slug: str, *sources: str, spec: dict[str, Any] | None = None,
             params: str | None = None, kernel: str = "python3") -> Path:
        folder = tmp_path / "submissions" / slug
        folder.mkdir(parents=True)
        data: dict[str, Any] = {"title": f"Paper {slug}", "authors": [{"name": "A. Author"}]}
        data.update(spec or {})
        (folder / "submission.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
        nbformat.write(make_notebook(*sources, params=params, kernel=kernel), folder / "artifact.ipynb")
        return folder

    return make

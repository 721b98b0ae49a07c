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


@pytest.fixture(scope="session", autouse=True)
def base_environment() -> Any:
    """The base environment (where a submission without requirements.txt runs), in the default cache.

    Built once at install time by ``scripts/test.sh`` (``codeml-repro env build``), so this only
    finds it; built here when the tests run without that step. None when it cannot be built.
    """
    from codeml_repro.model.errors import ReproError
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.run.prebuild import base_environment as build

    try:
        return build(RunPolicy())
    except ReproError:
        return None


@pytest.fixture
def share_base_env(base_environment: Any) -> Callable[[Path], None]:
    """Link the session's base environment into another ``$CODEML_CACHE`` (a test's own)."""

    def share(cache: Path) -> None:
        if base_environment is None or base_environment.path is None:
            pytest.skip("the base environment could not be built (no package index, empty uv cache)")
        envs = cache / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        target = envs / Path(base_environment.path).name
        if not target.exists():
            target.symlink_to(base_environment.path, target_is_directory=True)

    return share

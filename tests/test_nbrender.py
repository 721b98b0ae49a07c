"""Cell anchors of the rendered notebook agree with ``error.cell`` (the author's cell index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from codeml_repro.sphinx.posters.nbrender import author_indices, render_notebook
from tests.runner_helpers import make_submission, run


def _tagged(source: str, tag: str) -> Any:
    cell = new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


def _anchored(html: str, index: int) -> str:
    """The rendered cell whose anchor is ``nb-cell-<index>``, up to the next anchor."""
    start = html.index(f'id="nb-cell-{index}"')
    end = html.find('id="nb-cell-', start + 1)
    return html[start : end if end >= 0 else len(html)]


def test_noted_author_index_wins_over_counting() -> None:
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "metadata": {"codeml": {"author_index": 0}}, "source": ""},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": ""},  # papermill's
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"], "codeml": {"author_index": 1}}},
        {"cell_type": "markdown", "metadata": {"codeml": {"author_index": 2}}, "source": ""},
        {"cell_type": "code", "metadata": {"codeml": {"author_index": 2}}, "source": ""},  # duplicate
    ]
    assert author_indices(cells) == [0, None, 1, 2, None]
    legacy = [{"metadata": {}}, {"metadata": {"tags": ["injected-parameters"]}}, {"metadata": {}}]
    assert author_indices(legacy) == [0, None, 1]  # saved by an older runner: counted


@pytest.mark.parametrize("parameters", [None, {"x": 7}])
def test_error_cell_link_lands_on_the_cell_that_raised(tmp_path: Path, parameters: Any) -> None:
    # the author saved a notebook from a local papermill run: a stale injected cell at index 1
    sub = make_submission(tmp_path / "stale", "passing", parameters=parameters)
    nb = new_notebook(
        cells=[
            _tagged("x = 1", "parameters"),
            _tagged("x = 5", "injected-parameters"),
            new_code_cell("y = 2"),
            new_code_cell("y / 0"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, sub.notebook_path)
    ex = run(sub)
    assert ex.outcome == "failed" and ex.error is not None
    assert ex.error.type == "ZeroDivisionError" and ex.error.cell == 3  # index in the author's file
    html = str(render_notebook(json.dumps(ex.notebook)))
    raised = _anchored(html, ex.error.cell)
    assert "ZeroDivisionError" in raised and "codeml-nb-error" in raised
    assert "ZeroDivisionError" not in html.replace(raised, "")

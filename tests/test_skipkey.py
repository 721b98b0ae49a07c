from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.plan.planning import plan

from .conftest import MakeSubmission


def _key(folder: Path, policy: RunPolicy | None = None) -> str:
    return plan(folder, policy or RunPolicy()).key


def test_key_ignores_outputs_metadata_and_counts(make_submission: MakeSubmission) -> None:
    folder = make_submission("k", "x = 1", "print(x)")
    before = _key(folder)
    nb_path = folder / "artifact.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    nb["cells"][1]["execution_count"] = 7
    nb["cells"][0]["metadata"]["collapsed"] = True
    nb["metadata"]["widgets"] = {"anything": 1}
    nb_path.write_text(json.dumps(nb))
    assert _key(folder) == before


def test_key_changes_with_code_params_files_budgets(make_submission: MakeSubmission) -> None:
    folder = make_submission("k2", "x = 1")
    base = _key(folder)
    nb_path = folder / "artifact.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][0]["source"] = "x = 2"
    nb_path.write_text(json.dumps(nb))
    code = _key(folder)
    assert code != base
    (folder / "data.csv").write_text("a,b\n1,2\n")
    data = _key(folder)
    assert data != code
    (folder / "requirements.txt").write_text("numpy\n")
    reqs = _key(folder)
    assert reqs != data
    yml = folder / "submission.yml"
    yml.write_text(yml.read_text() + "artifact: {parameters: {n: 2}}\n")
    params = _key(folder)
    assert params != reqs
    assert _key(folder, RunPolicy(cell_timeout_s=5)) != params
    assert _key(folder) == params


def test_title_and_abstract_edits_do_not_rerun(make_submission: MakeSubmission) -> None:
    folder = make_submission("cosmetic", "x = 1", spec={"abstract": "Old."})
    before = _key(folder)
    yml = folder / "submission.yml"
    text = yml.read_text().replace("Old.", "A better abstract.")
    yml.write_text(text.replace("Paper cosmetic", "New title"))
    assert _key(folder) == before


def test_sandbox_mode_is_part_of_the_key(make_submission: MakeSubmission) -> None:
    folder = make_submission("iso", "x = 1")
    assert _key(folder, RunPolicy(sandbox="off")) != _key(folder, RunPolicy(sandbox="required"))


def _edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "artifact.ipynb"
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb))


def test_tags_and_run_metadata_change_the_key(make_submission: MakeSubmission) -> None:
    """Each changes the outcome: an author who tags a failing cell must not be skipped as unchanged."""
    folder = make_submission("tags", "x = 1", "1 / 0")
    seen = {_key(folder)}
    changes: list[Callable[[dict[str, Any]], None]] = [
        lambda nb: nb["cells"][1]["metadata"].update(tags=["raises-exception"]),
        lambda nb: nb["cells"][0]["metadata"].update(tags=["parameters"]),
        lambda nb: nb["cells"][1]["metadata"].update(execution={"timeout": "20"}),
        lambda nb: nb["metadata"].update(execution={"allow_errors": True}),
        lambda nb: nb["metadata"].update(execution={"allow_errors": True, "timeout": 30}),
        lambda nb: nb["metadata"].update(mystnb={"execution_timeout": 30}),
        lambda nb: nb["cells"][0]["metadata"].update(mystnb={"execution_timeout": 5}),
        lambda nb: nb["metadata"]["kernelspec"].update(language="R"),
    ]
    for change in changes:
        _edit(folder, change)
        key = _key(folder)
        assert key not in seen
        seen.add(key)


def test_resaving_after_a_real_run_keeps_the_key(make_submission: MakeSubmission, tmp_path: Path) -> None:
    """The executed notebook (outputs, counts, nbclient's timing records, papermill's metadata, the
    kernel's language_info) saved over the author's: the key does not change."""
    import nbformat
    from nbclient import NotebookClient

    folder = make_submission("resave", "x = 1", "print(x)",
                             spec={"claims": [{"name": "x", "expected": 1,
                                               "output": {"cell": 1, "regex": "([0-9]+)"}}]})
    _edit(folder, lambda nb: nb["cells"][1]["metadata"].update(tags=["raises-exception"]))
    before = _key(folder)
    nb = nbformat.read(folder / "artifact.ipynb", as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", record_timing=True).execute()
    assert nb.cells[1].outputs and "iopub.execute_input" in nb.cells[1].metadata["execution"]
    nbformat.write(nb, folder / "artifact.ipynb")
    assert _key(folder) == before
    # with an output claim the cells' places count: a markdown cell inserted above shifts them
    _edit(folder, lambda nb: nb["cells"].insert(0, {"cell_type": "markdown", "id": "m", "metadata": {},
                                                    "source": "# Title"}))
    assert _key(folder) != before


def test_large_files_are_hashed_in_blocks(make_submission: MakeSubmission) -> None:
    import inspect

    from codeml_repro.model import skipkey

    assert "read_bytes" not in inspect.getsource(skipkey)  # every file goes through sha256_file
    folder = make_submission("big", "x = 1")
    before = _key(folder)
    with (folder / "weights.bin").open("wb") as handle:
        handle.write(b"\0" * (3 << 20))
    assert _key(folder) != before


def test_an_nbformat_3_notebook_is_keyed_by_its_bytes(make_submission: MakeSubmission) -> None:
    folder = make_submission("old", "x = 1")
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
           "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": []}]}]}
    (folder / "artifact.ipynb").write_text(json.dumps(old))
    before = _key(folder)
    old["worksheets"][0]["cells"][0]["input"] = "x = 2"  # type: ignore[index]
    (folder / "artifact.ipynb").write_text(json.dumps(old))
    assert _key(folder) != before


def test_a_markdown_cell_keeps_the_key_without_output_claims(make_submission: MakeSubmission) -> None:
    folder = make_submission("md", "x = 1")
    before = _key(folder)
    markdown = {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# Intro"}
    _edit(folder, lambda nb: nb["cells"].insert(0, markdown))
    assert _key(folder) == before  # prose moved nothing the run depends on

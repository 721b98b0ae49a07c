from __future__ import annotations

import json
from pathlib import Path

from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.plan import plan

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

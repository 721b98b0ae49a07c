"""The authors' path, as a new author walks it: new, edit, check, fix.

End-to-end tests call the real ``codeml-repro`` command in a temporary root.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest
import yaml

from codeml_repro.authoring.scaffold import new_submission
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.schema import SCHEMA_FILE, schema_text, submission_schema
from codeml_repro.model.submission import load_submission
from tests.conftest import REPO


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from codeml_repro.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False, cwd=cwd)


def set_cell(folder: Path, index: int, source: str) -> None:
    path = folder / "artifact.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)


def edit_spec(folder: Path, **changes: Any) -> None:
    path = folder / "submission.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# --- the scaffold, without running anything -----------------------------------------


def test_new_submission_is_valid_and_points_at_the_schema(tmp_path: Path) -> None:
    folder = new_submission(tmp_path, "my-paper")
    assert folder == tmp_path / "submissions" / "my-paper"
    sub = load_submission(folder)
    check_notebook(sub)
    text = (folder / "submission.yml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# yaml-language-server: $schema=../../{SCHEMA_FILE}"
    assert (folder / "../.." / SCHEMA_FILE).resolve() == (tmp_path / SCHEMA_FILE).resolve()
    jsonschema.validate(yaml.safe_load(text), submission_schema())
    assert [c.name for c in sub.spec.claims] == ["pi_estimate"]
    assert not (folder / "requirements.txt").exists()


def test_new_notebook_has_parameters_cell_and_record_call(tmp_path: Path) -> None:
    folder = new_submission(tmp_path, "my-paper")
    nb = nbformat.read(folder / "artifact.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "n_samples" in tagged[0].source
    assert any('record("pi_estimate", pi_estimate)' in c.source for c in nb.cells)
    assert set(load_submission(folder).spec.artifact.parameters) == {"n_samples", "seed"}


def test_new_with_requirements_writes_a_commented_file(tmp_path: Path) -> None:
    folder = new_submission(tmp_path, "my-paper", requirements=True)
    lines = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert lines and all(not ln.strip() or ln.startswith("#") for ln in lines)


@pytest.mark.parametrize("slug", ["My_Paper", "-paper", "paper-", "a b", ""])
def test_new_refuses_a_bad_slug(tmp_path: Path, slug: str) -> None:
    with pytest.raises(SubmissionInvalid, match="lowercase letters, digits"):
        new_submission(tmp_path, slug)
    assert not (tmp_path / "submissions").exists() or not any((tmp_path / "submissions").iterdir())


def test_new_refuses_an_existing_folder(tmp_path: Path) -> None:
    folder = new_submission(tmp_path, "my-paper")
    (folder / "submission.yml").write_text("title: mine\n", encoding="utf-8")
    with pytest.raises(SubmissionInvalid, match="already exists"):
        new_submission(tmp_path, "my-paper")
    assert (folder / "submission.yml").read_text(encoding="utf-8") == "title: mine\n"


def test_cli_new_refuses_with_one_line(tmp_path: Path) -> None:
    assert cli("new", "my-paper", "--root", str(tmp_path)).returncode == 0
    for slug in ("my-paper", "Bad_Slug"):
        proc = cli("new", slug, "--root", str(tmp_path))
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr


# --- the schema ---------------------------------------------------------------------


def test_schema_is_a_valid_json_schema_with_descriptions() -> None:
    schema = submission_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] and schema["title"] and schema["description"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    for model in schema["$defs"].values():
        for name, prop in model["properties"].items():
            assert prop.get("description"), name


def test_schema_rejects_what_the_model_rejects() -> None:
    validator = jsonschema.Draft202012Validator(submission_schema())
    good = {"title": "T", "authors": [{"name": "A", "url": "https://example.org"}]}
    assert not list(validator.iter_errors(good))
    for bad in (
        {"title": "T", "authors": []},
        {"title": "T", "authors": [{"name": "A"}], "claims": [{"nmae": "x", "expected": 1}]},
        {"title": "T", "authors": [{"name": "A", "url": "ftp://example.org"}]},
        {"title": "T", "authors": [{"name": "A"}], "artifact": {"timeout": 4000}},
    ):
        assert list(validator.iter_errors(bad)), bad


def test_committed_schema_file_is_current() -> None:
    committed = REPO / SCHEMA_FILE
    assert committed.is_file(), "run: codeml-repro schema --write"
    assert committed.read_text(encoding="utf-8") == schema_text(), "run: codeml-repro schema --write"


def test_cli_schema_prints_and_writes_the_same(tmp_path: Path) -> None:
    printed = cli("schema")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == schema_text()
    assert json.loads(printed.stdout) == submission_schema()
    written = cli("schema", "--write", "--root", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert (tmp_path / SCHEMA_FILE).read_text(encoding="utf-8") == schema_text()


# --- a new author, end to end -------------------------------------------------------


OWN_WORDS = {
    "title": "My own paper",
    "authors": [{"name": "Ada Lovelace"}],
    "abstract": "What we found.",
}


@pytest.mark.slow
def test_the_template_reproduces_as_is(tmp_path: Path) -> None:
    assert cli("new", "my-paper", "--root", str(tmp_path)).returncode == 0
    folder = tmp_path / "submissions" / "my-paper"
    proc = cli("check", str(folder), "--sandbox", "off")
    assert proc.stdout.startswith("my-paper: reproduced")
    assert "[ok] pi_estimate: expected 3.14, observed 3.148, tolerance rel_tol 0.01" in proc.stdout
    # It reproduces, but is not ready while it carries the template's title, authors and abstract.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("still the template's placeholder") == 3
    edit_spec(folder, **OWN_WORDS)
    ready = cli("check", str(folder), "--sandbox", "off")
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "placeholder" not in ready.stdout and ready.stdout.splitlines()[-1].startswith("ready: ")


@pytest.mark.slow
def test_a_new_author_gets_to_green_then_breaks_a_claim(tmp_path: Path) -> None:
    new = cli("new", "mean-squares", "--root", str(tmp_path))
    assert new.returncode == 0, new.stderr
    folder = tmp_path / "submissions" / "mean-squares"

    # The author's own computation and record() call replace the example.
    set_cell(folder, 1, "n = 10")
    set_cell(folder, 2, "mean_square = sum((i / n) ** 2 for i in range(n)) / n")
    set_cell(folder, 3, 'from codeml_repro import record\n\nrecord("mean_square", mean_square)')
    observed = sum((i / 1000) ** 2 for i in range(1000)) / 1000
    claim = {"name": "mean_square", "expected": 0.333, "rel_tol": 0.01, "description": "Eq. 3"}
    own = {**OWN_WORDS, "title": "Mean squares"}
    edit_spec(folder, **own, artifact={"parameters": {"n": 1000}}, claims=[claim])

    passing = cli("check", str(folder), "--sandbox", "off")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert passing.stdout.startswith("mean-squares: reproduced")
    assert (
        f"[ok] mean_square: expected 0.333, observed {observed!r}, tolerance rel_tol 0.01" in passing.stdout
    )

    edit_spec(folder, claims=[{**claim, "expected": 0.5}])
    failing = cli("check", str(folder), "--sandbox", "off")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    out = failing.stdout
    assert out.startswith("mean-squares: not_reproduced")
    assert (
        f"claim 'mean_square' not reproduced: expected 0.5, observed {observed!r}, tolerance rel_tol 0.01"
        in out
    )
    assert "Traceback" not in out + failing.stderr

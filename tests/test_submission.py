from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.submission import discover, load_submission

from .conftest import MakeSubmission


def _write(folder: Path, text: str) -> None:
    (folder / "submission.yml").write_text(text, encoding="utf-8")


def _error(folder: Path) -> str:
    with pytest.raises(SubmissionInvalid) as info:
        check_notebook(load_submission(folder))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_full_format_loads(make_submission: MakeSubmission) -> None:
    folder = make_submission("full-paper", "x = 1", params="n = 1", spec={
        "abstract": "An abstract.",
        "links": {"openreview": "https://openreview.net/forum?id=x", "pdf": "https://x.org/p.pdf",
                  "code": "https://github.com/x/y", "video": "https://x.org/v", "poster": "https://x.org/p"},
        "session": "Poster session",
        "artifact": {"notebook": "artifact.ipynb", "parameters": {"n": 3}, "timeout": 60},
        "claims": [{"name": "acc", "expected": 0.9, "rel_tol": 0.01, "abs_tol": 0.001, "description": "T2"}],
    })
    sub = load_submission(folder)
    check_notebook(sub)
    assert sub.slug == "full-paper"
    assert sub.spec.claims[0].rel_tol == 0.01
    assert sub.spec.artifact.parameters == {"n": 3}


def test_unknown_key_suggests_the_close_one(make_submission: MakeSubmission) -> None:
    folder = make_submission("typo", "x = 1")
    _write(folder, "title: T\nauthors: [{name: A}]\nclaims:\n  - {name: acc, expected: 1, rel_tl: 0.1}\n")
    message = _error(folder)
    assert "submission.yml: claims[0].rel_tl: unknown key; did you mean 'rel_tol'?" in message


def test_top_level_typo(make_submission: MakeSubmission) -> None:
    folder = make_submission("typo2", "x = 1")
    _write(folder, "title: T\nauthor: [{name: A}]\n")
    message = _error(folder)
    assert "author" in message and "did you mean 'authors'" in message


@pytest.mark.parametrize(("text", "needle"), [
    ("title: T\nauthors: []\n", "authors: List should have at least 1 item"),
    ("title: T\nauthors: [{name: A}]\nartifact: {timeout: -5}\n", "artifact.timeout"),
    ("title: T\nauthors: [{name: A}]\nartifact: {timeout: 99999}\n", "artifact.timeout"),
    ("title: T\nauthors: [{name: A, url: 'javascript:alert(1)'}]\n", "authors[0].url: must be an http"),
    ("title: T\nauthors: [{name: A}]\nartifact: {notebook: ../../etc/passwd}\n", "artifact.notebook"),
    ("title: T\nauthors: [{name: A}]\nclaims: [{name: 'not valid', expected: 1}]\n", "claims[0].name"),
    ("title: T\nauthors: [{name: A}]\nclaims: [{name: a, expected: 1}, {name: a, expected: 2}]\n",
     "repeated: a"),
    ("- just\n- a list\n", "must be a mapping"),
    ("title: [unclosed\n", "not valid YAML"),
    ("authors: [{name: A}]\n", "title: missing (required)"),
])
def test_bad_submission_yml(make_submission: MakeSubmission, text: str, needle: str) -> None:
    folder = make_submission("bad", "x = 1")
    _write(folder, text)
    message = _error(folder)
    assert str(folder / "submission.yml") in message
    assert needle in message


def test_bad_slug(tmp_path: Path) -> None:
    folder = tmp_path / "submissions" / "Bad_Slug"
    folder.mkdir(parents=True)
    with pytest.raises(SubmissionInvalid, match="lowercase letters, digits and '-'"):
        load_submission(folder)


def test_missing_notebook(make_submission: MakeSubmission) -> None:
    folder = make_submission("nonb", "x = 1")
    (folder / "artifact.ipynb").unlink()
    assert "artifact.notebook" in _error(folder) and "does not exist" in _error(folder)


def test_notebook_not_json(make_submission: MakeSubmission) -> None:
    folder = make_submission("notjson", "x = 1")
    (folder / "artifact.ipynb").write_text("{not json", encoding="utf-8")
    assert "not JSON" in _error(folder)


def test_notebook_not_valid_nbformat(make_submission: MakeSubmission) -> None:
    folder = make_submission("invalidnb", "x = 1")
    nb = json.loads((folder / "artifact.ipynb").read_text())
    nb["cells"][0]["cell_type"] = "bogus"
    (folder / "artifact.ipynb").write_text(json.dumps(nb))
    assert "not a valid notebook" in _error(folder)


def test_notebook_v3_is_rejected(make_submission: MakeSubmission) -> None:
    folder = make_submission("oldnb", "x = 1")
    (folder / "artifact.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    assert "version 4" in _error(folder)


def test_discover_sorted_and_unknown_slug(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("b-paper", "x = 1")
    make_submission("a-paper", "x = 1")
    assert [p.name for p in discover(tmp_path)] == ["a-paper", "b-paper"]
    with pytest.raises(SubmissionInvalid, match="no submission named zzz"):
        discover(tmp_path, ["zzz"])


def test_repo_examples_are_valid() -> None:
    repo = Path(__file__).resolve().parents[1]
    folders = discover(repo)
    assert len(folders) >= 3
    for folder in folders:
        sub = load_submission(folder)
        check_notebook(sub)
        assert sub.spec.example


@pytest.mark.parametrize(("text", "needle"), [
    ("artifact: {parameters: {day: 2025-01-01}}\n", "parameter 'day' is a date, not a JSON value"),
    ("artifact: {parameters: {class: 1}}\n", "parameter name 'class' is not a Python identifier"),
    ("claims: [{name: a, expected: 1e-3, abs_tol: 0.1}]\n", "write 1.0e-3"),
    ("claims: [{name: a, expected: .nan}]\n", "must be a finite number"),
])
def test_yaml_traps(make_submission: MakeSubmission, text: str, needle: str) -> None:
    folder = make_submission("trap", "x = 1")
    _write(folder, "title: T\nauthors: [{name: A}]\n" + text)
    assert needle in _error(folder)


def test_symlinks_are_rejected(make_submission: MakeSubmission) -> None:
    folder = make_submission("links", "x = 1")
    (folder / "data.csv").symlink_to("/etc/hostname")
    message = _error(folder)
    assert "data.csv: is a symbolic link" in message


def test_parameters_without_a_tagged_cell_are_valid(make_submission: MakeSubmission) -> None:
    # papermill injects them at the top; the run warns (tests/test_conventions.py)
    folder = make_submission("untagged", "n = 1", spec={"artifact": {"parameters": {"n": 2}}})
    check_notebook(load_submission(folder))


def test_misspelt_parameter_is_named(make_submission: MakeSubmission) -> None:
    folder = make_submission("misspelt", "x = 1", params="C_iter = 100\nseed = 0",
                             spec={"artifact": {"parameters": {"C_itr": 200}}})
    expected = "artifact.parameters.C_itr: not assigned in the 'parameters' cell; did you mean 'C_iter'?"
    assert expected in _error(folder)

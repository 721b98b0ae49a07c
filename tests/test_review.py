"""Organizers' reviews: the block ``codeml-repro review`` prints, and the pull-request rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from codeml_repro.model.submission import load_submission
from codeml_repro.run.plan import submission_inputs
from tests.conftest import MakeSubmission, make_notebook


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeml_repro.cli", *args, "--root", str(root)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_review_prints_a_block_pinned_to_the_current_inputs(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    folder = make_submission("paper", "x = 1")
    proc = cli(tmp_path, "review", "paper", "--by", "AEC", "--note", "Clear README.", "--date", "2025-07-01")
    assert proc.returncode == 0, proc.stderr
    block = yaml.safe_load(proc.stdout)["review"]
    assert block == {
        "by": "AEC", "date": "2025-07-01", "reusable": True, "note": "Clear README.",
        "inputs": submission_inputs(folder, load_submission(folder)),
    }
    with (folder / "submission.yml").open("a", encoding="utf-8") as fh:
        fh.write(proc.stdout)
    assert load_submission(folder).spec.review is not None
    assert cli(tmp_path, "validate", "--pull-request", "paper").returncode == 0


def test_a_pull_request_cannot_change_the_artifact_and_carry_its_review(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    folder = make_submission("paper", "x = 1")
    review = cli(tmp_path, "review", "paper", "--by", "AEC", "--not-reusable").stdout
    assert "reusable: false" in review
    nbformat.write(make_notebook("x = 2"), folder / "artifact.ipynb")
    with (folder / "submission.yml").open("a", encoding="utf-8") as fh:
        fh.write(review)
    plain = cli(tmp_path, "validate", "paper")
    assert plain.returncode == 0, plain.stderr  # outside a pull request a stale review is only shown stale
    pr = cli(tmp_path, "validate", "--pull-request", "paper")
    assert pr.returncode == 1
    (line,) = [ln for ln in pr.stderr.splitlines() if "review.inputs" in ln]
    assert line.startswith(f"{folder / 'submission.yml'}: review.inputs: ")
    assert "remove 'review'" in line


def test_bad_archival_ids_are_one_line_errors(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("doi", "x = 1", spec={"links": {"doi": "zenodo.org/record/1"}})
    make_submission("swh", "x = 1", spec={"links": {"swh": "swh:1:dir:abc"}})
    proc = cli(tmp_path, "validate")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert any("submissions/doi/submission.yml: links.doi: " in ln and "10.5281/zenodo" in ln for ln in lines)
    assert any("submissions/swh/submission.yml: links.swh: " in ln and "swh:1:dir:" in ln for ln in lines)


def test_status_json_tiers_follow_links_without_a_rerun(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    """Adding a DOI changes no run input, so no re-run: status --json still shows Available at once."""
    import json

    from codeml_repro.model.result import Result, Status
    from codeml_repro.results.store import ResultStore

    folder = make_submission("paper", "x = 1")
    key = submission_inputs(folder, load_submission(folder))
    result = Result(slug="paper", status=Status.FUNCTIONAL, inputs_key=key, badges=["functional"])
    ResultStore(tmp_path).write(result)
    before = json.loads(cli(tmp_path, "status", "--json").stdout)
    assert before[0]["badges"] == ["functional"]
    with (folder / "submission.yml").open("a", encoding="utf-8") as fh:
        fh.write("links: {doi: '10.5281/zenodo.99'}\n")
    after = json.loads(cli(tmp_path, "status", "--json").stdout)
    assert after[0]["status"] == "functional" and after[0]["badges"] == ["available", "functional"]

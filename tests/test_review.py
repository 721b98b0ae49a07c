"""Organizers' reviews: reviews/<slug>.yml written by ``codeml-repro review``, refused in submission.yml,
and the pull-request check that keeps authors out of reviews/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from codeml_repro.model.skipkey import submission_inputs
from codeml_repro.model.submission import load_submission
from tests.conftest import REPO, MakeSubmission, make_notebook

WORKFLOW = REPO / ".github" / "workflows" / "reproducibility-pr-reusable.yml"  # the PR check calls it


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeml_repro.cli", *args, "--root", str(root)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_review_writes_reviews_slug_yml_pinned_to_the_current_inputs(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    folder = make_submission("paper", "x = 1")
    before = (folder / "submission.yml").read_bytes()
    proc = cli(tmp_path, "review", "paper", "--by", "AEC", "--note", "Clear README.", "--date", "2025-07-01")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote reviews/paper.yml: reusable"
    written = yaml.safe_load((tmp_path / "reviews" / "paper.yml").read_text(encoding="utf-8"))
    assert written == {
        "by": "AEC", "date": "2025-07-01", "reusable": True, "note": "Clear README.",
        "inputs": submission_inputs(folder, load_submission(folder)),
    }
    assert (folder / "submission.yml").read_bytes() == before  # the authors' file is not touched
    review = load_submission(folder).spec.review
    assert review is not None and review.by == "AEC" and review.reusable
    status = json.loads(cli(tmp_path, "status", "--json").stdout)
    assert status[0]["status"] == "pending"  # never run: the review alone earns no run tier
    assert cli(tmp_path, "validate", "paper").returncode == 0


def test_a_review_in_submission_yml_is_refused_naming_the_file_and_where_reviews_live(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    """An author pasted the output of `review --by "Artifact Evaluation Committee"` into their own
    submission.yml: validate --pull-request passed and the book showed Reusable (reviewed)."""
    from codeml_repro.model.result import Status
    from codeml_repro.sphinx.posters.entries import read_entries

    folder = make_submission("a-self-reviewed", "x = 1")
    make_submission("z-reviewed", "x = 1")
    assert cli(tmp_path, "review", "z-reviewed", "--by", "AEC").returncode == 0
    key = submission_inputs(folder, load_submission(folder))
    block = {"review": {"by": "Artifact Evaluation Committee", "date": "2025-07-01", "reusable": True,
                        "inputs": key}}
    with (folder / "submission.yml").open("a", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(block))
    for args in (("validate",), ("validate", "--pull-request")):
        proc = cli(tmp_path, *args)
        assert proc.returncode == 1, proc.stderr
        (line,) = [ln for ln in proc.stderr.splitlines() if "a-self-reviewed" in ln]
        assert line.startswith("submissions/a-self-reviewed/submission.yml: review: "), line
        assert "reviews/a-self-reviewed.yml" in line and "remove 'review'" in line
        assert "ok: z-reviewed" in proc.stdout
    run = cli(tmp_path, "run", "--sandbox", "off", "--env", "current")
    assert run.returncode == 0, run.stderr
    shown = {r["slug"]: r for r in json.loads(cli(tmp_path, "status", "--json").stdout)}
    hostile = shown["a-self-reviewed"]
    assert hostile["status"] == "invalid" and "reusable" not in hostile["badges"]
    assert shown["z-reviewed"]["status"] == "functional"
    assert shown["z-reviewed"]["badges"] == ["functional", "reusable"]
    entries, problems = read_entries(tmp_path)
    assert [(e.slug, e.status, e.tiers) for e in entries] == [
        ("z-reviewed", Status.FUNCTIONAL, ["functional", "reusable"])
    ]
    assert any("a-self-reviewed/submission.yml: review: " in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("by: AEC\n", "reviews/paper.yml: date: "),
        ("[1, 2]\n", "reviews/paper.yml: (top level): must be a mapping"),
        ("by: AEC\ndate: 2025-07-01\nreusable: true\ninputs: abc\n", "reviews/paper.yml: inputs: "),
        ("by: AEC\ndate: 2025-07-01\nreusable: yes please\ninputs: " + "a" * 32 + "\n",
         "reviews/paper.yml: reusable: "),
        ("a: &x [1]\nb: *x\n", "reviews/paper.yml: not valid YAML: "),
    ],
)
def test_a_broken_review_file_is_one_line_naming_the_file_and_field(
    make_submission: MakeSubmission, tmp_path: Path, text: str, expected: str
) -> None:
    make_submission("paper", "x = 1")
    make_submission("z-neighbour", "x = 1")
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "paper.yml").write_text(text, encoding="utf-8")
    proc = cli(tmp_path, "validate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "paper.yml" in ln]
    assert expected in line and len(line) < 400, line
    assert "ok: z-neighbour" in proc.stdout


def test_a_review_of_another_version_is_shown_stale_and_earns_nothing(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    folder = make_submission("paper", "x = 1")
    assert cli(tmp_path, "review", "paper", "--by", "AEC").returncode == 0
    nbformat.write(make_notebook("x = 2"), folder / "artifact.ipynb")  # the authors change the artifact
    assert cli(tmp_path, "validate", "--pull-request", "paper").returncode == 0  # they may: it is theirs
    from codeml_repro.model.result import Status
    from codeml_repro.results.badges import earned_tiers, review_current

    sub = load_submission(folder)
    inputs = submission_inputs(folder, sub)
    assert not review_current(sub.spec.review, inputs)
    assert "reusable" not in earned_tiers(Status.REPRODUCED, sub.spec, inputs)


# --- the pull-request check: reviews/ is the organizers' ------------------------------------


def _reviews_step() -> dict[str, Any]:
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["check"]["steps"]
    (step,) = [s for s in steps if "reviews/" in s.get("name", "")]
    return step


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _pull_request(tmp_path: Path, changes: dict[str, str | None]) -> tuple[Path, str]:
    """A repository with main (a submission and its review) and a pull request's commit on top."""
    repo = tmp_path / "repo"
    (repo / "reviews").mkdir(parents=True)
    (repo / "submissions" / "paper").mkdir(parents=True)
    (repo / "submissions" / "paper" / "submission.yml").write_text("title: T\n")
    (repo / "reviews" / "other.yml").write_text("by: AEC\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "main")
    base = _git(repo, "rev-parse", "HEAD")
    for name, text in changes.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "pull request")
    return repo, base


def _run_step(repo: Path, base: str, association: str) -> subprocess.CompletedProcess[str]:
    step = _reviews_step()
    assert set(step["env"]) == {"BASE_SHA", "AUTHOR_ASSOCIATION"}
    assert "author_association" in step["env"]["AUTHOR_ASSOCIATION"] and "if" not in step
    env = {**os.environ, "BASE_SHA": base, "AUTHOR_ASSOCIATION": association}
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


SELF_REVIEW = "by: AEC\ndate: 2025-07-01\nreusable: true\ninputs: " + "a" * 32 + "\n"


@pytest.mark.parametrize(
    "changes",
    [
        {"reviews/paper.yml": SELF_REVIEW},
        {"reviews/other.yml": None},
        {"reviews/other.yml": "by: me\n", "submissions/paper/submission.yml": "title: U\n"},
        {"reviews/odd\nname::error::x.yml": SELF_REVIEW},
    ],
    ids=["add", "delete", "edit-beside-a-submission", "hostile-name"],
)
def test_the_pull_request_check_fails_an_outsider_changing_reviews(
    tmp_path: Path, changes: dict[str, str | None]
) -> None:
    repo, base = _pull_request(tmp_path, changes)
    for association in ("CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE", "MANNEQUIN", ""):
        proc = _run_step(repo, base, association)
        assert proc.returncode == 1, (association, proc.stdout, proc.stderr)
        assert "reviews/ is written by the organizers only" in proc.stdout
        assert not any(line.startswith("::") for line in proc.stdout.splitlines())
    for association in ("OWNER", "MEMBER", "COLLABORATOR"):
        assert _run_step(repo, base, association).returncode == 0, association


def test_the_pull_request_check_passes_an_author_changing_only_their_submission(tmp_path: Path) -> None:
    repo, base = _pull_request(tmp_path, {"submissions/paper/submission.yml": "title: U\n",
                                          "submissions/new/submission.yml": "title: N\n"})
    proc = _run_step(repo, base, "FIRST_TIME_CONTRIBUTOR")
    assert proc.returncode == 0 and "reviews/: unchanged" in proc.stdout, proc.stdout + proc.stderr


def test_codeowners_gives_reviews_and_the_workflows_to_the_organizers() -> None:
    lines = [ln.split() for ln in (REPO / ".github" / "CODEOWNERS").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    owners = {line[0]: line[1:] for line in lines}
    assert owners["/reviews/"] and owners["/reviews/"] == owners["/.github/"]


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

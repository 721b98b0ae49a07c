"""The advice ``codeml-repro check`` prints for every failing status.

Most tests build a Result by hand (the runner is tested elsewhere); a few
run real notebooks through the CLI to see the advice end to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.authoring.check import CheckReport, build_report, check_path, invalid_report
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
from codeml_repro.model.submission import Submission, load_submission
from codeml_repro.results.badges import badges_for
from tests.conftest import MakeSubmission

POLICY = RunPolicy(sandbox="off")
CLAIM = {"name": "accuracy", "expected": 0.95, "rel_tol": 0.01, "description": "Table 2"}


@pytest.fixture
def sub(make_submission: MakeSubmission) -> Submission:
    folder = make_submission(
        "paper",
        "import time",
        "x = 1 / 0",
        "while True: pass",
        spec={"claims": [CLAIM]},
        params="n = 10",
    )
    return load_submission(folder)


@pytest.fixture
def sub_without_claims(make_submission: MakeSubmission) -> Submission:
    return load_submission(make_submission("plain", "x = 1"))


def result(status: Status, *, error: ErrorInfo | None = None, **claim: Any) -> Result:
    claims = [ClaimResult(**{**CLAIM, **claim})] if claim else []
    return Result(
        slug="paper", status=status, badges=badges_for(status), error=error, claims=claims, duration_s=1.0
    )


def report(res: Result, sub: Submission, policy: RunPolicy = POLICY, timeout_s: float = 600) -> CheckReport:
    rep = build_report(res, sub, policy, timeout_s)
    assert rep.result is res
    return rep


def test_reproduced_is_ok_and_says_open_a_pull_request(sub: Submission) -> None:
    rep = report(result(Status.REPRODUCED, observed=0.951, ok=True, recorded=True), sub)
    assert rep.ok
    assert rep.lines[0].startswith("paper: reproduced")
    assert "badges: Functional (automated run), Reproduced (automated re-run)" in rep.lines[0]
    assert any(
        "[ok] accuracy: expected 0.95, observed 0.951, tolerance rel_tol 0.01" in ln for ln in rep.lines
    )
    assert "pull request" in rep.lines[-1]
    assert not any(ln.startswith("what to do") for ln in rep.lines)


def test_functional_is_ok_only_without_claims(sub: Submission, sub_without_claims: Submission) -> None:
    functional = Result(slug="plain", status=Status.FUNCTIONAL)
    rep = report(functional, sub_without_claims)
    assert rep.ok
    assert any("declare claims" in ln for ln in rep.lines)
    assert not report(functional, sub).ok


def test_not_reproduced_names_claim_values_and_tolerance(sub: Submission) -> None:
    rep = report(result(Status.NOT_REPRODUCED, observed=0.9, ok=False, recorded=True), sub)
    assert not rep.ok
    text = rep.text
    assert "[FAIL] accuracy: expected 0.95, observed 0.9, tolerance rel_tol 0.01 (Table 2)" in text
    assert "claim 'accuracy' not reproduced: expected 0.95, observed 0.9, tolerance rel_tol 0.01" in text
    assert "allowed about 0.9405 to 0.9595" in text
    assert "off by -0.05, 5.26%" in text
    assert "correct `expected`" in text and "seed" in text
    assert "Reproduced (automated re-run)" in rep.lines[-1]


def test_not_reproduced_exact_claim_without_tolerance(sub: Submission) -> None:
    res = result(Status.NOT_REPRODUCED, rel_tol=None, expected=30, observed=29, ok=False, recorded=True)
    text = report(res, sub).text
    assert "tolerance exact" in text
    assert "exact match required" in text


def test_not_reproduced_text_instead_of_number(sub: Submission) -> None:
    res = result(Status.NOT_REPRODUCED, observed="0.95", ok=False, recorded=True)
    text = report(res, sub).text
    assert "observed '0.95'" in text
    assert "recorded a str, not a number" in text


def test_claim_never_recorded_says_how_to_record_it(sub: Submission) -> None:
    rep = report(result(Status.NOT_REPRODUCED, ok=False, recorded=False), sub)
    text = rep.text
    assert "[missing] accuracy: expected 0.95, observed never recorded" in text
    assert "claim 'accuracy' was never recorded" in text
    assert 'record("accuracy", value)' in text
    assert "from codeml_repro import record" in text
    assert 'glue("accuracy", value)' in text and 'sb.glue("accuracy", value)' in text


def test_failed_gives_type_message_and_cell(sub: Submission) -> None:
    err = ErrorInfo(type="ZeroDivisionError", message="division by zero", cell=2)
    rep = report(result(Status.FAILED, error=err), sub)
    assert not rep.ok
    assert (
        "cell 2 (the 3rd cell of artifact.ipynb: `x = 1 / 0`) raised ZeroDivisionError: division by zero"
        in rep.text
    )
    assert "Restart & Run All" in rep.text


@pytest.mark.parametrize(
    ("ename", "hint"),
    [
        ("ModuleNotFoundError", "requirements.txt"),
        ("FileNotFoundError", "relative path"),
        ("URLError", "without network"),
        ("ConnectionRefusedError", "without network"),
        ("NameError", "fresh kernel"),
        ("MemoryError", "out of memory"),
    ],
)
def test_failed_hints_by_exception(sub: Submission, ename: str, hint: str) -> None:
    err = ErrorInfo(type=ename, message="boom", cell=1)
    assert hint in report(result(Status.FAILED, error=err), sub).text


def test_failed_before_any_cell(sub: Submission) -> None:
    err = ErrorInfo(type="NoSuchKernel", message="No such kernel named python3", cell=None)
    text = report(result(Status.FAILED, error=err), sub).text
    assert "before any cell of yours raised NoSuchKernel: No such kernel named python3" in text


def test_cell_timeout_names_cell_and_cell_budget(sub: Submission) -> None:
    err = ErrorInfo(type="CellTimeout", message="Cell execution timed out", cell=3)
    policy = RunPolicy(sandbox="off", cell_timeout_s=60)
    text = report(result(Status.TIMEOUT, error=err), sub, policy).text
    assert "cell 3 (the 4th cell of artifact.ipynb: `while True: pass`) ran past the 60 s cell budget" in text
    assert "lower the work" in text
    assert "looping forever" in text


def test_run_timeout_says_raise_artifact_timeout(sub: Submission) -> None:
    err = ErrorInfo(type="RunTimeout", message="run exceeded 600 s", cell=3)
    res = result(Status.TIMEOUT, error=err, ok=False, recorded=False)
    text = report(res, sub, timeout_s=600).text
    assert "claims (the run stopped early" in text
    assert "[missing] accuracy" in text
    assert "whole-run budget of 600 s" in text
    assert "raise artifact.timeout up to 1800" in text


def test_run_timeout_at_the_cap_says_lower_the_work(sub: Submission) -> None:
    err = ErrorInfo(type="RunTimeout", message="run exceeded 1800 s", cell=None)
    text = report(result(Status.TIMEOUT, error=err), sub, timeout_s=1800).text
    assert "cannot go above 1800 s" in text
    assert "raise artifact.timeout" not in text


def test_kernel_died_mentions_memory_and_os_exit(sub: Submission) -> None:
    err = ErrorInfo(type="KernelDied", message="kernel exited with code 1", cell=1)
    text = report(result(Status.KERNEL_DIED, error=err), sub).text
    assert "kernel process died while running cell 1" in text
    assert "kernel exited with code 1" in text
    assert "out of memory (the cap is 4 GiB)" in text
    assert "os._exit()" in text


def test_output_limit_says_print_less(sub: Submission) -> None:
    err = ErrorInfo(type="OutputLimit", message="outputs exceeded 10000000 bytes", cell=3)
    text = report(result(Status.OUTPUT_LIMIT, error=err), sub).text
    assert "cell 3" in text
    assert "10 MB output cap" in text
    assert "print less" in text


def test_invalid_from_the_pipeline_quotes_the_line(sub: Submission) -> None:
    line = "submissions/paper/submission.yml: claims[0].nmae: unknown key; did you mean 'name'?"
    err = ErrorInfo(type="SubmissionInvalid", message=line, cell=None)
    rep = report(result(Status.INVALID, error=err), sub)
    assert not rep.ok
    assert f"invalid: {line}" in rep.text
    assert "fix that field in submission.yml" in rep.text


def test_invalid_report_without_submission() -> None:
    rep = invalid_report("paper", "paper/artifact.ipynb: not JSON (x); save it again from Jupyter", POLICY)
    assert not rep.ok
    assert rep.result.status is Status.INVALID
    assert "save it again (nbformat 4)" in rep.text
    assert "nothing runs until" in rep.lines[-1]


def test_check_path_reports_a_broken_submission_yml(make_submission: MakeSubmission) -> None:
    folder = make_submission("paper", "x = 1", spec={"claims": [{"nmae": "x", "expected": 1}]})
    rep = check_path(folder, POLICY)
    assert not rep.ok
    assert "claims[0].nmae: unknown key; did you mean 'name'?" in rep.text


def test_check_path_reports_a_notebook_that_is_not_json(make_submission: MakeSubmission) -> None:
    folder = make_submission("paper", "x = 1")
    (folder / "artifact.ipynb").write_text("{not json", encoding="utf-8")
    rep = check_path(folder / "submission.yml", POLICY)
    assert rep.result.status is Status.INVALID
    assert "not JSON" in rep.text


def test_check_path_missing_folder(tmp_path: Path) -> None:
    rep = check_path(tmp_path / "submissions" / "nope", POLICY)
    assert not rep.ok
    assert "no such folder" in rep.text


# --- real runs through the CLI ------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from codeml_repro.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.slow
def test_real_raising_cell(make_submission: MakeSubmission) -> None:
    folder = make_submission("raises", "x = 1", "y = 1 / 0")
    proc = cli("check", str(folder), "--sandbox", "off")
    assert proc.returncode == 1, proc.stderr
    assert "raises: failed" in proc.stdout
    assert "cell 1 (the 2nd cell of artifact.ipynb: `y = 1 / 0`) raised ZeroDivisionError" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_real_cell_timeout(make_submission: MakeSubmission) -> None:
    folder = make_submission("slow", "import time", "time.sleep(60)")
    proc = cli("check", str(folder), "--sandbox", "off", "--cell-timeout", "2")
    assert proc.returncode == 1, proc.stderr
    assert "slow: timeout" in proc.stdout
    assert "cell 1 (the 2nd cell of artifact.ipynb: `time.sleep(60)`) ran past the 2 s cell budget" in (
        proc.stdout
    )


@pytest.mark.slow
def test_real_kernel_death(make_submission: MakeSubmission) -> None:
    folder = make_submission("dies", "import os", "os._exit(1)")
    proc = cli("check", str(folder), "--sandbox", "off")
    assert proc.returncode == 1, proc.stderr
    assert "dies: kernel_died" in proc.stdout
    assert "os._exit()" in proc.stdout


@pytest.mark.slow
def test_real_missing_claim(make_submission: MakeSubmission) -> None:
    claim = {"name": "accuracy", "expected": 0.95, "rel_tol": 0.01}
    folder = make_submission("unrecorded", "accuracy = 0.95", spec={"claims": [claim]})
    proc = cli("check", str(folder), "--sandbox", "off")
    assert proc.returncode == 1, proc.stderr
    assert "unrecorded: not_reproduced" in proc.stdout
    assert "claim 'accuracy' was never recorded" in proc.stdout


def test_environment_failure_says_pin_wheels_and_check_names(sub: Submission) -> None:
    message = (
        "paper/requirements.txt: uv pip install failed: error: No solution found when resolving "
        "dependencies cause: Because there is no version of numpy==0.0.1 and you require numpy==0.0.1, "
        "we can conclude that your requirements are unsatisfiable."
    )
    err = ErrorInfo(type="EnvironmentFailed", message=message, cell=None)
    rep = report(result(Status.FAILED, error=err), sub)
    assert not rep.ok
    text = rep.text
    assert "environment could not be built from requirements.txt, so no cell ran" in text
    assert "there is no version of numpy==0.0.1" in text  # uv's reason, not cut off
    assert "pin versions that publish wheels" in text and "check every package name" in text
    assert "--no-build" in text
    assert "before any cell of yours raised" not in text and "Restart & Run All" not in text


def test_missing_module_names_the_pip_package(sub: Submission) -> None:
    err = ErrorInfo(type="ModuleNotFoundError", message="No module named 'sklearn'", cell=1)
    text = report(result(Status.FAILED, error=err), sub).text
    assert "add `scikit-learn` (pinned" in text and "provides `import sklearn`" in text
    assert "a requirements.txt in the submission folder" in text
    (sub.folder / "requirements.txt").write_text("numpy==2.1.3\n")
    again = report(result(Status.FAILED, error=err), sub).text
    assert "to your requirements.txt" in again


def test_environment_failure_says_not_run(sub: Submission) -> None:
    err = ErrorInfo(type="EnvironmentFailed", message="uv pip install failed: no such package", cell=None)
    text = report(result(Status.FAILED, error=err), sub).text
    assert "not run: the environment could not be built" in text and "ran in" not in text


def test_template_placeholders_are_never_ready(make_submission: MakeSubmission, tmp_path: Path) -> None:
    from codeml_repro.authoring.placeholders import placeholder_fields
    from codeml_repro.authoring.scaffold import new_submission

    scaffolded = load_submission(new_submission(tmp_path / "fresh", "fresh"))
    assert placeholder_fields(scaffolded.spec) == ["title", "authors", "abstract"]
    rep = report(Result(slug="fresh", status=Status.REPRODUCED, badges=badges_for(Status.REPRODUCED)),
                 scaffolded)
    assert not rep.ok
    warnings = [ln for ln in rep.lines if "still the template's placeholder" in ln]
    assert [w.split(": ")[2] for w in warnings] == ["title", "authors", "abstract"]
    assert rep.lines[-1].startswith("not ready:") and "placeholders" in rep.lines[-1]


def test_available_needs_an_archive_and_check_says_how(make_submission: MakeSubmission) -> None:
    bare = load_submission(make_submission("bare", "x = 1"))
    archived = load_submission(make_submission("kept", "x = 1", spec={"links": {"doi": "10.5281/zenodo.42"}}))
    functional = Result(slug="p", status=Status.FUNCTIONAL, badges=badges_for(Status.FUNCTIONAL))
    note = "note: Available not earned: add a Zenodo DOI of your code to earn Available"
    bare_rep, kept_rep = report(functional, bare), report(functional, archived)
    assert any(ln.startswith(note) for ln in bare_rep.lines)
    assert not any(ln.startswith(note) for ln in kept_rep.lines)
    assert bare_rep.ok and kept_rep.ok  # the archive is asked for, not required to open a pull request

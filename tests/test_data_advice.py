"""`check` advice about data: the exact artifact.data entry to add, and what a data failure means."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from codeml_repro.authoring.check import build_report, check_path
from codeml_repro.model.inputs import DataInput
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ErrorInfo, Result, Status
from codeml_repro.model.submission import Submission, load_submission
from codeml_repro.results.badges import badges_for
from tests.conftest import MakeSubmission

POLICY = RunPolicy(sandbox="off")


@pytest.fixture
def sub(make_submission: MakeSubmission) -> Submission:
    return load_submission(make_submission("paper", "x = 1"))


def _report(sub: Submission, error: ErrorInfo) -> str:
    result = Result(slug="paper", status=Status.FAILED, badges=badges_for(Status.FAILED), error=error)
    return build_report(result, sub, POLICY, 600).text


def _entry(text: str) -> DataInput:
    """The YAML entry printed in the report, parsed and validated as submission.yml would be."""
    block = text[text.index("\n      artifact:") + 1 :]
    lines = [ln for ln in block.splitlines() if ln.startswith("      ")]
    data = yaml.safe_load("\n".join(ln[6:] for ln in lines))
    return DataInput.model_validate(data["artifact"]["data"][0])


def test_missing_absolute_file_gets_an_entry_with_its_hash(sub: Submission, tmp_path: Path) -> None:
    local = tmp_path / "mine" / "train.csv"
    local.parent.mkdir()
    local.write_bytes(b"a,b\n1,2\n")
    error = ErrorInfo(type="FileNotFoundError",
                      message=f"[Errno 2] No such file or directory: '{local}'", cell=0)
    text = _report(sub, error)
    entry = _entry(text)
    assert entry.path == "data/train.csv" and entry.source == "shipped"
    assert entry.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_connection_error_gets_a_url_entry(sub: Submission) -> None:
    message = ("HTTPSConnectionPool(host='example.org', port=443): Max retries exceeded with url: "
               "/files/train.csv (Caused by NameResolutionError(...))")
    text = _report(sub, ErrorInfo(type="ConnectionError", message=message, cell=1))
    assert "url: https://example.org/files/train.csv" in text
    assert "path: data/train.csv" in text and "codeml-repro hash" in text


def test_unrelated_missing_file_gets_no_entry(sub: Submission) -> None:
    error = ErrorInfo(type="FileNotFoundError", message="[Errno 2] No such file or directory: 'x.txt'")
    assert "artifact:" not in _report(sub, error)


@pytest.mark.parametrize("kind", ["DataUnavailable", "DataMismatch"])
def test_data_failures_say_no_cell_ran(sub: Submission, kind: str) -> None:
    text = _report(sub, ErrorInfo(type=kind, message="paper: artifact.data[0] (d.csv): details"))
    assert "not run: a declared input" in text and f"no cell ran: {kind}" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_check_prints_the_entry_for_a_file_outside_the_folder(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    local = tmp_path / "elsewhere.csv"
    local.write_bytes(b"x\n1\n")
    folder = make_submission("reads-outside", f"open({str(local)!r}).read()")
    report = check_path(folder, RunPolicy(sandbox="required", env="current"))
    assert not report.ok and report.result.error is not None
    entry = _entry(report.text)
    assert entry.path == "data/elsewhere.csv" and entry.sha256 == hashlib.sha256(b"x\n1\n").hexdigest()

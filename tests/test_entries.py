"""``validate`` checks artifact.matrix against the package sources: find-links offline, the index online."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from codeml_repro.cli import cli
from tests.browser import serve
from tests.conftest import MakeSubmission
from tests.wheels import TINY, build_versions

UNKNOWN = "codeml-unknown-xyz"


@pytest.fixture
def folder(make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A matrix submission over the tiny package and an unknown one; two wheels in a folder."""
    for name in ("CODEML_FIND_LINKS", "CODEML_INDEX_URL", "CODEML_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    build_versions(tmp_path / "wheels", {"1.0": "VALUE = 1.0\n", "2.0": "VALUE = 2.0\n"})
    spec: dict[str, Any] = {"artifact": {"matrix": {TINY: ["1.0", "latest"], UNKNOWN: ["1.*"]}}}
    sub = make_submission("tiny", "x = 1\n", spec=spec)
    (sub / "requirements.txt").write_text(f"{TINY}==1.0\n{UNKNOWN}\n")
    return sub


def _validate(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", "--root", str(root), *args])


def _set_matrix(folder: Path, matrix: dict[str, list[str]]) -> None:
    data = yaml.safe_load((folder / "submission.yml").read_text())
    data["artifact"]["matrix"] = matrix
    (folder / "submission.yml").write_text(yaml.safe_dump(data))


def test_a_package_missing_from_the_find_links_folder_of_an_offline_run_is_invalid(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEML_FIND_LINKS", str(tmp_path / "wheels"))
    monkeypatch.setenv("CODEML_OFFLINE", "1")
    out = _validate(tmp_path)
    assert out.exit_code == 1
    (line,) = out.stderr.splitlines()[:-1]
    field = f"artifact.matrix.{UNKNOWN}"
    assert line == f"submissions/tiny/submission.yml: {field}: no release of {UNKNOWN} on the package index"

    _set_matrix(folder, {TINY: ["1.0", "3.*"]})
    out = _validate(tmp_path)
    assert out.exit_code == 1
    assert f"artifact.matrix.{TINY}: no release matches '3.*' (available: 1.0, 2.0)" in out.stderr

    _set_matrix(folder, {TINY: ["1.*", "latest"]})
    out = _validate(tmp_path)
    assert out.exit_code == 0 and out.stdout == "ok: tiny\n" and "note" not in out.stderr


def test_what_cannot_be_checked_offline_is_a_note_not_an_error(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _validate(tmp_path)  # no find-links, index not asked: nothing to check against
    assert out.exit_code == 0, out.output
    assert f"could not check {TINY}, {UNKNOWN} against the package sources" in out.stderr
    assert "`validate --online`" in out.stderr and out.stdout == "ok: tiny\n"

    # runs may use the index too: the folder lacking a package does not make it unknown
    monkeypatch.setenv("CODEML_FIND_LINKS", str(tmp_path / "wheels"))
    out = _validate(tmp_path)
    assert out.exit_code == 0, out.output
    (note,) = [ln for ln in out.stderr.splitlines() if ln.startswith("note: ")]
    assert f"could not check {UNKNOWN} against" in note and TINY not in note.split("check", 1)[1]


def test_online_asks_the_configured_index(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    project = index / "simple" / TINY
    project.mkdir(parents=True)
    for wheel in (tmp_path / "wheels").iterdir():
        shutil.copy(wheel, project)
    with serve(index) as url:
        monkeypatch.setenv("CODEML_INDEX_URL", f"{url}/simple")
        assert _validate(tmp_path).exit_code == 0  # without --online the index is not asked
        out = _validate(tmp_path, "--online")
        assert out.exit_code == 1
        assert f"artifact.matrix.{UNKNOWN}: no release of {UNKNOWN}" in out.stderr
        _set_matrix(folder, {TINY: ["2.*"]})
        assert _validate(tmp_path, "--online").stdout == "ok: tiny\n"
        _set_matrix(folder, {TINY: ["2.1"]})
        out = _validate(tmp_path, "--online")
        assert out.exit_code == 1 and "no release matches '2.1' (available: 1.0, 2.0)" in out.stderr

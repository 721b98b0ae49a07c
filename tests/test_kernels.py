"""Kernels for other languages: configured by the maintainer (CODEML_KERNELS, --kernel-for),
never picked by the notebook's own kernelspec name.

``fakelang`` is a real kernelspec written in the test (under JUPYTER_PATH) whose language is
"fakelang" and whose argv starts an ipykernel: the configuration path is exercised for real.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.kernels import kernels_from_environ, parse_kernel_map
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.plan.planning import plan
from tests.runner_helpers import recorded, run
from tests.test_sandbox import needs_bwrap

PROBE = "import sys\nfrom codeml_repro import record\nrecord('argv', ' '.join(sys.argv[1:]))\nrecord('v', 2)"


@pytest.fixture
def fakelang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host kernelspec ``fakelang`` (language "fakelang") that starts an ipykernel, marked."""
    share = tmp_path / "jupyter"
    spec = share / "kernels" / "fakelang"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--FakeLang.marker=1"]
    kernel = {"argv": argv, "display_name": "Fake", "language": "fakelang"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(share))
    monkeypatch.delenv("CODEML_KERNELS", raising=False)
    return share


def _submission(root: Path, slug: str, language: str, kernel_name: str) -> Any:
    from codeml_repro.model.submission import load_submission

    folder = root / "submissions" / slug
    folder.mkdir(parents=True)
    (folder / "submission.yml").write_text("title: T\nauthors: [{name: A}]\n")
    nb = new_notebook(cells=[new_code_cell(PROBE)])
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": language}
    nb.metadata["language_info"] = {"name": language}
    nbformat.write(nb, folder / "artifact.ipynb")
    return load_submission(folder)


def test_the_map_is_parsed_with_one_line_errors() -> None:
    assert parse_kernel_map(["r=ir", " Julia = julia-1.9 "], "x") == {"r": "ir", "julia": "julia-1.9"}
    both = {"r": "ir", "julia": "julia-1.9"}
    assert kernels_from_environ({"CODEML_KERNELS": "r=ir,,julia=julia-1.9"}) == both
    with pytest.raises(ValueError, match=r"^CODEML_KERNELS: 'r' is not LANGUAGE=KERNELSPEC"):
        kernels_from_environ({"CODEML_KERNELS": "r"})
    with pytest.raises(ValueError, match="Python notebooks always run in their own environment"):
        parse_kernel_map(["python=fakelang"], "--kernel-for")


def test_another_language_is_refused_without_the_configuration(tmp_path: Path, fakelang: Path) -> None:
    sub = _submission(tmp_path, "fl", "fakelang", "fakelang")  # the kernelspec exists on the host
    planned = plan(sub.folder, RunPolicy())
    assert planned.submission is None and planned.problem is not None
    refused = "a 'fakelang' notebook cannot run here; the toolkit runs notebooks in python only"
    assert refused in planned.problem
    configured = plan(sub.folder, RunPolicy(kernels={"fakelang": "fakelang"}))
    assert configured.problem is None


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_a_configured_kernel_runs_the_notebook(tmp_path: Path, fakelang: Path, mode: str) -> None:
    sub = _submission(tmp_path, "fl", "fakelang", "some-other-name")  # its name plays no part
    ex = run(sub, sandbox=mode, env="auto", kernels={"fakelang": "fakelang"}, timeout_s=60)
    assert ex.outcome == "completed", ex.error
    values = recorded(ex)
    assert values["v"] == 2 and values["argv"].endswith("--FakeLang.marker=1")  # the configured argv
    assert ex.environment["env_kind"] == "kernel" and ex.environment["kernelspec"] == "fakelang"


def test_the_notebooks_kernelspec_name_never_picks_a_host_kernel(tmp_path: Path, fakelang: Path) -> None:
    """A Python notebook naming the host's ``fakelang`` kernelspec runs in its Python environment;
    an unconfigured language naming it is refused; only the language is looked up."""
    python_nb = _submission(tmp_path, "py", "python", "fakelang")
    ex = run(python_nb, env="current", kernels={"fakelang": "fakelang"}, timeout_s=60)
    assert ex.outcome == "completed" and "--FakeLang.marker=1" not in recorded(ex)["argv"]
    assert ex.environment["env_kind"] == "current"
    other = _submission(tmp_path, "other", "otherlang", "fakelang")
    planned = plan(other.folder, RunPolicy(kernels={"fakelang": "fakelang"}))
    assert planned.problem is not None and "runs notebooks in python, fakelang only" in planned.problem


def test_a_configured_kernelspec_the_host_lacks_is_that_submissions_failure(
    tmp_path: Path, fakelang: Path
) -> None:
    from codeml_repro.model.errors import EnvironmentFailed
    from codeml_repro.run.kernel.foreign import host_kernel

    sub = _submission(tmp_path, "fl", "fakelang", "fakelang")
    with pytest.raises(EnvironmentFailed, match=r"^fl: the kernel 'nope' configured for fakelang notebooks"):
        host_kernel(sub, {"fakelang": "nope"})
    with pytest.raises(SubmissionInvalid):
        host_kernel(sub, {})


def test_run_takes_kernel_for(tmp_path: Path) -> None:
    from codeml_repro.cli import cli

    out = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "--kernel-for" in out and "CODEML_KERNELS" in out
    (tmp_path / "submissions").mkdir()
    bad = CliRunner().invoke(cli, ["run", "--root", str(tmp_path), "--kernel-for", "r"])
    assert bad.exit_code == 2 and "--kernel-for: 'r' is not LANGUAGE=KERNELSPEC" in bad.output

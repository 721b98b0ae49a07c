"""The base environment: where a submission without requirements.txt runs (not the toolkit's Python).

Built once per session (tests/conftest.py, or ``codeml-repro env build`` at install time) and
found in the cache by every run afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.run.env.baseenv import BASE_REQUIREMENTS, base_pins
from codeml_repro.run.env.environment import requirements_hash
from tests.conftest import MakeSubmission
from tests.runner_helpers import make_submission, outputs_text, recorded, run
from tests.test_sandbox import needs_bwrap

PROBE = (
    "import sys, importlib.util\n"
    "import numpy, sklearn\n"
    "from codeml_repro import record\n"
    "record('prefix', sys.prefix)\n"
    "record('numpy', numpy.__version__)\n"
    "record('sklearn', sklearn.__version__)\n"
    "record('has_pydantic', importlib.util.find_spec('pydantic') is not None)\n"  # the toolkit's only
)


@pytest.fixture
def base(base_environment: Any) -> Any:
    if base_environment is None:
        pytest.skip("the base environment could not be built (no package index, empty uv cache)")
    return base_environment


def test_the_shipped_pins_are_exact_and_the_common_stack() -> None:
    pins = base_pins()
    assert list(pins) == ["numpy", "scipy", "pandas", "matplotlib", "scikit-learn", "myst-nb", "scrapbook",
                          "six"]
    lines = [ln for ln in BASE_REQUIREMENTS.read_text().splitlines() if ln and not ln.startswith("#")]
    assert all("==" in ln for ln in lines) and len(lines) == len(pins)


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_a_submission_without_requirements_runs_in_the_base_environment(
    tmp_path: Path, base: Any, mode: str
) -> None:
    sub = make_submission(tmp_path / "b", [PROBE])
    ex = run(sub, env="auto", sandbox=mode, timeout_s=120)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    pins = base_pins()
    assert recorded(ex) == {
        "prefix": base.path, "numpy": pins["numpy"], "sklearn": pins["scikit-learn"], "has_pydantic": False,
    }
    assert ex.environment["env_kind"] == "venv" and ex.environment["base"] is True
    assert f"numpy=={pins['numpy']}" in ex.environment["lock"]
    assert any(line.startswith("ipykernel==") for line in ex.environment["lock"])


def test_env_current_keeps_the_toolkit_interpreter(tmp_path: Path) -> None:
    probe = "import sys\nfrom codeml_repro import record\nrecord('p', sys.prefix)"
    sub = make_submission(tmp_path / "c", [probe])
    ex = run(sub, env="current")
    assert recorded(ex) == {"p": sys.prefix}
    assert ex.environment["env_kind"] == "current" and "base" not in ex.environment


def test_the_base_environment_is_keyed_by_its_file_and_era(base: Any) -> None:
    """Built through venv_for like any environment: its folder is the hash of its pins and as_of."""
    from codeml_repro.run.env.baseenv import BASE_AS_OF
    from codeml_repro.run.env.lock import Era

    era = Era(as_of=BASE_AS_OF)
    digest = requirements_hash(BASE_REQUIREMENTS.read_text(), base.python_version, None, era)
    assert Path(base.path).name == digest
    assert digest != requirements_hash("numpy==2.2.5\n", base.python_version, None, era)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "codeml_repro.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600, check=False)


def test_env_build_finds_the_base_and_reports_each_submission(
    tmp_path: Path, base: Any, make_submission: MakeSubmission
) -> None:
    make_submission("plain", "x = 1")
    (make_submission("nopkg", "x = 1") / "requirements.txt").write_text("codeml-no-such-pkg-xyz==0.0.1\n")
    only = _cli("env", "build", "--base", cwd=tmp_path)
    assert only.returncode == 0, only.stderr
    pins = base_pins()
    assert only.stdout.startswith("base: Python ") and f"numpy {pins['numpy']}" in only.stdout
    assert f"$CODEML_CACHE/envs/{Path(base.path).name}" in only.stdout and str(Path.home()) not in only.stdout
    every = _cli("env", "build", "--root", str(tmp_path), cwd=tmp_path)
    assert every.returncode == 1  # one submission's environment cannot be built; the others were
    assert "plain: Python" in every.stdout and "the base environment" in every.stdout
    assert "nopkg: not built: nopkg/requirements.txt: uv pip compile failed" in every.stderr


def test_the_base_environments_lock_is_in_the_skip_key(
    tmp_path: Path, base: Any, make_submission: MakeSubmission
) -> None:
    """A run in the base environment records a key that hashes its lock: the same base environment
    skips the submission next time; a result made in another one (the toolkit moved the base to
    newer pins) runs again, though nothing of the submission changed."""
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.result import Status
    from codeml_repro.model.skipkey import locked_key
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.batch.runall import run_all
    from codeml_repro.run.plan.planning import RunOptions, plan

    folder = make_submission("plain", "x = 1")
    policy = RunPolicy(sandbox="off", env="auto", timeout_s=120)
    [first] = run_all(tmp_path, policy, RunOptions()).results
    assert first.status is Status.FUNCTIONAL and first.environment["lock"] == list(base.lock)
    planned = plan(folder, policy)
    assert first.key == locked_key(planned.key, base.lock) != planned.key
    again = run_all(tmp_path, policy, RunOptions())
    assert again.skipped == ["plain"]
    older = [line.replace(f"numpy=={base_pins()['numpy']}", "numpy==2.2.5") for line in base.lock]
    store = ResultStore(tmp_path)
    store.write(first.model_copy(update={"key": locked_key(planned.key, older),
                                         "environment": {**first.environment, "lock": older}}))
    rerun = run_all(tmp_path, policy, RunOptions())
    assert rerun.skipped == [] and rerun.results[0].key == first.key


def test_asking_for_the_toolkits_own_python_finds_the_base_environment_already_built(
    tmp_path: Path, base: Any
) -> None:
    """No requirements.txt and ``artifact.environment.python`` naming the version the toolkit runs
    on: the host's interpreter for that version is the toolkit's own, so the run gets the base
    environment already built, not a second copy under another key (an unavailable version is
    invalid: test_lock.py)."""
    import platform

    from codeml_repro.model.submission import Submission, SubmissionSpec

    here = ".".join(platform.python_version_tuple()[:2])
    plain = make_submission(tmp_path / "py", ["import sys\nfrom codeml_repro import record\n"
                                              "record('version', '%d.%d' % sys.version_info[:2])\n"
                                              "record('prefix', sys.prefix)"])
    artifact = plain.spec.artifact.model_dump(mode="json", exclude_none=True)
    artifact["environment"] = {"python": here}
    spec = SubmissionSpec(title="Test", authors=[{"name": "Tester"}], artifact=artifact)
    ex = run(Submission(plain.slug, plain.folder, spec), env="auto", timeout_s=120)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    assert recorded(ex) == {"version": here, "prefix": base.path}
    assert ex.environment["env_kind"] == "venv" and ex.environment["base"] is True
    assert ex.environment["requirements_hash"] == base.requirements_hash
    assert ex.environment["python"].startswith(here + ".")
    assert not [w for w in ex.warnings if "not honoured" in w]


GLUE = (
    "from myst_nb import glue\n"
    "import scrapbook as sb\n"
    "import numpy as np\n"
    "glue('accuracy', np.float64(0.953), display=False)\n"
    "sb.glue('epochs', 12)\n"
)


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_glue_and_sb_glue_work_in_the_base_environment(
    tmp_path: Path, base: Any, make_submission: MakeSubmission, mode: str
) -> None:
    """A Jupyter Book notebook records with myst-nb's glue and scrapbook's sb.glue, with no
    requirements.txt: both claims are read from the run in the base environment."""
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.result import Status
    from codeml_repro.run.batch.runall import run_all
    from codeml_repro.run.plan.planning import RunOptions

    claims = [{"name": "accuracy", "expected": 0.95, "rel_tol": 0.01}, {"name": "epochs", "expected": 12}]
    make_submission("book", GLUE, spec={"claims": claims})
    policy = RunPolicy(sandbox=mode, env="auto", timeout_s=180)
    [result] = run_all(tmp_path, policy, RunOptions()).results
    assert result.status is Status.REPRODUCED, (result.error, result.claims)
    assert result.environment["base"] is True
    observed = {(c.name, c.observed, c.ok) for c in result.claims}
    assert observed == {("accuracy", 0.953, True), ("epochs", 12, True)}


def test_the_base_environments_kernel_starts_without_the_debugger_and_completion(
    tmp_path: Path, base: Any
) -> None:
    """The same on the base environment's ipykernel 6, which imports the debugger on import (7 does
    on initialisation): kept out while the kernel starts, importable by a cell."""
    from tests.test_runner import SKIPPED_PROBE

    ex = run(make_submission(tmp_path / "skipped", [SKIPPED_PROBE]), env="auto", timeout_s=120)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    assert ex.environment["packages"]["ipykernel"].startswith("6.")
    assert recorded(ex) == {
        "loaded_at_start": [], "launcher_names": [], "imported_later": ["debugpy", "jedi"],
    }

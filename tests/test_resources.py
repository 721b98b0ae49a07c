"""Declared resources, the skipped status, and profiles (smoke vs full)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.profiles import apply_profile
from codeml_repro.model.resources import Resources, short_need
from codeml_repro.model.result import Status
from codeml_repro.model.submission import load_spec, load_submission
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.hardware import Machine, missing_resource
from codeml_repro.run.plan.planning import RunOptions, plan

from .conftest import REPO, MakeSubmission

POLICY = RunPolicy(sandbox="off", env="current", timeout_s=60, cell_timeout_s=30)
GB = 1024**3


def _spec(tmp_path: Path, artifact: dict[str, Any]) -> Path:
    path = tmp_path / "submission.yml"
    data = {"title": "T", "authors": [{"name": "A"}], "artifact": artifact}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("artifact", "expected"),
    [
        ({"resources": {"gpu": 9}}, "artifact.resources.gpu: must be at most 8 (the run policy's cap)"),
        ({"resources": {"memory_gb": 100}}, "artifact.resources.memory_gb: must be at most 64 GB"),
        ({"resources": {"timeout": 5000}}, "artifact.resources.timeout: must be at most 1800 s"),
        ({"resources": {"cpus": 0}}, "artifact.resources.cpus: Input should be greater than or equal to 1"),
        ({"resources": {"gpus": 1}}, "artifact.resources.gpus: unknown key; did you mean 'gpu'?"),
        ({"timeout": 60, "resources": {"timeout": 90}}, "keep only resources.timeout"),
        ({"profiles": {"full": {}}}, "artifact.profiles: 'full' is the top-level values"),
        ({"profiles": {"smoke": {"resources": {"gpu": 20}}}}, "profiles.smoke.resources.gpu: must be"),
    ],
)
def test_bad_resources_name_the_field_and_the_cap(
    tmp_path: Path, artifact: dict[str, Any], expected: str
) -> None:
    path = _spec(tmp_path, artifact)
    with pytest.raises(SubmissionInvalid) as err:
        load_spec(path)
    assert str(path) in err.value.message
    assert expected in err.value.message


def test_timeout_is_an_alias_of_resources_timeout(tmp_path: Path) -> None:
    old = load_spec(_spec(tmp_path, {"timeout": 120})).artifact
    new = load_spec(_spec(tmp_path, {"resources": {"timeout": 120}})).artifact
    assert old.timeout == old.resources.timeout == new.timeout == new.resources.timeout == 120


def test_missing_resources_give_a_reason() -> None:
    cpu_box = Machine(gpus=0, memory_bytes=8 * GB, cpus=2)
    assert missing_resource(Resources(gpu=1), cpu_box) == "needs a GPU; this runner has none"
    assert missing_resource(Resources(gpu=2), Machine(1, 8 * GB, 2)) == "needs 2 GPUs; this runner has 1"
    assert missing_resource(Resources(memory_gb=16), cpu_box) == (
        "needs 16 GB of memory; this runner has 8.0 GB"
    )
    # Fewer cores only make a run slower: never a reason to skip it.
    assert missing_resource(Resources(memory_gb=4, cpus=64), cpu_box) is None
    assert short_need("needs a GPU; this runner has none") == "needs a GPU"


def test_gpu_submission_is_skipped_here_and_run_exits_0(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    make_submission("on-gpu", "import torch", spec={"artifact": {"resources": {"gpu": 1}}})
    run = subprocess.run(
        [sys.executable, "-m", "codeml_repro.cli", "run", "--root", str(tmp_path), "--sandbox", "off",
         "--env", "current"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    status = subprocess.run(
        [sys.executable, "-m", "codeml_repro.cli", "status", "--json", "--root", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
    )
    (row,) = json.loads(status.stdout)
    assert row["status"] == "skipped"
    assert row["skip_reason"] == "needs a GPU; this runner has none"
    assert row["badges"] == []  # no DOI here: not Available; never a run tier
    assert row["error"] is None
    assert not (tmp_path / "results" / "notebooks" / "on-gpu.ipynb").exists()  # nothing ran


def test_a_skipped_result_is_tried_again(make_submission: MakeSubmission, tmp_path: Path) -> None:
    """A GPU runner that inherits a CPU runner's results must not keep its 'skipped'."""
    make_submission("on-gpu", "x = 1", spec={"artifact": {"resources": {"gpu": 1}}})
    first = run_all(tmp_path, POLICY, RunOptions())
    second = run_all(tmp_path, POLICY, RunOptions())
    assert [r.status for r in first.results] == [Status.SKIPPED]
    assert second.skipped == []  # planned again, not taken as unchanged


SMOKE_NOTEBOOK = ("from codeml_repro import record\nrecord('epochs_run', epochs)\nrecord('acc', 0.9)",)
SMOKE_SPEC = {
    "artifact": {
        "parameters": {"epochs": 50},
        "profiles": {"smoke": {"parameters": {"epochs": 1}, "resources": {"timeout": 30}}},
    },
    "claims": [{"name": "acc", "expected": 0.9, "abs_tol": 0.01}],
}


def test_smoke_profile_runs_its_parameters_and_cannot_reproduce(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    make_submission("paper", *SMOKE_NOTEBOOK, spec=SMOKE_SPEC, params="epochs = 100")
    smoke = run_all(tmp_path, POLICY, RunOptions(profile="smoke")).results[0]
    assert smoke.profile == "smoke"
    assert smoke.status is Status.FUNCTIONAL  # no smoke claims: never reproduced
    assert smoke.claims == []
    notebook = (tmp_path / "results" / "notebooks" / "paper.ipynb").read_text()
    assert "epochs_run" in notebook and '"epochs = 1\\n"' in notebook  # papermill injected the smoke value

    full = run_all(tmp_path, POLICY, RunOptions(profile="full")).results[0]
    assert full.profile == "full" and full.status is Status.REPRODUCED
    assert full.key != smoke.key  # the skip key includes the profile


def test_a_profile_with_its_own_claims_can_reproduce(make_submission: MakeSubmission, tmp_path: Path) -> None:
    spec = json.loads(json.dumps(SMOKE_SPEC))
    spec["artifact"]["profiles"]["smoke"]["claims"] = [{"name": "epochs_run", "expected": 1}]
    make_submission("paper", *SMOKE_NOTEBOOK, spec=spec, params="epochs = 100")
    result = run_all(tmp_path, POLICY, RunOptions(profile="smoke")).results[0]
    assert result.status is Status.REPRODUCED
    assert [(c.name, c.observed) for c in result.claims] == [("epochs_run", 1)]


def test_profile_overrides_and_fallback(make_submission: MakeSubmission) -> None:
    folder = make_submission("paper", *SMOKE_NOTEBOOK, spec=SMOKE_SPEC, params="epochs = 100")
    sub = load_submission(folder)
    smoke = apply_profile(sub, "smoke")
    assert smoke.spec.artifact.parameters == {"epochs": 1}
    assert smoke.spec.artifact.timeout == smoke.spec.artifact.resources.timeout == 30
    assert apply_profile(sub, "nightly").profile == "full"  # no such profile: the full run
    assert plan(folder, POLICY, profile="smoke").inputs == plan(folder, POLICY).inputs


def test_a_profile_parameter_the_notebook_lacks_is_invalid(make_submission: MakeSubmission) -> None:
    spec = {"artifact": {"profiles": {"smoke": {"parameters": {"epoch": 1}}}}}
    folder = make_submission("paper", "x = 1", spec=spec, params="epochs = 100")
    planned = plan(folder, POLICY)
    assert planned.problem is not None
    assert "artifact.profiles.smoke.parameters.epoch: not assigned" in planned.problem
    assert "did you mean 'epochs'?" in planned.problem


def test_gpu_selection_splits_cpu_and_gpu_runners(make_submission: MakeSubmission, tmp_path: Path) -> None:
    """CI: normal shards take --gpu none when a GPU runner exists; the GPU runner takes --gpu only."""
    make_submission("on-cpu", "x = 1")
    make_submission("on-gpu", "x = 1", spec={"artifact": {"resources": {"gpu": 1}}})
    make_submission("broken", "x = 1", spec={"artifact": {"resources": {"gpu": "many"}}})
    cpu = run_all(tmp_path, POLICY, RunOptions(gpu="none"))
    assert {r.slug: r.status for r in cpu.results} == {"on-cpu": Status.FUNCTIONAL, "broken": Status.INVALID}
    gpu = run_all(tmp_path, POLICY, RunOptions(gpu="only"))
    assert {r.slug: r.status for r in gpu.results} == {"on-gpu": Status.SKIPPED}  # no GPU on this machine

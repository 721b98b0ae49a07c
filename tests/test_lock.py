"""Environments of a notebook's era: one resolution with the kernel's packages, as of a date.

A fake package index on 127.0.0.1 (PEP 691 JSON with PEP 700 upload times) stands in for PyPI:
``fake-kernel`` plays ipykernel, ``fake-ipython`` plays IPython. uv is real.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.env import lock
from codeml_repro.run.env.environment import KernelEnv, requirements_hash
from codeml_repro.run.env.uvtool import uv_env
from codeml_repro.run.plan.planning import plan
from tests.wheels import build_wheel, project_page, serve_index, wheel_entry

# name -> [(version, requires, upload time)]
RELEASES: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "fake-ipython": [("1.0", (), "2023-01-10T00:00:00Z"), ("2.0", (), "2024-03-01T00:00:00Z")],
    "fake-kernel": [
        ("1.0", ("fake-ipython<2",), "2023-01-10T00:00:00Z"),
        ("2.0", ("fake-ipython>=2",), "2024-03-01T00:00:00Z"),
    ],
    "fake-lib": [("1.0", (), "2023-01-10T00:00:00Z"), ("1.1", (), "2024-05-01T00:00:00Z")],
    # 1.0 ships only a wheel for Python 2.7
    "fake-old": [("1.0", (), "2019-01-10T00:00:00Z"), ("1.1", (), "2020-01-10T00:00:00Z"),
                 ("1.2", (), "2021-01-10T00:00:00Z")],
}
PY27_ONLY = {("fake-old", "1.0")}


def _index_pages(files: Path) -> dict[str, tuple[bytes, str]]:
    """The JSON project pages of every fake package, keyed by URL path."""
    pages = {}
    for name, releases in RELEASES.items():
        entries = []
        for version, requires, uploaded in releases:
            wheel = build_wheel(files, version, "VALUE = 1\n", name=name, requires=requires)
            if (name, version) in PY27_ONLY:
                wheel = wheel.rename(wheel.with_name(wheel.name.replace("-py3-", "-cp27-")))
            entries.append(wheel_entry(wheel, uploaded))
        pages[f"/simple/{name}/"] = project_page(name, entries, [r[0] for r in releases])
    return pages


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake index, served on 127.0.0.1 for this module; yields its simple URL."""
    files = tmp_path_factory.mktemp("files")
    with serve_index(_index_pages(files), files) as served:
        yield served.url


def _compile(tmp_path: Path, index: str, requirements: str, era: lock.Era) -> list[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    req, kernel = tmp_path / "requirements.txt", tmp_path / "kernel.in"
    req.write_text(requirements)
    kernel.write_text("fake-kernel\n")
    flags = ["--index-url", index, "--cache-dir", str(tmp_path / "uv-cache")]
    argv = lock.compile_argv(uv, req, kernel, "3.11", era, flags)
    proc = subprocess.run(argv, capture_output=True, text=True, env=uv_env(), check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return lock.lock_lines(proc.stdout)


def test_author_pins_constrain_the_kernel_packages(tmp_path: Path, index: str) -> None:
    """One resolution: pinning the old IPython picks the kernel release that works with it."""
    assert _compile(tmp_path, index, "fake-ipython==1.0\n", lock.Era()) == [
        "fake-ipython==1.0", "fake-kernel==1.0"
    ]
    assert _compile(tmp_path, index, "fake-lib\n", lock.Era()) == [
        "fake-ipython==2.0", "fake-kernel==2.0", "fake-lib==1.1"
    ]


def test_as_of_resolves_everything_unpinned_as_of_that_date(tmp_path: Path, index: str) -> None:
    """uv's --exclude-newer: releases uploaded after the date do not exist for the resolution."""
    era = lock.Era(as_of=date(2024, 1, 1))
    assert _compile(tmp_path, index, "fake-lib\n", era) == [
        "fake-ipython==1.0", "fake-kernel==1.0", "fake-lib==1.0"
    ]
    late = lock.Era(as_of=date(2024, 4, 1))
    assert "fake-kernel==2.0" in _compile(tmp_path, index, "fake-lib\n", late)


def test_the_era_is_part_of_the_environment_key() -> None:
    plain = requirements_hash("numpy\n", "3.11.7")
    assert requirements_hash("numpy\n", "3.11.7", era=lock.Era()) == plain
    dated = requirements_hash("numpy\n", "3.11.7", era=lock.Era(as_of=date(2024, 1, 1)))
    assert dated != plain
    assert dated != requirements_hash("numpy\n", "3.11.7", era=lock.Era(as_of=date(2024, 1, 2)))


def test_lock_lines_keep_only_the_pins() -> None:
    text = "# via uv\n--index-url http://x\nnumpy==1.26.4\n    # via -r requirements.txt\nipykernel==6.28.0\n"
    assert lock.lock_lines(text) == ["ipykernel==6.28.0", "numpy==1.26.4"]


def test_the_lock_is_recorded_with_the_environment() -> None:
    env = KernelEnv("venv", "/x/bin/python", "3.11.7", {"ipykernel": "6.28.0"}, "abc", "/x",
                    lock=("ipykernel==6.28.0", "ipython==8.18.1"))
    assert env.describe()["lock"] == ["ipykernel==6.28.0", "ipython==8.18.1"]


def _folder(root: Path, environment: dict[str, Any]) -> Path:
    folder = root / "submissions" / "era"
    folder.mkdir(parents=True)
    (folder / "artifact.ipynb").write_text(json.dumps({
        "cells": [],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "P", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }))
    spec = {"title": "T", "authors": [{"name": "A"}], "artifact": {"environment": environment}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    return folder


def test_an_unavailable_python_is_invalid_naming_the_available_ones(tmp_path: Path) -> None:
    planned = plan(_folder(tmp_path, {"python": "3.4", "as_of": "2024-06-01"}), RunPolicy())
    assert planned.submission is None and planned.problem is not None
    assert "submission.yml: artifact.environment.python: \"3.4\" is not available here" in planned.problem
    assert '"3.11"' in planned.problem and "\n" not in planned.problem
    assert planned.problem.endswith("CI, where `uv python install` reaches the network, can provide "
                                    "Python 3.4 (`codeml-repro env build` installs the Pythons the "
                                    "submissions ask for)")


def test_an_available_python_is_picked(tmp_path: Path) -> None:
    planned = plan(_folder(tmp_path, {"python": "3.11"}), RunPolicy())
    assert planned.problem is None and planned.submission is not None
    assert Path(lock.pick_python(planned.submission)).is_file()
    assert planned.submission.spec.artifact.environment.python == "3.11"


def test_the_toolkits_own_python_keys_like_no_python_and_another_does_not(tmp_path: Path) -> None:
    """Asking for the version the toolkit runs on picks the toolkit's own interpreter, so the era
    (and the environment's key) is the one of not asking; another version keeps its own key."""
    from codeml_repro.model.submission import load_submission

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    own = load_submission(_folder(tmp_path / "own", {"python": here, "as_of": "2024-06-01"}))
    plain = load_submission(_folder(tmp_path / "plain", {"as_of": "2024-06-01"}))
    other = load_submission(_folder(tmp_path / "other", {"python": "3.4", "as_of": "2024-06-01"}))
    assert lock.pick_python(own) == sys.executable
    assert lock.era_of(own) == lock.era_of(plain) and lock.era_of(own).key() == ["as_of=2024-06-01"]
    assert lock.era_of(other).key() == ["as_of=2024-06-01", "python=3.4"]


def test_new_fills_in_todays_date(tmp_path: Path) -> None:
    """A scaffolded submission keeps resolving to the versions it was made with."""
    from datetime import datetime, timezone

    from codeml_repro.authoring.scaffold import new_submission
    from codeml_repro.model.submission import load_submission

    sub = load_submission(new_submission(tmp_path, "dated"))
    assert sub.spec.artifact.environment.as_of == datetime.now(timezone.utc).date()
    assert lock.era_of(sub).key() == [f"as_of={sub.spec.artifact.environment.as_of.isoformat()}"]


def test_the_wheels_only_refusal_names_what_has_a_wheel(tmp_path: Path, index: str) -> None:
    """A pin with no wheel for the interpreter: name the Python, the first version after it with
    a wheel, and the newest."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    req, kernel = tmp_path / "requirements.txt", tmp_path / "kernel.in"
    req.write_text("fake-old==1.0\n")
    kernel.write_text("")
    flags = ["--index-url", index, "--cache-dir", str(tmp_path / "uv-cache")]
    python = sys.executable
    argv = lock.compile_argv(uv, req, kernel, python, lock.Era(), flags)
    proc = subprocess.run(argv, capture_output=True, text=True, env=uv_env(), check=False, timeout=120)
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())
    explained = lock.explain_no_wheels(message, uv, python, platform.python_version(), flags, uv_env())
    minor = ".".join(platform.python_version().split(".")[:2])
    assert explained.endswith(
        f"(fake-old 1.0 publishes no wheel for Python {minor} on Linux (wheels only: nothing is "
        "built); the first version after it with one is 1.1, the newest 1.2)"
    )
    other = "some other failure"
    assert lock.explain_no_wheels(other, uv, python, "3.11.7", flags, {}) == other


def test_a_changed_lock_runs_the_submission_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolved lock is in the skip key: a result's key hashes the lock its run resolved to,
    and planning hashes the lock of the environment as cached now, so a submission whose
    environment resolved to another set runs again. Without an environment built here, the
    recorded lock stands (planning never resolves: it stays offline)."""
    from codeml_repro.model.policy import IndexSettings
    from codeml_repro.model.result import Status
    from codeml_repro.model.skipkey import locked_key
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.batch.runall import RunReport, _todo, expected_key
    from codeml_repro.run.env.environment import COMPLETE_MARKER
    from codeml_repro.run.matrix.versions import VersionLookup
    from codeml_repro.run.plan.outcome import pending_result
    from codeml_repro.run.plan.planning import RunOptions

    monkeypatch.delenv("CODEML_INDEX_URL", raising=False)
    monkeypatch.delenv("CODEML_FIND_LINKS", raising=False)
    folder = _folder(tmp_path, {"as_of": "2024-01-01"})
    (folder / "requirements.txt").write_text("numpy<2\n")
    policy = RunPolicy(env="auto", cache=tmp_path / "cache")
    planned = plan(folder, policy)
    store = ResultStore(tmp_path)
    ran_with = ["numpy==1.26.2"]
    recorded = pending_result("era").model_copy(update={
        "key": locked_key(planned.key, ran_with), "status": Status.FUNCTIONAL,
        "environment": {"lock": ran_with},
    })
    assert recorded.key != planned.key  # the lock is part of the recorded key
    store.write(recorded)
    era = lock.Era(as_of=date(2024, 1, 1))
    digest = requirements_hash("numpy<2\n", platform.python_version(), IndexSettings(), era)
    marker = tmp_path / "cache" / "envs" / digest / COMPLETE_MARKER

    def todo_with_cached(lock_lines: list[str] | None) -> list[str]:
        if lock_lines is None:
            marker.unlink(missing_ok=True)
        else:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"python": "3.11", "packages": {}, "lock": lock_lines}))
        lookup = VersionLookup(IndexSettings(), offline=True)
        return [p.slug for p in _todo([folder], policy, RunOptions(), store, RunReport(), lookup)]

    assert todo_with_cached(["numpy==1.26.2"]) == []  # the same lock: skipped
    assert todo_with_cached(["numpy==1.26.3"]) == ["era"]  # resolved differently: runs again
    assert todo_with_cached(None) == []  # not built here: the recorded lock stands
    current = RunPolicy(env="current")  # the toolkit's interpreter: no lock in the key
    assert expected_key(recorded, plan(folder, current), current) == plan(folder, current).key


def test_env_current_says_the_requested_python_and_era_were_not_used(tmp_path: Path) -> None:
    """``--env current`` (a development mode) runs on the toolkit's interpreter whatever the
    submission asks; a submission asking for Python "3.4" still runs, and its result says that
    neither the interpreter nor the era it asked for was used, instead of reading as honoured."""
    from codeml_repro.model.submission import load_submission
    from tests.runner_helpers import run

    folder = _folder(tmp_path, {"python": "3.4", "as_of": "2024-06-01"})
    planned = plan(folder, RunPolicy(env="current", sandbox="off"))
    assert planned.problem is None and planned.submission is not None
    ex = run(load_submission(folder), env="current")
    assert ex.outcome == "completed"
    notes = [w for w in ex.warnings if "--env current" in w]
    assert len(notes) == 1
    assert notes[0].startswith(
        'artifact.environment.python "3.4" and artifact.environment.as_of 2024-06-01 not honoured: '
        f"--env current runs the notebook on the toolkit's own Python {platform.python_version()}"
    )
    assert "--env auto" in notes[0]


def test_env_current_says_nothing_when_the_submission_asks_for_this_python(tmp_path: Path) -> None:
    from codeml_repro.model.submission import load_submission
    from tests.runner_helpers import run

    here = ".".join(platform.python_version_tuple()[:2])
    ex = run(load_submission(_folder(tmp_path, {"python": here})), env="current")
    assert ex.outcome == "completed"
    assert not [w for w in ex.warnings if "--env current" in w]

"""Per-submission environments: the toolkit's own, or a cached uv venv with ipykernel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.run.env.environment import KernelEnv, prepare_environment, requirements_hash, venv_for
from tests.runner_helpers import make_submission, outputs_text, recorded, run
from tests.test_sandbox import needs_bwrap

PROBE = (
    "import sys, importlib.util\n"
    "from codeml_repro import record\n"
    "record('prefix', sys.prefix)\n"
    "record('has_papermill', importlib.util.find_spec('papermill') is not None)\n"
)


def test_requirements_hash_ignores_order_comments_and_blanks() -> None:
    a = requirements_hash("numpy==1.26\n# comment\n\nscipy\n", "3.11.7")
    assert a == requirements_hash("scipy  # why\nnumpy==1.26\n", "3.11.7")
    assert a != requirements_hash("numpy==1.26\n", "3.11.7")
    assert a != requirements_hash("numpy==1.26\nscipy\n", "3.12.0")


def test_current_env_is_the_toolkit_interpreter(tmp_path: Path) -> None:
    sub = make_submission(tmp_path / "cur", "passing", requirements="ipykernel\n")
    env = prepare_environment(sub, "current", cache=tmp_path / "cache")
    assert env.kind == "current" and env.python == sys.executable
    assert "ipykernel" in env.packages and env.describe()["python"]


def test_missing_requirements_file_is_a_clear_error(tmp_path: Path) -> None:
    sub = make_submission(tmp_path / "req", "passing", requirements="x\n")
    (sub.folder / "requirements.txt").unlink()
    with pytest.raises(EnvironmentFailed, match=r"requirements\.txt: requirements file not found"):
        prepare_environment(sub, "auto", cache=tmp_path / "cache")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> KernelEnv:
    """A real uv venv; offline from uv's cache, else online, else skipped."""
    root = tmp_path_factory.mktemp("cache")
    req = root / "requirements.txt"
    req.write_text("# only the kernel\n")
    try:
        return venv_for(req, offline=True, root=root)
    except EnvironmentFailed as offline_error:
        try:
            return venv_for(req, offline=False, root=root)
        except EnvironmentFailed as exc:
            pytest.skip(
                f"cannot build a uv venv: no ipykernel wheel in uv's cache ({offline_error}) "
                f"and no package index ({exc})"
            )


def test_venv_is_cached_by_requirements_hash(venv: KernelEnv) -> None:
    assert venv.kind == "venv" and Path(venv.python).is_file()
    assert "ipykernel" in venv.packages and "papermill" not in venv.packages
    assert venv.path is not None
    again = venv_for(Path(venv.path).parent.parent / "requirements.txt", root=Path(venv.path).parent.parent)
    assert again == venv


def test_the_installed_set_is_exactly_the_recorded_lock(venv: KernelEnv) -> None:
    """One resolution (author's requirements + the kernel's), installed with --no-deps."""
    pins = dict(line.split("==") for line in venv.lock)
    assert "ipykernel" in pins and "ipython" in pins and "matplotlib-inline" in pins
    installed = {name.replace("_", "-"): version for name, version in venv.packages.items()}
    assert installed == pins
    assert venv.describe()["lock"] == list(venv.lock)


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_record_works_in_a_venv_without_the_toolkit(
    tmp_path: Path, venv: KernelEnv, mode: str
) -> None:
    assert venv.path is not None
    sub = make_submission(tmp_path / "v", [PROBE], requirements="# only the kernel\n")
    ex = run(sub, env="auto", sandbox=mode, offline=True, cache=Path(venv.path).parent.parent)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    assert recorded(ex) == {"prefix": venv.path, "has_papermill": False}
    assert ex.environment["env_kind"] == "venv"
    assert ex.environment["requirements_hash"] and "ipykernel" in ex.environment["packages"]


def test_uninstallable_requirement_fails_with_the_file_named(tmp_path: Path, venv: KernelEnv) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("codeml-repro-no-such-package-xyz==0.0.1\n")
    with pytest.raises(EnvironmentFailed, match=r"requirements\.txt: uv pip compile failed"):
        venv_for(req, offline=True, root=tmp_path / "cache")


def _fake_venv(root: Path, marker: Path) -> Path:
    """A venv-shaped dir whose interpreter and .pth file would leave ``marker`` if run."""
    site = root / "lib" / "python3.11" / "site-packages"
    (site / "demo_pkg-1.2.3.dist-info").mkdir(parents=True)
    (site / "demo_pkg-1.2.3.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.2.3\nSummary: x\n\nName: not-a-header\n"
    )
    (site / "broken-0.1.dist-info").mkdir()
    (site / "broken-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n")
    (site / "evil.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n")
    (root / "bin").mkdir()
    python = root / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    python.chmod(0o755)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\nimplementation = CPython\nversion_info = 3.11.7\n")
    return root


def test_venv_versions_are_read_from_metadata_without_running_anything(tmp_path: Path) -> None:
    from codeml_repro.run.env.environment import read_venv_info

    marker = tmp_path / "executed"
    info = read_venv_info(_fake_venv(tmp_path / "venv", marker))
    assert info == {"python": "3.11.7", "implementation": "CPython", "packages": {"demo_pkg": "1.2.3"}}
    assert not marker.exists()


def test_uv_gets_no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    from codeml_repro.run.env import environment

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws_secret")
    monkeypatch.setenv("UV_INDEX_PASSWORD", "pw")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    seen: list[dict[str, str]] = []

    def fake_run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        env = kw.get("env")
        assert isinstance(env, dict), "uv must get an explicit (scrubbed) environment"
        seen.append(env)
        return subprocess.CompletedProcess(argv, 1, "", "error: No solution found\n  cause: no numpy==0\n")

    monkeypatch.setattr(environment.subprocess, "run", fake_run)
    req = tmp_path / "paper" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("numpy==0\n")
    with pytest.raises(EnvironmentFailed) as caught:
        venv_for(req, root=tmp_path / "cache")
    expected = "paper/requirements.txt: uv venv failed: error: No solution found cause: no numpy==0"
    assert caught.value.message == expected
    [env] = seen
    assert "GITHUB_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env and "UV_INDEX_PASSWORD" not in env
    assert env["UV_CACHE_DIR"] == str(tmp_path / "uv-cache") and env["HTTPS_PROXY"] == "http://proxy:3128"
    assert env["PATH"] and "ghp_secret" not in env.values()


def test_uv_error_is_one_line_from_the_last_error() -> None:
    from codeml_repro.run.env.uvtool import uv_error

    old_style = "  × No solution found when resolving dependencies:\n  ╰─▶ Because foo was not found.\n"
    expected = "No solution found when resolving dependencies: Because foo was not found."
    assert uv_error(old_style, 1) == expected
    assert uv_error("", 2) == "exit code 2"

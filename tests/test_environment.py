"""Per-submission environments: the toolkit's own, or a cached uv venv with ipykernel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codeml_repro.environment import KernelEnv, prepare_environment, requirements_hash, venv_for
from codeml_repro.errors import EnvironmentFailed
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
    env = prepare_environment(sub, "current")
    assert env.kind == "current" and env.python == sys.executable
    assert "ipykernel" in env.packages and env.describe()["python"]


def test_missing_requirements_file_is_a_clear_error(tmp_path: Path) -> None:
    sub = make_submission(tmp_path / "req", "passing", requirements="x\n")
    (sub.folder / "requirements.txt").unlink()
    with pytest.raises(EnvironmentFailed, match=r"requirements\.txt: requirements file not found"):
        prepare_environment(sub, "auto")


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


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_record_works_in_a_venv_without_the_toolkit(
    tmp_path: Path, venv: KernelEnv, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    assert venv.path is not None
    monkeypatch.setenv("CODEML_CACHE", str(Path(venv.path).parent.parent))
    monkeypatch.setenv("CODEML_OFFLINE", "1")
    sub = make_submission(tmp_path / "v", [PROBE], requirements="# only the kernel\n")
    ex = run(sub, env="auto", sandbox=mode)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    assert recorded(ex) == {"prefix": venv.path, "has_papermill": False}
    assert ex.environment["env_kind"] == "venv"
    assert ex.environment["requirements_hash"] and "ipykernel" in ex.environment["packages"]


def test_uninstallable_requirement_fails_with_the_file_named(tmp_path: Path, venv: KernelEnv) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("codeml-repro-no-such-package-xyz==0.0.1\n")
    with pytest.raises(EnvironmentFailed, match=r"requirements\.txt: uv pip install failed"):
        venv_for(req, offline=True, root=tmp_path / "cache")

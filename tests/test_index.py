"""The maintainer's package sources (CODEML_INDEX_URL, CODEML_FIND_LINKS) reach every uv build."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.policy import IndexSettings, RunPolicy
from codeml_repro.run.env.environment import KernelEnv, requirements_hash, venv_for
from codeml_repro.run.env.uvtool import uv_index_args
from tests.wheels import TINY, build_versions


def test_settings_come_from_the_environment_and_options_override_them() -> None:
    env = {"CODEML_INDEX_URL": "https://pypi.example/simple", "CODEML_FIND_LINKS": " "}
    settings = IndexSettings.from_environ(env)
    assert settings == IndexSettings(index_url="https://pypi.example/simple")
    both = settings.with_options(None, "/wheels")
    assert uv_index_args(both) == ["--index-url", "https://pypi.example/simple", "--find-links", "/wheels"]
    assert uv_index_args(IndexSettings()) == [] and IndexSettings().is_default


def test_the_cli_reads_the_environment_into_the_policy_and_the_index_is_not_in_the_skip_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codeml_repro.cli.options import environment_policy

    policy = RunPolicy()
    monkeypatch.setenv("CODEML_FIND_LINKS", "/srv/wheels")
    assert policy.package_sources().is_default  # the library never reads the environment
    assert environment_policy().package_sources().find_links == "/srv/wheels"  # the CLI does
    monkeypatch.delenv("CODEML_FIND_LINKS")
    assert environment_policy().package_sources().is_default
    chosen = RunPolicy(index=IndexSettings(index_url="https://pypi.example/simple"))
    assert chosen.package_sources().index_url == "https://pypi.example/simple"
    assert chosen.budget_key() == policy.budget_key()


def test_environment_hash_changes_with_the_index_only_when_one_is_set() -> None:
    plain = requirements_hash("numpy\n", "3.11.7")
    assert requirements_hash("numpy\n", "3.11.7", IndexSettings()) == plain
    assert requirements_hash("numpy\n", "3.11.7", IndexSettings(find_links="/w")) != plain


def test_run_and_check_take_index_options() -> None:
    from codeml_repro.cli import cli

    for command in ("run", "check"):
        out = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--index-url" in out and "--find-links" in out and "CODEML_FIND_LINKS" in out


def _kernel_only_env(root: Path) -> None:
    """Skip unless uv's cache can build a kernel environment offline."""
    root.mkdir(parents=True, exist_ok=True)
    req = root / "kernel.txt"
    req.write_text("# only the kernel\n")
    try:
        venv_for(req, offline=True, root=root)
    except EnvironmentFailed as exc:
        pytest.skip(f"no ipykernel wheels in uv's cache for an offline build: {exc}")


def test_a_package_only_in_the_find_links_folder_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kernel_only_env(tmp_path / "cache")
    wheels = build_versions(tmp_path / "wheels", {"1.0": "VALUE = 1\n", "2.0": "VALUE = 2\n"})
    req = tmp_path / "requirements.txt"
    req.write_text(f"{TINY}==1.0\n")
    with pytest.raises(EnvironmentFailed, match=TINY):  # unknown without the folder
        venv_for(req, offline=True, root=tmp_path / "cache", index=IndexSettings())
    monkeypatch.setenv("CODEML_FIND_LINKS", str(wheels))  # the variable alone is enough
    from codeml_repro.cli.options import environment_policy

    index = environment_policy().package_sources()  # read by the CLI, handed down in the policy
    env: KernelEnv = venv_for(req, offline=True, root=tmp_path / "cache", index=index)
    assert env.packages[TINY] == "1.0" and "ipykernel" in env.packages

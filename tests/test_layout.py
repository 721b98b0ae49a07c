"""The package's shape: layers that hold, a cheap CLI, and a module map that matches the tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "codeml_repro"


def _modules() -> list[str]:
    """Every module and subpackage of codeml_repro, as a path relative to the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if "__pycache__" in rel.parts:
            continue
        out.append(str(rel.parent) + "/" if rel.name == "__init__.py" else str(rel))
    return [m for m in out if m != "./"]


def test_help_imports_neither_pydantic_nor_yaml() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['codeml-repro', 'run', '--help']\n"
        "import codeml_repro.cli as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'yaml', 'papermill'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "--cell-timeout" in done.stdout  # the help really was printed, with the defaults
    assert "HEAVY []" in done.stderr


def test_help_shows_the_policy_defaults() -> None:
    from codeml_repro.model.policy import RunPolicy

    argv = [sys.executable, "-m", "codeml_repro.cli", "run", "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    defaults = RunPolicy()
    assert f"default: {defaults.timeout_s:g}" in text
    assert f"default: {defaults.cell_timeout_s:g}" in text or f"default: {defaults.cell_timeout_s}" in text


@pytest.mark.slow
def test_import_contract_fails_on_an_upward_import(tmp_path: Path) -> None:
    """The layers contract is a check, not a hope: model importing run breaks it."""
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed")
    copy = tmp_path / "project"
    shutil.copytree(PACKAGE, copy / "codeml_repro", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy)}
    clean = subprocess.run([lint, "--no-cache"], cwd=copy, capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stdout[-2000:]
    result_py = copy / "codeml_repro" / "model" / "result.py"
    upward = "\nfrom codeml_repro.run.batch import runall  # noqa: E402\n"
    result_py.write_text(result_py.read_text() + upward)
    broken = subprocess.run([lint, "--no-cache"], cwd=copy, capture_output=True, text=True, env=env)
    assert broken.returncode != 0
    assert "codeml_repro.model.result -> codeml_repro.run.batch.runall" in broken.stdout


def test_contributing_lists_every_module_of_the_tree() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    tree = text.split("```text", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"([\w/]+(?:\.py|/))", tree))
    names = {line.strip().split()[0] for line in tree.splitlines() if line.strip()}
    missing = [m for m in _modules() if Path(m).name + ("/" if m.endswith("/") else "") not in names]
    assert not missing, f"CONTRIBUTING.md's package tree does not list: {missing}"
    assert listed  # the tree block exists and names files

"""The CLI as a new user runs it: from the project folder, with the default (relative) root and an
empty ``CODEML_CACHE``, for a submission with ``requirements.txt``, a local wheel and a declared file.

A warm cache once hid that uv was handed a path relative to the project from inside the
submission's folder: every submission with a ``requirements.txt`` failed on a fresh machine.
Nothing here may reuse an environment another test built, so the cache is this test's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.wheels import build_wheel

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

NOTEBOOK = [
    "import codeml_tiny_fixture as tiny",
    "value = tiny.VALUE + len(open('data/points.csv').read().splitlines())",
    "from codeml_repro import record\nrecord('value', value)",
]


def _project(root: Path) -> None:
    folder = root / "submissions" / "paper"
    (folder / "data").mkdir(parents=True)
    data = b"x\n1\n2\n"
    (folder / "data" / "points.csv").write_bytes(data)
    wheel = build_wheel(folder / "wheels", "1.0", "VALUE = 40\n")
    (folder / "requirements.txt").write_text(f"./wheels/{wheel.name}\n")
    spec = {
        "title": "A paper with its own environment",
        "authors": [{"name": "A. Author"}],
        "artifact": {
            "requirements": "requirements.txt",
            "data": [{"path": "data/points.csv", "sha256": hashlib.sha256(data).hexdigest()}],
        },
        "claims": [{"name": "value", "expected": 43}],
    }
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in NOTEBOOK])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "artifact.ipynb")


def _cli(root: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEML_CACHE": str(cache), "CODEML_OFFLINE": "1"}
    env.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "codeml_repro.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_check_and_run_work_cold_from_the_project_folder(tmp_path: Path) -> None:
    root = tmp_path / "project"
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    _project(root)

    checked = _cli(root, cache, "check", "submissions/paper")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "File not found" not in checked.stdout + checked.stderr

    ran = _cli(root, cache, "run", "--sandbox", "off")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads((root / "results" / "paper.json").read_text())
    assert result["status"] == "reproduced", result.get("error")
    assert any(env.is_dir() for env in (cache / "envs").iterdir()), "the environment was built cold"

    status = _cli(root, cache, "status", "--json")
    for text in (checked.stdout, checked.stderr, ran.stdout, ran.stderr, status.stdout,
                 (root / "results" / "paper.json").read_text()):
        assert str(tmp_path) not in text, text


def test_a_uv_failure_names_no_host_path_with_an_absolute_root(tmp_path: Path) -> None:
    root = tmp_path / "project"
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    _project(root)
    folder = root / "submissions" / "paper"
    (folder / "pkg").mkdir()  # a named local folder: uv quotes it by its file:// URL
    (folder / "requirements.txt").write_text("pkg @ ./pkg\n")

    ran = _cli(root, cache, "run", "--root", str(root), "--sandbox", "off")
    result = json.loads((root / "results" / "paper.json").read_text())
    assert result["status"] == "failed" and result["error"]["type"] == "EnvironmentFailed", result
    message = result["error"]["message"]
    assert "pkg @ paper/pkg" in message, message
    for text in (message, ran.stdout, ran.stderr):
        assert str(tmp_path) not in text and "file:///" not in text, text

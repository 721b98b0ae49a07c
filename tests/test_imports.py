"""Advice that is right: imports, version mismatches, freeze, NameErrors after an allowed error."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
import numpy
import yaml
from click.testing import CliRunner
from nbformat.v4 import new_notebook

from codeml_repro.authoring.check import build_report
from codeml_repro.authoring.imports import imported_modules, missing_modules, version_mismatch_hint
from codeml_repro.cli import cli
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import load_submission
from codeml_repro.run.batch.repeats import run_submission
from tests.conftest import tagged_cell as _cell

POLICY = RunPolicy(sandbox="off", env="current", cell_timeout_s=10, timeout_s=30)




def _submission(root: Path, *cells: Any) -> Path:
    folder = root / "submissions" / "paper"
    folder.mkdir(parents=True)
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "artifact.ipynb")
    spec = {"title": "Paper", "authors": [{"name": "A. Author"}]}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


def _check(folder: Path) -> str:
    sub = load_submission(folder)
    result = run_submission(sub, POLICY, folder.parent.parent, save=False)
    return build_report(result, sub, POLICY, 30).text


def test_static_scan_finds_top_level_imports_only(tmp_path: Path) -> None:
    folder = _submission(
        tmp_path,
        _cell("%matplotlib inline\nimport numpy as np, os\nfrom sklearn.linear_model import Ridge"),
        _cell("!pip install nothing\nimport yaml.composer\nfrom . import sibling\nimport json"),
        _cell("%%bash\nimport notpython"),
        _cell("def f(:\n  broken"),
        _cell("import numpy\nfrom codeml_repro import record"),
    )
    assert imported_modules(folder / "artifact.ipynb") == ["numpy", "sklearn", "yaml"]
    lacking = missing_modules(["numpy", "sklearn", "yaml", "cv2"], {"NumPy": "2.1", "scikit_learn": "1.5"})
    assert lacking == [("yaml", "PyYAML"), ("cv2", "opencv-python")]


def test_cannot_import_name_is_a_version_mismatch(tmp_path: Path) -> None:
    """``ImportError: cannot import name`` means another version of the providing package:
    the advice names the version the run had and suggests pinning, never adding the name."""
    folder = _submission(tmp_path, _cell("x = 1"), _cell("from numpy import no_such_function"))
    text = _check(folder)
    assert "cell 1 (the 2nd cell of artifact.ipynb" in text and "raised ImportError" in text
    assert (
        f"a version mismatch, not a missing package: the run had numpy {numpy.__version__}, whose "
        "`numpy` has no `no_such_function`; pin the version you used in requirements.txt" in text
    )
    assert "add `no_such_function`" not in text
    assert sys.prefix not in text and "($PYTHON/lib/" in text  # no host path
    assert version_mismatch_hint("No module named 'x'", {}) is None


def test_every_missing_import_is_listed_in_one_pass(tmp_path: Path) -> None:
    folder = _submission(
        tmp_path,
        _cell("import numpy\nimport codeml_missing_alpha"),
        _cell("from codeml_missing_beta.sub import thing"),
    )
    text = _check(folder)
    assert "raised ModuleNotFoundError: No module named 'codeml_missing_alpha'" in text
    assert (
        "the notebook imports 2 modules its environment lacks: `codeml_missing_alpha`, "
        "`codeml_missing_beta`; `codeml-repro freeze submissions/paper` writes a requirements.txt"
    ) in text


def test_name_error_after_an_allowed_error_says_why(tmp_path: Path) -> None:
    """A tagged cell that raises midway leaves its later lines unrun: that, not the order of
    execution, is why a name is missing."""
    folder = _submission(
        tmp_path,
        _cell("import math\nmath.sqrt(-1)\nresult = 3", "raises-exception"),
        _cell("print(result)"),
    )
    text = _check(folder)
    assert "raised NameError: name 'result' is not defined" in text
    assert "cell 0 may raise (raises-exception) and did (ValueError): the lines after its error" in text
    assert "Restart & Run All" not in text


def test_freeze_pins_the_imports_installed_here(tmp_path: Path) -> None:
    folder = _submission(tmp_path, _cell("import numpy as np\nimport yaml\nimport codeml_missing_gamma"))
    runner = CliRunner()
    out = runner.invoke(cli, ["freeze", str(folder)])
    assert out.exit_code == 0, out.output
    lines = (folder / "requirements.txt").read_text().splitlines()
    pins = [ln for ln in lines if not ln.startswith("#")]
    assert pins == [f"numpy=={numpy.__version__}", f"PyYAML=={metadata.version('PyYAML')}"]
    assert "# not installed here, add it pinned: codeml_missing_gamma (codeml_missing_gamma)" in lines
    assert "not installed here, add it yourself (pinned): codeml_missing_gamma" in out.output
    again = runner.invoke(cli, ["freeze", str(folder)])
    assert again.exit_code == 2 and "requirements.txt: already exists; pass --force" in again.output
    assert runner.invoke(cli, ["freeze", str(folder), "--force"]).exit_code == 0

"""``codeml-repro kernel install``: papermill -k runs a notebook under the CI sandbox, then uninstall.

Real commands in subprocesses (codeml-repro, papermill, jupyter), a real bwrap sandbox, a declared
input fetched from a server on 127.0.0.1 started here; Jupyter's data folder is the test's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.dataserver import DataServer

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
BIN = Path(sys.executable).parent
CSV = b"x,y\n1,2\n"
PROBE = """\
import os, socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    net = "open"
except OSError:
    net = "refused"
try:
    with open("data/train.csv", "a") as f:
        f.write("3,4\\n")
    data = "writable"
except OSError:
    data = "read-only"
print(json.dumps({"net": net, "data": data, "rows": open("data/train.csv").read(),
                  "run": os.environ.get("CODEML_RUN_ID") is not None, "home": os.environ["HOME"]}))
"""


@pytest.fixture
def server() -> Iterator[DataServer]:
    srv = DataServer({"train.csv": CSV})
    yield srv
    srv.stop()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "CODEML"))}
    env.update({"JUPYTER_DATA_DIR": str(tmp_path / "jupyter"), "CODEML_CACHE": str(tmp_path / "cache"),
                "CODEML_ALLOW_PRIVATE_URLS": "1", "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
    return env


def _submission(root: Path, server: DataServer) -> Path:
    folder = root / "submissions" / "demo"
    folder.mkdir(parents=True)
    nb = new_notebook(cells=[new_code_cell("print('hello')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "artifact.ipynb")
    data = [{"url": server.url("/file/train.csv"), "sha256": hashlib.sha256(CSV).hexdigest(),
             "path": "data/train.csv"}]
    artifact = {"notebook": "artifact.ipynb", "data": data}
    spec = {"title": "Demo", "authors": [{"name": "A"}], "artifact": artifact}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_papermill_k_runs_a_notebook_in_the_installed_sandbox(tmp_path: Path, server: DataServer) -> None:
    env, root = _env(tmp_path), tmp_path / "project"
    folder = _submission(root, server)
    done = _run([str(BIN / "codeml-repro"), "kernel", "install", "--user", "--root", str(root),
                 "--env", "current", "demo"], env, root)
    assert done.returncode == 0, done.stderr
    assert "codeml-demo" in done.stdout
    spec = json.loads((tmp_path / "jupyter" / "kernels" / "codeml-demo" / "kernel.json").read_text())
    assert spec["display_name"] == "codeml-repro sandbox: demo"
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == "codeml-sandbox"

    probe = tmp_path / "probe.ipynb"  # the author's own notebook, anywhere: it runs in the submission's copy
    nb = new_notebook(cells=[new_code_cell("import json"), new_code_cell(PROBE)])
    nbformat.write(nb, probe)
    out = tmp_path / "out.ipynb"
    ran = _run([str(BIN / "papermill"), "-k", "codeml-demo", str(probe), str(out)], env, tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    text = nbformat.read(out, as_version=4).cells[1].outputs[0]["text"]
    seen = json.loads(text)
    assert seen["net"] == "refused"  # no network in the sandbox
    assert seen["data"] == "read-only" and seen["rows"] == CSV.decode()  # the declared input, unchanged
    assert seen["run"] and seen["home"] == "/tmp/home"  # a run's kernel, with the sandbox's home
    assert not (folder / "data").exists()  # the author's folder is untouched: the run had a copy
    url = server.url("/file/train.csv")
    assert not [p for p in Path("/tmp").glob("codeml-run-*") if url in _spec_of(p)]  # the run was discarded

    gone = _run([str(BIN / "codeml-repro"), "kernel", "uninstall", "demo"], env, root)
    assert gone.returncode == 0, gone.stderr
    listed = _run([str(BIN / "jupyter"), "kernelspec", "list"], env, root)
    assert "codeml-demo" not in listed.stdout
    again = _run([str(BIN / "codeml-repro"), "kernel", "uninstall", "demo"], env, root)
    assert again.returncode != 0 and "no kernel codeml-demo is installed" in again.stderr


def _spec_of(run_dir: Path) -> str:
    try:
        return (run_dir / "work" / "submission.yml").read_text()
    except OSError:
        return ""


def test_install_refuses_a_missing_submission(tmp_path: Path) -> None:
    env = _env(tmp_path)
    argv = [str(BIN / "codeml-repro"), "kernel", "install", "--root", str(tmp_path), "nope"]
    done = _run(argv, env, tmp_path)
    assert done.returncode != 0
    assert "nope" in done.stderr and "no such submission folder" in done.stderr

"""The package as PyPI would ship it: built, checked by twine, installed from the wheel.

The wheel (not an editable install) must carry every file the toolkit reads at
run time, and ``pip install codeml-repro`` without the ``[site]`` extra must be
enough for an author's ``new``, ``validate``, ``check`` and ``run``: no
Sphinx, no Jupyter Book in that environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_DIST: dict[str, Path] = {}

# Files outside Python modules that the toolkit opens at run time.
PACKAGE_DATA = [
    "codeml_repro/py.typed",
    "codeml_repro/run/env/base-requirements.txt",
    "codeml_repro/sphinx/static/codeml-listing.css",
    "codeml_repro/sphinx/static/codeml-listing.js",
    "codeml_repro/sphinx/static/codeml-site.css",
    "codeml_repro/sphinx/static/codeml-cite.js",
    "codeml_repro/sphinx/static/codeml-a11y.js",
    "codeml_repro/sphinx/static/favicon.svg",
    "codeml_repro/organizers/site_template/_config.yml",
    "codeml_repro/organizers/site_template/README.md",
    "codeml_repro/organizers/site_template/book/authors.md",
    "codeml_repro/organizers/site_template/book/_data/workshop.yml",
    "codeml_repro/organizers/site_template/workflows/full-run.yml",
]


def build_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` once per session (no isolation: offline, with the tests' setuptools)."""
    if "dir" not in _DIST:
        out = tmp_path_factory.mktemp("dist")
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        _DIST["dir"] = out
    return _DIST["dir"]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dist(tmp_path_factory)


def wheel_of(dist: Path) -> Path:
    wheels = sorted(dist.glob("codeml_repro-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def user_env(bindir: Path) -> dict[str, str]:
    """The environment of a user of the fresh venv: its ``bin`` first, no venv of ours, no CI, and
    Python writing its bytecode on first import as it does by default (this machine's
    PYTHONDONTWRITEBYTECODE made every process of the fresh venv compile Sphinx again: 5.6 s a
    book build instead of 2.6 s)."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "CI", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return env


def fresh_venv(where: Path, wheel: Path, extra: str = "") -> Path:
    """A new virtual environment with the built wheel (and ``extra``) installed; returns its bin/.

    uv installs it: it reads the same wheel metadata as ``pip install`` and takes a minute where pip
    took three with every download cached (pip itself installs the toolkit in ``.ci/run``, in a
    fresh ``python3 -m venv``).
    """
    from codeml_repro.run.env.uvtool import find_uv

    uv = find_uv()
    made = subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(where)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr[-3000:]
    bindir = where / "bin"
    proc = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(bindir / "python"), f"{wheel}{extra}"],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return bindir


def test_build_and_twine_check_pass(dist: Path) -> None:
    assert sorted(p.suffix for p in dist.iterdir()) == [".gz", ".whl"]
    exe = shutil.which("twine")
    assert exe, "twine is not installed: pip install '.[test]'"
    proc = subprocess.run([exe, "check", "--strict", *map(str, dist.iterdir())],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2


def test_wheel_carries_its_data_and_metadata(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        names = set(wheel.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = wheel.read(meta_name).decode()
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, missing
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Name: codeml-repro" in meta
    assert "License-Expression: BSD-3-Clause" in meta
    assert "Project-URL: Source" in meta and "Classifier: Framework :: Sphinx :: Extension" in meta
    assert "Provides-Extra: site" in meta
    # Jupyter Book comes with the extra only.
    assert "Requires-Dist: jupyter-book" in meta and "extra == \"site\"" in meta
    requires = [line.lower() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    base = [line for line in requires if "extra ==" not in line]
    assert not [line for line in base if any(name in line for name in ("jupyter-book", "pybtex", "sphinx"))]
    assert "BSD 3-Clause" in (REPO / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.slow
def test_light_install_runs_an_authors_commands_without_sphinx(dist: Path, tmp_path: Path) -> None:
    """``pip install codeml-repro`` (no extra) in a fresh venv: new, validate, check and run work."""
    bindir = fresh_venv(tmp_path / "venv", wheel_of(dist))
    for module in ("sphinx", "jupyter_book", "myst_nb", "pybtex"):
        proc = subprocess.run([str(bindir / "python"), "-c", f"import {module}"],
                              capture_output=True, text=True, check=False)
        assert proc.returncode != 0, f"{module} is installed without the [site] extra"
    site = tmp_path / "site"
    site.mkdir()
    env = user_env(bindir)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bindir / "codeml-repro"), *args], cwd=site, env=env,
                              capture_output=True, text=True, timeout=600, check=False)

    assert cli("new", "demo").returncode == 0
    assert cli("validate").returncode == 0
    checked = cli("check", "demo", "--env", "current")
    assert "demo: reproduced" in checked.stdout, checked.stdout + checked.stderr
    ran = cli("run", "--env", "current")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert (site / "results" / "demo.json").is_file()


@pytest.mark.slow
def test_another_workshop_adopts_it_from_the_wheel(dist: Path, tmp_path: Path) -> None:
    """The issue's done-when: ``pip install <wheel>[site]`` in a fresh venv, ``init``, ``new demo`` and
    ``run demo`` record a result that a ``-W`` build with no "CODEML" in it lists."""
    from tests.test_init import codeml_mentions

    bindir = fresh_venv(tmp_path / "venv", wheel_of(dist), "[site]")
    env = user_env(bindir)

    def sh(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc

    sh("codeml-repro", "init", "reproml", "--name", "Workshop on Reproducible ML", "--short-name", "ReproML",
       "--year", "2027", cwd=tmp_path)
    site = tmp_path / "reproml"
    sh("codeml-repro", "new", "demo", cwd=site)
    sh("codeml-repro", "run", "demo", cwd=site)
    assert json.loads((site / "results" / "demo.json").read_text())["status"] == "reproduced"
    # One build (test_init builds the site as init writes it, from the checkout): what the wheel carries.
    sh("jupyter-book", "build", ".", "-W", cwd=site)
    html = site / "_build" / "html"
    assert (html / "_static" / "codeml-listing.css").is_file() and (html / "reproml.ics").is_file()
    listing = (html / "book" / "posters.html").read_text(encoding="utf-8")
    assert 'href="posters/demo.html"' in listing
    assert (html / "book" / "posters" / "demo.html").is_file()
    assert codeml_mentions(html) == []

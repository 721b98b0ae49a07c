"""The sandbox against a hostile notebook: privileges and clean-up; each case beside a neighbour."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.run.batch import run_all
from codeml_repro.run.kernel.sandbox import find_bwrap, probe_bwrap
from codeml_repro.run.kernel.scratch import unlock_and_retry
from codeml_repro.run.plan import RunOptions

from .conftest import MakeSubmission

pytestmark = pytest.mark.sandbox
SANDBOXED = RunPolicy(sandbox="required", env="current", timeout_s=60, cell_timeout_s=30)
CLAIM = {"claims": [{"name": "acc", "expected": 1}]}
NEIGHBOUR = "from codeml_repro import record\nrecord('acc', 1)"


def _bwrap_works() -> bool:
    path = find_bwrap()
    return path is not None and probe_bwrap(path)[0]


needs_bwrap = pytest.mark.skipif(not _bwrap_works(), reason="bwrap missing or unusable")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the runner is not root here")


@pytest.fixture
def root_only_file() -> Iterator[Path]:
    """A 0600 root file in /var/tmp, as a root runner's host has them."""
    path = Path("/var/tmp") / f"codeml-secret-{os.getpid()}"
    path.write_text("secret")
    path.chmod(0o600)
    yield path
    path.unlink()


READ = """
import os
from codeml_repro import record
record('uid', os.getuid())
record('euid', os.geteuid())
for path in ['/etc/shadow', {secret!r}]:
    try:
        open(path).read()
        record('leaked', path)
    except PermissionError:
        pass
"""


@needs_bwrap
@as_root
def test_a_root_runners_kernel_is_not_root_on_the_host(
    make_submission: MakeSubmission, tmp_path: Path, root_only_file: Path
) -> None:
    claims = {"claims": [{"name": "uid", "expected": 65534}, {"name": "euid", "expected": 65534}]}
    make_submission("a-reader", READ.format(secret=str(root_only_file)), spec=claims)
    make_submission("b-neighbour", NEIGHBOUR + "\nopen('out.txt', 'w').write('x')", spec=CLAIM)
    results = {r.slug: r for r in run_all(tmp_path, SANDBOXED, RunOptions()).results}
    assert results["b-neighbour"].status is Status.REPRODUCED, results["b-neighbour"].error
    reader = results["a-reader"]
    assert reader.status is Status.REPRODUCED, (reader.error, reader.claims)  # uid and euid are nobody
    assert all(c.name != "leaked" for c in reader.claims)
    from codeml_repro.results.store import ResultStore

    notebook = ResultStore(tmp_path).notebook_path("a-reader").read_text()
    assert "leaked" not in notebook.replace("record('leaked', path)", "")


def test_clean_up_never_chmods_through_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "host-file"
    target.write_text("host")
    target.chmod(0o644)
    folder = tmp_path / "run" / "work"
    folder.mkdir(parents=True)
    link = folder / "link"
    link.symlink_to(target)
    os.symlink(tmp_path, folder / "dirlink")
    before = stat.S_IMODE(tmp_path.stat().st_mode)
    for planted in (link, folder / "dirlink"):
        unlock_and_retry(os.unlink, str(planted), None)
    assert not link.exists() and not (folder / "dirlink").is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_text() == "host"
    assert stat.S_IMODE(tmp_path.stat().st_mode) == before

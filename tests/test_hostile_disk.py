"""The run folder's disk budget: total bytes and files, a tmpfs inside the sandbox; each case
beside a neighbour in the same batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result, Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.sandbox import scratchfs_inside

from .conftest import MakeSubmission

pytestmark = pytest.mark.sandbox
MIB = 2**20
# small budgets keep the test fast; the defaults (1 GiB, 50,000 files) are checked below
SMALL = RunPolicy(
    sandbox="required", env="current", timeout_s=120, cell_timeout_s=60,
    scratch_bytes=250 * MIB, scratch_files=2000,
)
CLAIM = {"claims": [{"name": "acc", "expected": 1}]}
NEIGHBOUR = "from codeml_repro import record\nrecord('acc', 1)"
SHIPPED = "shipped.bin"  # a file of the submission itself: it never counts against the budget


needs_scratch = pytest.mark.host("scratch")

BIG_FILES = """
chunk = b'x' * 10_000_000
assert len(open('shipped.bin', 'rb').read()) == 150_000_000
for n in range(12):  # 12 files of 100 MB, each under the per-file cap
    with open(f'big{n}', 'wb') as f:
        for _ in range(10):
            f.write(chunk)
"""
MANY_FILES = """
import os
os.makedirs('many/deeper')
for n in range(100_000):
    open(f'many/deeper/f{n}', 'w').close()
"""


def _run_pair(make_submission: MakeSubmission, tmp_path: Path, cell: str) -> tuple[Result, Result]:
    hog = make_submission("a-hog", cell)
    (hog / SHIPPED).write_bytes(b"s" * 150_000_000)
    writes = "\nfor n in range(2):\n    open(f'out{n}', 'w').write('x' * 90_000_000)"
    make_submission("b-neighbour", NEIGHBOUR + writes, spec=CLAIM)
    results = {r.slug: r for r in run_all(tmp_path, SMALL, RunOptions()).results}
    return results["a-hog"], results["b-neighbour"]


@needs_scratch
def test_twelve_100mb_files_stop_at_the_disk_budget(make_submission: MakeSubmission, tmp_path: Path) -> None:
    hog, neighbour = _run_pair(make_submission, tmp_path, BIG_FILES)
    assert neighbour.status is Status.REPRODUCED, neighbour.error  # its own 180 MB fit its own budget
    assert hog.status is Status.FAILED and hog.error is not None
    assert hog.error.type == "OSError"
    assert "[Errno 28] No space left on device" in hog.error.message
    assert f"disk budget ({250 * MIB} bytes and 2000 files" in hog.error.message
    assert hog.error.message.endswith("ran out of bytes")
    limits = hog.environment["limits"]
    assert (limits["scratch_bytes"], limits["scratch_files"]) == (250 * MIB, 2000)


@needs_scratch
def test_100000_empty_files_stop_at_the_inode_budget(make_submission: MakeSubmission, tmp_path: Path) -> None:
    hog, neighbour = _run_pair(make_submission, tmp_path, MANY_FILES)
    assert neighbour.status is Status.REPRODUCED, neighbour.error
    assert hog.status is Status.FAILED and hog.error is not None
    assert "[Errno 28] No space left on device" in hog.error.message
    assert hog.error.message.endswith("ran out of files (inodes)"), hog.error.message


INSPECT = """
import errno, os
from codeml_repro import record
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())
caps = {status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapAmb', 'CapBnd')}
assert caps == {'0000000000000000'}, caps  # the setup's capabilities are gone
assert os.getuid() == 65534, os.getuid()
assert open('sub/kept.txt').read() == 'kept'
try:
    open('data/input.csv', 'w').write('changed')
    raise AssertionError('the input is writable')
except OSError as exc:
    assert exc.errno in (errno.EROFS, errno.EACCES), exc
assert open('data/input.csv').read() == 'a,b\\n1,2\\n'
left = os.statvfs('.').f_favail
assert 2000 <= left < 2010, left  # the budget, and what the copy's survey left over
os.symlink('/etc/passwd', 'link')  # links are the notebook's own business
record('acc', 1)
"""


@needs_scratch
def test_the_folder_keeps_the_submission_its_inputs_and_no_capability(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    from tests.test_inputs import Server, sha

    served = tmp_path / "served"
    served.mkdir()
    (served / "input.csv").write_bytes(b"a,b\n1,2\n")
    server = Server(served)
    data = [{"url": server.url("input.csv"), "sha256": sha(b"a,b\n1,2\n"), "path": "data/input.csv"}]
    folder = make_submission("a-inspect", INSPECT, spec={"artifact": {"data": data}, **CLAIM})
    (folder / "sub").mkdir()
    (folder / "sub" / "kept.txt").write_text("kept")
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    try:
        local = SMALL.model_copy(update={"allow_private_urls": True,  # the server is on 127.0.0.1
                                         "cache": tmp_path / "cache"})
        results = {r.slug: r for r in run_all(tmp_path, local, RunOptions()).results}
    finally:
        server.stop()
    assert results["b-neighbour"].status is Status.REPRODUCED
    inspect = results["a-inspect"]
    assert inspect.status is Status.REPRODUCED, inspect.error


def test_the_setup_copies_a_tree_without_following_links(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub" / "input").mkdir(parents=True)
    (src / "sub" / "input" / "hidden").write_text("under a mount point: not copied")
    (src / "sub" / "a.txt").write_text("a")
    (src / "sub" / "a.txt").chmod(0o640)
    (src / "to-etc").symlink_to("/etc")
    (src / "data.csv").write_text("placeholder")
    dst.mkdir()
    mounts = {"sub/input", "data.csv"}
    s, d = os.open(src, os.O_RDONLY), os.open(dst, os.O_RDONLY)
    try:
        size, inodes = scratchfs_inside.survey(s, mounts)
        scratchfs_inside.copy_tree(s, d, mounts, -1)
    finally:
        os.close(s)
        os.close(d)
    assert (size, inodes) == (2 * 4096, 6)  # a.txt and the link's page; root, 4 entries, a.txt
    assert (dst / "sub" / "a.txt").read_text() == "a"
    assert (dst / "sub" / "a.txt").stat().st_mode & 0o777 == 0o640
    assert os.readlink(dst / "to-etc") == "/etc"
    assert list((dst / "sub" / "input").iterdir()) == []  # a placeholder, bound over inside the sandbox
    assert (dst / "data.csv").read_text() == ""


@needs_scratch
def test_a_setup_that_fails_is_the_tools_failure(
    make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeml_repro.model.errors import RunnerFailed
    from codeml_repro.model.submission import load_submission
    from codeml_repro.run.kernel.execute import execute
    from codeml_repro.run.sandbox import scratchfs

    broken = tmp_path / "inside.py"  # as the real step says it when the host refuses a mount
    said = f"{scratchfs_inside.FAILURE}: mount: EPERM\n"
    broken.write_text(f"import sys\nsys.stderr.write({said!r})\nsys.exit(126)\n")
    monkeypatch.setattr(scratchfs, "INSIDE_SOURCE", broken)  # after the probe, which passed
    folder = make_submission("a-sub", NEIGHBOUR)
    sandbox = r"bwrap could not start the kernel's sandbox \(codeml-repro: the run folder's disk budget"
    with pytest.raises(RunnerFailed, match=sandbox + " could not be set up: mount: EPERM"):
        execute(load_submission(folder), SMALL, timeout_s=60)

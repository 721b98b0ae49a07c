"""The sandbox against a hostile notebook: privileges and clean-up; each case beside a neighbour."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.sandbox.bwrap import find_bwrap
from codeml_repro.run.sandbox.rundir import unlock_and_retry

from .conftest import MakeSubmission
from .test_hostile_batch import HELPER, plant_shadows

pytestmark = pytest.mark.sandbox
SANDBOXED = RunPolicy(sandbox="required", env="current", timeout_s=60, cell_timeout_s=30)
CLAIM = {"claims": [{"name": "acc", "expected": 1}]}
NEIGHBOUR = "from codeml_repro import record\nrecord('acc', 1)"


needs_bwrap = pytest.mark.host("bwrap")
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


FLOOD = """
k = get_ipython().kernel
for _ in range(3):
    k.session.send(k.iopub_socket, 'display_data', content={'data': {'text/plain': 'x'}, 'metadata': {}},
                   parent=k.get_parent('shell'), buffers=[b'x' * (64 * 2**20)])
"""


@needs_bwrap
def test_a_buffer_flood_from_the_sandbox_is_refused_unread(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    make_submission("a-flood", FLOOD, NEIGHBOUR, spec=CLAIM)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = {r.slug: r for r in run_all(tmp_path, SANDBOXED, RunOptions()).results}
    assert results["b-neighbour"].status is Status.REPRODUCED, results["b-neighbour"].error
    flood = results["a-flood"]
    assert flood.status is Status.OUTPUT_LIMIT and flood.error is not None
    assert "exceeded 10000000 bytes" in flood.error.message and "refused unread" in flood.error.message


@needs_bwrap
def test_modules_beside_the_notebook_never_run_at_the_sandboxs_start_up(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # the sandbox's first steps run Python in the author's folder, some with capabilities (the disk
    # budget's mount) or before the rlimits: a planted ctypes.py or resource.py must not be imported
    marker = tmp_path / "markers"
    marker.mkdir()
    plant_shadows(make_submission("a-planted", HELPER, spec=CLAIM), marker)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = {r.slug: r for r in run_all(tmp_path, SANDBOXED, RunOptions()).results}
    assert results["b-neighbour"].status is Status.REPRODUCED
    planted = results["a-planted"]
    assert planted.status is Status.REPRODUCED, planted.error  # its own helper.py still imports
    assert sorted(p.name for p in marker.iterdir()) == []


STOP_PID_1 = """
import os, signal, time
from codeml_repro import record
for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
    try:
        os.kill(1, sig)
        record('signalled_' + sig.name, 1)
    except PermissionError:  # as root, pid 1 (bwrap) is root's and the kernel nobody's
        pass
time.sleep(0.5)
os._exit(3)
"""


@needs_bwrap
def test_a_kernel_that_stops_its_sandboxs_pid_1_is_kernel_died(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # were pid 1 stopped, the kernel's exit would never reach the runner (bwrap waits for pid 1):
    # the run would end as a timeout. A non-root runner's pid 1 ignores them (a namespace's init)
    make_submission("a-stopper", STOP_PID_1)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    policy = SANDBOXED.model_copy(update={"timeout_s": 30})
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["b-neighbour"].status is Status.REPRODUCED
    stopper = results["a-stopper"]
    assert stopper.status is Status.KERNEL_DIED, stopper.error
    assert stopper.error is not None and "exited with code 3" in stopper.error.message
    assert stopper.duration_s < 20


def _sandboxed_shell(script: str, *, as_root: bool) -> subprocess.CompletedProcess[str]:
    """``script`` in a sandbox with the namespaces and privileges a root, or a non-root, runner gives."""
    from unittest import mock

    from codeml_repro.run.sandbox import privileges

    with mock.patch.object(privileges, "privileged", return_value=as_root):
        spaces = privileges.namespace_args()
    drop = privileges.drop_argv(privileges.find_setpriv() or "setpriv")
    mounts = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    sandbox = [find_bwrap() or "bwrap", *spaces, *mounts, "--"]
    # a root runner drops privileges inside the sandbox; a non-root one is not root before bwrap
    shell = ["/bin/sh", "-c", script]
    argv = [*sandbox, *drop, *shell] if as_root else [*drop, *sandbox, *shell]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


KILL_PID_1 = "for s in STOP TERM KILL; do kill -$s 1 2>/dev/null && echo sent-$s; done; sleep 0.3; exit 3"


@needs_bwrap
@as_root
@pytest.mark.parametrize("runner", ["root", "not-root"])
def test_pid_1_of_the_sandbox_never_stops_for_its_processes(runner: str) -> None:
    # the toolkit's own namespaces for a root and for a non-root runner (the second run as nobody)
    proc = _sandboxed_shell(KILL_PID_1, as_root=runner == "root")
    if runner == "not-root" and "sent-" not in proc.stdout and proc.returncode != 3:
        pytest.skip(f"no user namespace for a non-root bwrap here: {proc.stderr.strip()}")
    assert proc.returncode == 3, proc.stderr  # the shell's own exit, passed on by bwrap: pid 1 ran on
    sent = proc.stdout.split()
    assert sent == ([] if runner == "root" else ["sent-STOP", "sent-TERM", "sent-KILL"])


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


needs_cgroups = pytest.mark.host("cgroups")
SMALL = SANDBOXED.model_copy(update={"memory_bytes": 512 * 2**20})
CHILDREN = """
import subprocess, sys
eat = "s = b'x' * 300_000_000\\nimport time\\ntime.sleep(4)"
procs = [subprocess.Popen([sys.executable, '-c', eat]) for _ in range(3)]
codes = [p.wait() for p in procs]
assert codes == [0, 0, 0], codes
"""
SHM = """
chunk = b'x' * 10_000_000
for n in range(8):  # 8 files of 90 MB (each under the file-size cap), past the 512 MiB budget
    with open(f'/dev/shm/big{n}', 'wb') as f:
        for _ in range(9):
            f.write(chunk)
"""


@needs_bwrap
@needs_cgroups
@pytest.mark.parametrize("cell", [CHILDREN, SHM], ids=["three-children", "dev-shm"])
def test_the_memory_budget_is_the_whole_runs(
    make_submission: MakeSubmission, tmp_path: Path, cell: str
) -> None:
    make_submission("a-eater", cell)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    report = run_all(tmp_path, SMALL, RunOptions())
    results = {r.slug: r for r in report.results}
    assert results["b-neighbour"].status is Status.REPRODUCED
    eater = results["a-eater"]
    assert eater.status in (Status.FAILED, Status.KERNEL_DIED) and eater.error is not None
    text = eater.error.message
    assert "memory budget (536870912 bytes" in text or "No space left on device" in text, text
    assert eater.environment["limits"]["cgroup"]["memory"] is True
    assert not Path("/dev/shm/big0").exists()


@needs_bwrap
@needs_cgroups
def test_a_declared_memory_need_is_the_runs_cgroup_budget(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # 700 MB in one process: past the policy's 512 MiB, within the 1 GB the submission declares
    eat = "block = bytearray(700_000_000)\nblock[::4096] = b'x' * len(block[::4096])\n" + NEIGHBOUR
    spec = {**CLAIM, "artifact": {"notebook": "artifact.ipynb", "resources": {"memory_gb": 1}}}
    make_submission("a-declares", eat, spec=spec)
    make_submission("b-undeclared", eat, spec=CLAIM)
    results = {r.slug: r for r in run_all(tmp_path, SMALL, RunOptions()).results}
    assert results["a-declares"].status is Status.REPRODUCED, results["a-declares"].error
    undeclared = results["b-undeclared"]
    assert undeclared.status is Status.KERNEL_DIED and undeclared.error is not None
    assert "memory budget (536870912 bytes" in undeclared.error.message


DETACHED = """
import os, subprocess
subprocess.Popen(['setsid', 'env', '-i', 'sleep', '{tag}'], start_new_session=True)
"""


@needs_cgroups
def test_sandbox_off_still_ends_every_process(make_submission: MakeSubmission, tmp_path: Path) -> None:
    import psutil

    tag = str(400 + os.getpid() % 97)
    make_submission("a-detach", DETACHED.format(tag=tag))
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    policy = SANDBOXED.model_copy(update={"sandbox": "off"})
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["b-neighbour"].status is Status.REPRODUCED
    assert results["a-detach"].status is Status.FUNCTIONAL
    mine = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", tag]]
    assert mine == []  # no marker in its environment, its own session: found by its cgroup


PLANT_LINKS = """
import os, pathlib
from codeml_repro import record
deep = pathlib.Path('deep/a/b')
deep.mkdir(parents=True)
os.symlink({file!r}, deep / 'file-link')
os.symlink({folder!r}, deep / 'dir-link')
os.symlink({folder!r}, 'top-link')
for locked in ('deep/a/b', 'deep/a', 'deep'):  # clean-up has to unlock these to remove them
    os.chmod(locked, 0o500)
record('acc', 1)
"""


def test_clean_up_after_a_run_never_follows_links_the_notebook_planted(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # --sandbox off: the notebook's files are on the host, where clean-up removes them (sandboxed,
    # they live in the run's own tmpfs); links at every depth point at a host file and folder
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep.txt").write_text("host")
    (host / "keep.txt").chmod(0o640)
    host.chmod(0o750)
    plant = PLANT_LINKS.format(file=str(host / "keep.txt"), folder=str(host))
    make_submission("a-links", plant, spec=CLAIM)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    policy = RunPolicy(sandbox="off", env="current", timeout_s=60, cell_timeout_s=30)
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions(jobs=1)).results}
    assert results["a-links"].status is Status.REPRODUCED
    assert results["b-neighbour"].status is Status.REPRODUCED
    assert (host / "keep.txt").read_text() == "host"
    assert stat.S_IMODE((host / "keep.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE(host.stat().st_mode) == 0o750
    assert sorted(p.name for p in host.iterdir()) == ["keep.txt"]

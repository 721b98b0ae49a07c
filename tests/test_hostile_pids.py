"""A fork bomb without a pids cgroup: the cap on a run's processes is the run's own.

``RLIMIT_NPROC`` counts the processes (threads too) of a host *uid*. With no pids cgroup in
force, a root runner gives each sandboxed run a uid of its own (run/sandbox/runuid.py), so one run
holding every process its cap allows leaves its neighbour's forks working. Without that (every
sandbox ``nobody``) the neighbour's ``fork()`` fails with EAGAIN, or its kernel cannot even start
its threads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.sandbox import cgroups, runuid

from .conftest import MakeSubmission
from .test_hostile_sandbox import as_root, needs_bwrap

pytestmark = pytest.mark.sandbox
CAP = 96
POLICY = RunPolicy(sandbox="required", env="current", timeout_s=60, cell_timeout_s=40, max_processes=CAP)
# Forks until the cap refuses, holds every child for a while, records how many it got.
BOMB = """
import os, time
from codeml_repro import record
children = []
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(11)
        os._exit(0)
    children.append(pid)
record('forked', len(children))
time.sleep(9)
"""
# Starts once the bomb holds its processes (its kernel starts beside this one, and forks to its cap
# within a second), then needs 10 of its own, well before the bomb lets go (9 s after it is full).
FORKS = """
import subprocess, time
from codeml_repro import record
time.sleep(4)
done = 0
for _ in range(10):
    try:
        subprocess.run(['true'], check=True)
        done += 1
    except OSError:
        pass
record('forks', done)
"""


@pytest.fixture
def no_cgroups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host gives the runner no cgroup at all (as a runner without root or delegation)."""
    monkeypatch.setattr(cgroups, "create", lambda *args, **kwargs: None)


@needs_bwrap
@as_root
@pytest.mark.usefixtures("no_cgroups")
def test_a_fork_bomb_without_a_pids_cgroup_leaves_the_neighbours_forks(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # One submission per worker, side by side: without pre-start a worker does not take the
    # next submission (its kernel would start ahead, and its cells run after the bomb's).
    make_submission("a-bomb", BOMB)
    make_submission("b-neighbour", FORKS, spec={"claims": [{"name": "forks", "expected": 10}]})
    policy = POLICY.model_copy(update={"prestart": False})  # as CODEML_PREWARM=0
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions(jobs=2)).results}
    neighbour, bomb = results["b-neighbour"], results["a-bomb"]
    assert neighbour.status is Status.REPRODUCED, (neighbour.error, neighbour.claims)
    forked = next(c.observed for c in bomb.claims if c.name == "forked") if bomb.claims else None
    assert bomb.status is Status.FUNCTIONAL, bomb.error
    for result in (neighbour, bomb):
        limits = result.environment["limits"]
        assert limits["pids_cgroup"] is False and limits["cgroup"] is None
        assert limits["processes_capped_by"] == "RLIMIT_NPROC (the run's own uid)"
        assert limits["sandbox_uid"] in runuid.RUN_UIDS
        assert not any("RLIMIT_NPROC" in w for w in result.warnings)
    assert neighbour.environment["limits"]["sandbox_uid"] != bomb.environment["limits"]["sandbox_uid"]
    assert forked is None or int(str(forked)) < CAP  # the cap held the bomb


LIMITS = """
import os, resource
from codeml_repro import record
record('nproc', resource.getrlimit(resource.RLIMIT_NPROC)[0])
print(f'kernel uid={os.getuid()}.')
"""


@needs_bwrap
def test_a_pids_cgroup_is_in_force_only_where_the_controller_is(
    make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cgroup root without the pids controller (here: the host's memory and cpu hierarchies,
    and no pids one): the record says pids is not in force and RLIMIT_NPROC caps the run."""
    if cgroups.ROOT.joinpath("cgroup.subtree_control").exists() or not (cgroups.ROOT / "memory").is_dir():
        pytest.skip("needs a cgroup v1 host")
    root = tmp_path / "cgroup-root"
    root.mkdir()
    for kind in ("memory", "cpu"):
        (root / kind).symlink_to(cgroups.ROOT / kind)
    monkeypatch.setattr(cgroups, "ROOT", root)
    make_submission("a-limits", LIMITS, spec={"claims": [{"name": "nproc", "expected": CAP}]})
    result = run_all(tmp_path, POLICY, RunOptions()).results[0]
    assert result.status is Status.REPRODUCED, (result.error, result.claims)  # RLIMIT_NPROC is the cap
    limits = result.environment["limits"]
    assert limits["pids_cgroup"] is False and limits["cgroup"]["pids"] is False
    saved = ResultStore(tmp_path).notebook_path("a-limits").read_text()
    assert f"kernel uid={limits['sandbox_uid']}." in saved  # the kernel ran as the recorded uid
    if os.geteuid() == 0:  # as root: a uid of its own, so the cap is the run's
        assert limits["processes_capped_by"] == "RLIMIT_NPROC (the run's own uid)"
        assert limits["sandbox_uid"] in runuid.RUN_UIDS
        assert not any("RLIMIT_NPROC" in w for w in result.warnings)
    else:  # the runner's uid, shared by its runs: said in the result
        assert limits["processes_capped_by"] == "RLIMIT_NPROC (a uid shared with other runs)"
        assert any("no pids cgroup and no uid of its own" in w for w in result.warnings)

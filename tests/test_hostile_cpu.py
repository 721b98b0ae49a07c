"""CPU fairness: a run that burns the CPU at start-up never turns its neighbour into a ``timeout``.

The burner's ``requirements.txt`` names a wheel (built here) holding a ``.pth`` file: Python runs
it whenever an interpreter of that environment starts, so the burner's sandbox forks 8 busy
``setsid`` processes at each interpreter start (two: the scratch set-up and the kernel) before any
cell runs, while its neighbours run. Each run's CPU cgroup (v1 ``cpu.shares``, v2 ``cpu.weight``)
gives the spinners together the share of one neighbour: a neighbour's cell that needs 2 s of CPU
took 2.7 to 3.1 s of wall time beside them here (2/3 of a core); without the cgroups it gets
about 2/18 of the machine's 2 cores, some 18 s. The test asserts that cell under 8 s, and the
neighbour's status within a whole-run budget of 40 s: its whole run took 4.4 to 16 s here, its
cell always about 3 s (the share holds less well while processes are being started), which says
more of the machine's load than of the fairness.

The runs' CPU groups (and the runner) are put inside one group of the test's (:func:`test_cpu_root`),
weighted as 256 busy processes: the burner against its neighbours as on a CI runner that does
nothing else, whatever else the test machine runs at the time (in cgroup v1 each process outside a
group weighs as much as one whole group).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.model.submission import load_submission
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.env.environment import prepare_environment
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.sandbox import cgroups
from tests.wheels import build_wheel

from .conftest import MakeSubmission
from .test_hostile_sandbox import CLAIM, needs_bwrap

pytestmark = pytest.mark.sandbox

SPINNERS = 8
CELL_WALL_S = 8.0
"""The most wall time a neighbour's 2 s of CPU may take beside the burner (about 18 s without cgroups)."""
# One line: site.py execs a .pth line that starts with "import" (in a scope a comprehension cannot
# see, hence __import__). `sh` is no Python: the spinners start no spinners.
PTH = (
    "import sys; [__import__('subprocess').Popen(['setsid', 'sh', '-c', 'while :; do :; done', {tag!r}])"
    " for _ in range({n})]\n"
)
BURNER = "import time\ntime.sleep(4)"
# Needs 2 s of CPU (not of wall time): its cell's wall time says what share of the machine it had.
NEIGHBOUR = """
import time
from codeml_repro import record
start = time.process_time()
while time.process_time() - start < 2:
    pass
record('acc', 1)
"""


needs_cpu_cgroups = pytest.mark.host("cpu_cgroups")


@pytest.fixture
def test_cpu_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``cgroups.ROOT`` with the host's memory and pids hierarchies, and a CPU one inside a group of the
    test's own (v1 ``cpu.shares`` 262144, the most), which holds this process while the test runs."""
    if cgroups.ROOT.joinpath("cgroup.subtree_control").exists():
        yield  # cgroup v2: one hierarchy; the runs' groups are siblings of the host's
        return
    home = _own_cpu_group()
    parent = cgroups.ROOT / "cpu" / f"codeml-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    try:
        (parent / "cpu.shares").write_text("262144")  # the most v1 allows
        root = tmp_path / "cgroup-root"
        root.mkdir()
        (root / "cpu").symlink_to(parent)
        for kind in ("memory", "pids"):
            (root / kind).symlink_to(cgroups.ROOT / kind)
        monkeypatch.setattr(cgroups, "ROOT", root)
        (parent / "cgroup.procs").write_text(str(os.getpid()))  # the runner and its workers too
        try:
            yield
        finally:
            (home / "cgroup.procs").write_text(str(os.getpid()))
    finally:
        cgroups.remove_dir(parent)


def _own_cpu_group() -> Path:
    """This process's v1 CPU group (from /proc/self/cgroup)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return cgroups.ROOT / "cpu" / path.lstrip("/")
    return cgroups.ROOT / "cpu"


def _spinners(tag: str) -> list[psutil.Process]:
    """This test's spinners only: their command line ends with the test's own tag."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if (proc.info["cmdline"] or [])[-1:] == [tag]:
            found.append(proc)
    return found


def _burner(make_submission: MakeSubmission, tmp_path: Path, tag: str) -> Path:
    # Its own kernel shares its group with the spinners and starts slowly: its budget, not the test's.
    spec = {"artifact": {"requirements": "requirements.txt", "timeout": 12}}
    folder = make_submission("b-burner", BURNER, spec=spec)
    pth = PTH.format(tag=tag, n=SPINNERS).encode()
    wheel = build_wheel(folder, "1.0", "", name="codeml-spin", extra={"codeml_spin.pth": pth})
    (folder / "requirements.txt").write_text(f"./{wheel.name}\n")
    return folder


@needs_bwrap
@needs_cpu_cgroups
@pytest.mark.usefixtures("test_cpu_root")
def test_a_burner_at_start_up_never_times_out_its_neighbours(
    make_submission: MakeSubmission, tmp_path: Path, share_base_env: Callable[[Path], None]
) -> None:
    cache = tmp_path / "cache"
    tag = f"codeml-spin-{uuid.uuid4().hex}"
    burner = _burner(make_submission, tmp_path, tag)
    try:  # built before the run, so the burner's kernel is pre-started rather than built ahead
        prepare_environment(load_submission(burner), "auto", cache=cache, offline=True)
    except EnvironmentFailed as exc:
        pytest.skip(f"uv cannot build a venv offline here: {exc}")
    assert _spinners(tag) == []  # building the environment ran none of its code on the host
    neighbour = {**CLAIM, "artifact": {"timeout": 40}}
    make_submission("a-neighbour", NEIGHBOUR, spec=neighbour)  # the burner starts meanwhile
    make_submission("c-neighbour", NEIGHBOUR, spec=neighbour)  # runs beside the burner
    # The neighbours' (base) environment too, the session's: built during the run, in this empty
    # cache, it counted against a-neighbour's own budget, which is not what is tested.
    share_base_env(cache)
    policy = RunPolicy(sandbox="required", env="auto", timeout_s=60, cell_timeout_s=30, offline=True,
                       cache=cache)
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions(jobs=2)).results}
    for slug in ("a-neighbour", "c-neighbour"):
        ran = results[slug]
        assert ran.status is Status.REPRODUCED, (slug, ran.error, ran.duration_s, ran.resources)
        assert ran.resources is not None and ran.resources.cells[0].duration_s < CELL_WALL_S, ran.resources
        assert results[slug].environment["limits"]["cgroup"]["cpu"] is True
    burned = results["b-burner"]
    assert burned.status in (Status.FUNCTIONAL, Status.TIMEOUT), burned.error
    assert burned.environment["limits"]["cgroup"]["cpu"] is True
    assert _spinners(tag) == []  # every spinner ended with its run

"""cgroup v2 beyond the root: the runner's own delegated cgroup, found from /proc/self/cgroup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeml_repro.run.sandbox import cgroups, delegation

ROOT = Path(__file__).resolve().parent.parent
UNIFIED = next((p for p in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
                if (p / "cgroup.subtree_control").exists()), None)
PROC = "12:pids:/user.slice\n1:name=systemd:/user.slice/app.scope\n0::/user.slice/app.scope\n"


def _fake_group(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("cgroup.procs", "cgroup.subtree_control", "cgroup.controllers"):
        (folder / name).write_text("")
    return folder


def test_the_own_cgroup_is_the_v2_line() -> None:
    root = Path("/sys/fs/cgroup")
    assert delegation.own_cgroup(root, PROC) == root / "user.slice" / "app.scope"
    assert delegation.own_cgroup(root, "0::/\n") == root
    assert delegation.own_cgroup(root, "4:memory:/x\n") is None  # v1 only
    assert delegation.own_cgroup(root, "0::/a/../../etc\n") is None


def test_a_writable_own_cgroup_is_a_base_after_a_writable_root(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    own = _fake_group(root / "user.slice" / "app.scope")
    assert delegation.bases(root, PROC) == [(own, True)]  # the root is not a cgroup the runner may write
    _fake_group(root)
    assert delegation.bases(root, PROC) == [(root, False), (own, True)]
    _fake_group(own / delegation.LEAF)
    moved = PROC.replace("app.scope\n", f"app.scope/{delegation.LEAF}\n")
    assert delegation.bases(root, moved)[-1] == (own, True)  # a second worker, already in the leaf
    assert delegation.bases(root, "0::/\n") == [(root, False)]
    (root / "cgroup.type").write_text("domain\n")  # a container's cgroup namespace, not the real root
    assert delegation.bases(root, "0::/\n") == [(root, True)]
    assert delegation.bases(tmp_path / "none", PROC) == []


def test_enable_asks_only_for_controllers_the_group_has(tmp_path: Path) -> None:
    group = _fake_group(tmp_path / "g")
    (group / "cgroup.controllers").write_text("cpuset cpu io memory\n")
    # a plain file takes the write whole: the fake shows what was asked, not the kernel's answer
    assert delegation.enable(group, delegated=True) == set()
    assert (group / "cgroup.subtree_control").read_text() == "+cpu +memory"


needs_v2_root = pytest.mark.skipif(
    UNIFIED is None or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs a cgroup v2 hierarchy, root (to delegate a group) and setpriv",
)


@pytest.fixture
def delegated() -> Iterator[Path]:
    """A fresh v2 cgroup handed to ``nobody``, as ``Delegate=yes`` hands one to a user."""
    assert UNIFIED is not None
    group = UNIFIED / f"codeml-test-{os.getpid()}"
    group.mkdir()
    for path in [group, group / "cgroup.procs", group / "cgroup.subtree_control", group / "cgroup.threads"]:
        os.chown(path, 65534, 65534)
    yield group
    for child in [group / "codeml-run", group / delegation.LEAF, group]:
        for _ in range(50):
            try:
                child.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


AS_NOBODY = """
import json, sys
from pathlib import Path
from codeml_repro.run.sandbox import cgroups, delegation
root = Path(sys.argv[1])
group = cgroups.create_v2(root, 'codeml-run', 64 * 2**20, 16)
base = group.dirs[0].parent
delegation.move_into_leaf(base)
after = open('/proc/self/cgroup').read()
print(json.dumps({'group': str(group.dirs[0]), 'delegated': group.delegated, 'in_force': group.in_force,
                  'described': group.describe(), 'after': after,
                  'bases': [str(b) for b, _ in delegation.bases(root, after)]}))
"""


DROP = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


@pytest.fixture
def package_for_nobody() -> Iterator[Path]:
    """A folder nobody can import ``codeml_repro`` from: the checkout itself, or, where its path is
    closed to others (a clone under a /tmp found ``drwx-----T`` on a runner), a copy in /dev/shm."""
    readable = subprocess.run([*DROP, "test", "-r", str(ROOT / "codeml_repro" / "__init__.py")], check=False)
    if readable.returncode == 0:
        yield ROOT
        return
    copy = Path(tempfile.mkdtemp(prefix="codeml-nobody-", dir="/dev/shm"))
    try:
        copy.chmod(0o755)
        shutil.copytree(ROOT / "codeml_repro", copy / "codeml_repro", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


@needs_v2_root
def test_a_runner_that_is_not_root_makes_its_groups_in_its_delegated_cgroup(
    delegated: Path, package_for_nobody: Path
) -> None:
    python = shutil.which("python3", path="/usr/bin:/bin")  # nobody cannot reach a python under /root
    if python is None:
        pytest.skip("no system python3 for an unprivileged runner")
    script = f'echo $$ > {delegated}/cgroup.procs && exec "$@"'
    argv = ["sh", "-c", script, "sh", *DROP, python, "-S", "-c", AS_NOBODY, str(UNIFIED)]
    env = {"PYTHONPATH": str(package_for_nobody)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["group"] == str(delegated / "codeml-run") and seen["delegated"] is True
    # only what reads back is in force: this hierarchy hands its children no controller here
    available = set((delegated / "cgroup.controllers").read_text().split())
    assert set(seen["in_force"]) <= available
    assert seen["described"]["delegated"] is True and seen["described"]["version"] == 2
    assert f"/{delegated.name}/{delegation.LEAF}" in seen["after"]  # the runner left its group
    assert seen["bases"] == [str(delegated)]  # and finds the same base from its leaf


@needs_v2_root
def test_a_root_runner_keeps_the_hierarchy_root() -> None:
    """Root may write the root: groups go there, never into (or moving) its own cgroup."""
    assert UNIFIED is not None
    group = cgroups.create_v2(UNIFIED, f"codeml-root-{os.getpid()}", 64 * 2**20, 16)
    assert group is not None
    try:
        assert group.dirs[0].parent == UNIFIED and group.delegated is False
        wanted = set(delegation.CONTROLLERS) & set((UNIFIED / "cgroup.subtree_control").read_text().split())
        assert set(group.in_force) <= wanted
    finally:
        cgroups.remove(group)
    assert not group.dirs[0].exists()

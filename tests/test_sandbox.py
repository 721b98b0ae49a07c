"""Hostile notebooks inside bwrap: each ends with the right status and leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from codeml_repro.model.errors import SandboxUnavailable
from codeml_repro.run.kernel.execute import Execution
from codeml_repro.run.sandbox.bwrap import choose_sandbox
from codeml_repro.run.sandbox.rundir import OWNER_FILE
from codeml_repro.run.sandbox.stale import clean_stale_runs
from tests.runner_helpers import make_submission, outputs_text, recorded, run

needs_bwrap = pytest.mark.host("bwrap")
pytestmark = pytest.mark.sandbox


def srun(tmp_path: Path, cells: list[str] | str, **policy: Any) -> Execution:
    """Run in the sandbox (required) with small budgets."""
    settings: dict[str, Any] = {"sandbox": "required", "timeout_s": 20}
    settings.update(policy)
    return run(make_submission(tmp_path / "sub", cells), **settings)


@needs_bwrap
def test_passing_notebook_in_sandbox_records(tmp_path: Path) -> None:
    ex = srun(tmp_path, ["import os\nfrom codeml_repro import record\nrecord('uid', os.getuid())"])
    assert ex.outcome == "completed", ex.error
    assert ex.sandbox == "bwrap" and ex.warnings == []
    assert recorded(ex) == {"uid": 65534}


@needs_bwrap
def test_an_environment_reached_through_a_symlink_runs_in_the_sandbox(
    tmp_path: Path, share_base_env: Callable[[Path], None]
) -> None:
    """The sandbox hides /tmp and the homes, and binds what a run reads at its resolved place: a
    cache whose environment is a symlink (here: the session's base environment, linked into a
    cache under /tmp) must be started by that place, not by the link."""
    cache = tmp_path / "cache"
    share_base_env(cache)
    linked = next((cache / "envs").iterdir())
    assert linked.is_symlink()
    ex = srun(tmp_path, ["import sys\nfrom codeml_repro import record\nrecord('prefix', sys.prefix)"],
              env="auto", cache=cache)
    assert ex.outcome == "completed", ex.error
    assert ex.environment["base"] and recorded(ex) == {"prefix": str(linked.resolve())}


@needs_bwrap
@pytest.mark.parametrize(("fixture", "expected"), [("os_exit", "code 1"), ("segfault", "SIGSEGV")])
def test_kernel_death_in_sandbox(tmp_path: Path, fixture: str, expected: str) -> None:
    ex = srun(tmp_path, fixture)
    assert ex.outcome == "kernel_died"
    assert expected in ex.error.message
    if fixture == "segfault":
        assert "kernel stderr: Fatal Python error: Segmentation fault" in ex.error.message


@needs_bwrap
def test_infinite_loop_in_sandbox(tmp_path: Path) -> None:
    ex = srun(tmp_path, "infinite_loop", timeout_s=5)
    assert ex.outcome == "timeout"


@needs_bwrap
def test_one_200mb_print(tmp_path: Path) -> None:
    ex = srun(tmp_path, ["print('x' * 200_000_000)"], max_output_bytes=10_000_000)
    assert ex.outcome == "output_limit" and ex.output_truncated
    assert len(outputs_text(ex)) < 10_000_000


@needs_bwrap
def test_5gb_allocation_is_refused(tmp_path: Path) -> None:
    ex = srun(tmp_path, ["block = bytearray(5 * 1024**3)"], memory_bytes=2 * 1024**3)
    assert ex.outcome in ("failed", "kernel_died")
    if ex.outcome == "failed":
        assert ex.error.type == "MemoryError"


@needs_bwrap
def test_fork_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = "import os\nwhile True:\n    os.fork()"
    ex = srun(tmp_path, [bomb], max_processes=64, timeout_s=8, cell_timeout_s=5)
    assert ex.outcome in ("failed", "timeout", "kernel_died")
    assert ex.duration_s < 20


@needs_bwrap
def test_200mb_file_hits_file_size_limit(tmp_path: Path) -> None:
    write = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * 200_000_000)"
    ex = srun(tmp_path, [write], max_file_bytes=50_000_000)
    assert ex.outcome == "failed"
    assert ex.error.type == "OSError" and "too large" in ex.error.message.lower()


@pytest.fixture
def host_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    yield server.getsockname()[1]
    with pytest.raises(OSError):
        server.accept()  # nobody from the sandbox got through
    server.close()


@needs_bwrap
def test_no_network(tmp_path: Path, host_server: int) -> None:
    probe = (
        "import socket\n"
        f"for addr in [('127.0.0.1', {host_server}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2)\n"
        "        print('CONNECTED', addr)\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
    )
    ex = srun(tmp_path, [probe])
    assert ex.outcome == "completed"
    text = outputs_text(ex)
    assert "CONNECTED" not in text and text.count("refused") == 3


@needs_bwrap
def test_secrets_are_invisible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        (home / "credentials").write_text("hunter2")
        monkeypatch.setenv("HOME", str(home))
        for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ACTIONS_RUNTIME_TOKEN", "MY_API_KEY"):
            monkeypatch.setenv(name, "s3cr3t-value")
        look = (
            "import os, pathlib\n"
            "print(sorted(k for k, v in os.environ.items() if 's3cr3t' in v))\n"
            f"print(pathlib.Path({str(home / 'credentials')!r}).exists())\n"
            "try:\n"
            "    print('s3cr3t' in open('/proc/1/environ', errors='replace').read())\n"
            "except PermissionError:  # as root, pid 1 (bwrap) is root's and the kernel nobody's\n"
            "    print(False)"
        )
        ex = srun(tmp_path, [look])
    finally:
        shutil.rmtree(home)
    assert outputs_text(ex).split() == ["[]", "False", "False"]


@needs_bwrap
def test_writes_outside_scratch_fail(tmp_path: Path) -> None:
    sub_folder = tmp_path / "sub"
    attempt = (
        "import os\n"
        "for path in ['/usr/local/codeml-x', '/etc/codeml-x', '/var/tmp/codeml-x', {orig!r}]:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('denied', type(exc).__name__)\n"
        "open('inside.txt', 'w').write('ok')\n"
        "open('/tmp/scratch.txt', 'w').write('ok')\n"
    ).format(orig=str(sub_folder / "escaped.txt"))
    ex = srun(tmp_path, [attempt])
    assert ex.outcome == "completed", ex.error
    assert "WROTE" not in outputs_text(ex)
    for path in ("/usr/local/codeml-x", "/etc/codeml-x", "/var/tmp/codeml-x", sub_folder / "escaped.txt"):
        assert not Path(path).exists()
    assert not (sub_folder / "inside.txt").exists()  # the scratch copy is gone


def _sleepers(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if tag in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


DETACH = (
    "import os, subprocess\n"
    "subprocess.Popen(['setsid', 'sleep', '{tag}'], start_new_session=True)\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        os.execvp('sleep', ['sleep', '{tag}'])\n"
    "    os._exit(0)\n"
    "import time; time.sleep(0.5)\n"
)


@pytest.mark.parametrize("mode", [pytest.param("required", marks=needs_bwrap), "off"])
def test_detached_children_do_not_outlive_the_run(tmp_path: Path, mode: str) -> None:
    tag = str(300 + os.getpid() % 97)
    ex = srun(tmp_path, [DETACH.format(tag=tag)], sandbox=mode)
    assert ex.outcome == "completed", ex.error
    assert _sleepers(f"sleep {tag}") == []


def test_missing_bwrap_in_required_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        choose_sandbox("required")
    choice = choose_sandbox("auto")
    assert choice.kind == "off" and "running without isolation" in choice.warnings[0]


def test_auto_mode_falls_back_with_a_visible_warning(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "sub", "passing"), sandbox="auto", bwrap="")  # as CODEML_BWRAP=""
    assert ex.outcome == "completed" and ex.sandbox == "off"
    assert ex.warnings == ["sandbox unavailable (bwrap not found), running without isolation"]
    with pytest.raises(SandboxUnavailable):
        run(make_submission(tmp_path / "sub2", "passing"), sandbox="required", bwrap="")


KILLED_RUNNER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.runner_helpers import make_submission
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.kernel.execute import execute
cell = "import subprocess, time\\nsubprocess.Popen(['sleep', '{tag}'])\\ntime.sleep(600)"
sub = make_submission(Path({folder!r}), [cell])
execute(sub, RunPolicy(sandbox="required", env="current"), timeout_s=600)
"""


@needs_bwrap
def test_runner_killed_mid_run_leaves_no_process(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    tag = str(400 + os.getpid() % 97)
    code = KILLED_RUNNER.format(root=str(Path(__file__).parent.parent), tag=tag, folder=str(tmp_path / "s"))
    runner = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not _sleepers(f"sleep {tag}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sleepers(f"sleep {tag}"), "the notebook never started"
    runner.kill()
    runner.wait()
    deadline = time.monotonic() + 5
    while _sleepers(f"sleep {tag}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sleepers(f"sleep {tag}") == []
    # its run dir and cgroup are left behind; the next run's clean-up removes both
    runs = Path(tempfile.gettempdir()).glob("codeml-run-*")
    [left] = [r for r in runs if _owner(r).get("pid") == runner.pid]
    groups = _owner(left).get("cgroup") or []
    assert left in clean_stale_runs()
    assert not left.exists()
    assert not any(Path(group).exists() for group in groups)


def _owner(root: Path) -> dict[str, Any]:
    try:
        owner = json.loads((root / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


FAKE_BWRAP = """#!/bin/sh
[ "$1" = "--version" ] && echo "bubblewrap 0.0-fake" && exit 0
for arg in "$@"; do
    if [ "$arg" = "--proc" ] || [ "{always}" = "yes" ]; then
        echo "bwrap: Can't mount proc on /newroot/proc: Operation not permitted" >&2
        exit 1
    fi
done
exit 0
"""


def _fake_bwrap(tmp_path: Path, *, always: bool = False) -> str:
    path = tmp_path / "bwrap-fake"
    path.write_text(FAKE_BWRAP.replace("{always}", "yes" if always else "no"))
    path.chmod(0o755)
    return str(path)


def test_probe_uses_the_launch_mounts(tmp_path: Path) -> None:
    # a host where bwrap works but mounting proc is denied: the probe must see it
    fake = _fake_bwrap(tmp_path)
    with pytest.raises(SandboxUnavailable, match="Can't mount proc"):
        choose_sandbox("required", fake)
    choice = choose_sandbox("auto", fake)
    assert choice.kind == "off" and "Can't mount proc" in choice.warnings[0]
    assert "running without isolation" in choice.warnings[0]


def test_a_sandbox_that_fails_at_launch_is_a_tool_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, own_runs: Path
) -> None:
    from codeml_repro.model.errors import RunnerFailed
    from codeml_repro.run.sandbox import bwrap as sandbox

    fake = _fake_bwrap(tmp_path, always=True)
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda path: (True, "0.0-fake"))  # passed earlier
    sub = make_submission(tmp_path / "sub", "passing")
    runs = own_runs  # other runs on the machine do not count
    with pytest.raises(RunnerFailed, match=r"bwrap could not start the kernel's sandbox.*Can't mount proc"):
        run(sub, sandbox="required", bwrap=fake)
    assert list(runs.glob("codeml-run-*")) == []  # its run dir is gone

"""Environments built once (a lock per requirements hash) and ahead of their turn (during a run)."""

from __future__ import annotations

import multiprocessing
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.env.environment import COMPLETE_MARKER, requirements_hash, venv_for
from codeml_repro.run.kernel.execute import KernelPipeline
from tests.runner_helpers import make_submission, outputs_text

KERNEL_ONLY = "# only the kernel\n"
POLICY = RunPolicy(sandbox="off", env="auto", timeout_s=60, cell_timeout_s=30)


@pytest.fixture(scope="module")
def offline_uv(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless uv can build a kernel-only venv from its cache, offline."""
    root = tmp_path_factory.mktemp("probe")
    (root / "requirements.txt").write_text(KERNEL_ONLY)
    try:
        venv_for(root / "requirements.txt", offline=True, root=root)
    except EnvironmentFailed as exc:
        pytest.skip(f"uv cannot build a venv offline here: {exc}")


def _build(requirements: str, root: str) -> tuple[float, str | None]:
    env = venv_for(Path(requirements), offline=True, root=Path(root))
    return time.time(), env.path


@pytest.mark.slow
@pytest.mark.usefixtures("offline_uv")
def test_two_workers_needing_one_environment_build_it_once(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(KERNEL_ONLY)
    cache = tmp_path / "cache"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        done = pool.starmap(_build, [(str(req), str(cache))] * 2)
    (first_end, path), (_, other) = sorted(done)
    assert path == other and path is not None
    # Built twice, the second build would have rewritten the marker after the first call returned.
    assert (Path(path) / COMPLETE_MARKER).stat().st_mtime <= first_end
    assert len(list((cache / "envs").iterdir())) == 2  # the venv and its lock file


def _watch_env(marker: Path, signal: Path) -> str:
    """A cell: was the environment complete when it started, and did it complete while it ran?"""
    return (
        "import pathlib, time\n"
        f"marker, signal = pathlib.Path({str(marker)!r}), pathlib.Path({str(signal)!r})\n"
        "done = marker.is_file\n"
        "before = done()\n"
        "signal.write_text('started')\n"
        "deadline = time.time() + 60\n"
        "while not done() and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print(before, done())"
    )


def _release_when(lock: FileLock, signal: Path, limit_s: float) -> threading.Thread:
    def release() -> None:
        deadline = time.monotonic() + limit_s
        while not signal.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lock.release()

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.usefixtures("offline_uv")
def test_next_environment_is_built_while_a_notebook_runs(
    tmp_path: Path, share_base_env: Callable[[Path], None]
) -> None:
    envs, signal = tmp_path / "cache" / "envs", tmp_path / "first-started"
    share_base_env(tmp_path / "cache")  # the first notebook has no requirements: the base environment
    digest = requirements_hash(KERNEL_ONLY, platform.python_version())
    first = make_submission(tmp_path / "first", [_watch_env(envs / digest / COMPLETE_MARKER, signal)])
    second = make_submission(tmp_path / "second", ["import sys\nprint(sys.prefix)"], requirements=KERNEL_ONLY)
    # The second environment's lock is held until the first notebook runs: a build before
    # that run (as a pre-start does) would wait for it, and delay the first run by 10 s.
    lock = FileLock(str(envs / f"{digest}.lock"), thread_local=False)
    lock.acquire()
    releaser = _release_when(lock, signal, limit_s=10)
    with KernelPipeline(POLICY.model_copy(update={"offline": True, "cache": tmp_path / "cache"})) as pipeline:
        ran_first = pipeline.execute(first, 60, then=(second, 60))
        ran_second = pipeline.execute(second, 60)
    releaser.join()
    assert ran_first.outcome == ran_second.outcome == "completed"
    assert outputs_text(ran_first).split() == ["False", "True"], "built while the first notebook ran"
    assert ran_first.environment["base"] and ran_second.environment["env_kind"] == "venv"
    assert len(list(envs.glob(f"*/{COMPLETE_MARKER}"))) == 2  # the base environment and the second


@pytest.mark.slow
@pytest.mark.usefixtures("offline_uv")
def test_a_failed_build_ahead_is_reported_at_its_turn(
    tmp_path: Path, share_base_env: Callable[[Path], None]
) -> None:
    share_base_env(tmp_path / "cache")
    first = make_submission(tmp_path / "first", ["x = 1"])
    broken = make_submission(tmp_path / "broken", ["x = 2"], requirements="codeml-no-such-package==0.0.1\n")
    with KernelPipeline(POLICY.model_copy(update={"offline": True, "cache": tmp_path / "cache"})) as pipeline:
        assert pipeline.execute(first, 60, then=(broken, 60)).outcome == "completed"
        with pytest.raises(EnvironmentFailed, match=r"broken/requirements\.txt: uv pip compile failed"):
            pipeline.execute(broken, 60)

"""The runner classifies every outcome from the exception and the kernel, with real kernels."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.result import ErrorInfo
from codeml_repro.run.kernel.kernel_log import kernel_log_tail
from codeml_repro.run.sandbox.rundir import OWNER_FILE, record_owner
from codeml_repro.run.sandbox.stale import clean_stale_once, clean_stale_runs
from tests.runner_helpers import (
    PeakRss,
    cells_span_s,
    leftover_processes,
    make_submission,
    outputs_text,
    recorded,
    run,
)
from tests.test_sandbox import needs_bwrap


def test_passing_notebook_completes(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "passing", "passing"))
    assert ex.outcome == "completed"
    assert ex.error is None
    assert recorded(ex) == {"total": 45}
    assert ex.sandbox == "off"
    assert ex.environment["env_kind"] == "current"
    assert ex.environment["python"]
    assert "ipykernel" in ex.environment["packages"]


def test_raising_cell_reports_kernel_ename_and_author_index(tmp_path: Path) -> None:
    # parameters are injected after the "parameters" cell: the author's indices stay.
    ex = run(make_submission(tmp_path / "raises", "raises", parameters={"x": 2}))
    assert ex.outcome == "failed"
    assert ex.error == ErrorInfo(type="ZeroDivisionError", message="division by zero", cell=3)
    assert not any("codeml_repro_index" in c.metadata for c in ex.notebook.cells)


def test_raising_cell_index_without_parameters_cell(tmp_path: Path) -> None:
    # no "parameters" tag: papermill injects at the top; the index is still the author's.
    ex = run(make_submission(tmp_path / "top", ["a = 1", "raise KeyError('k')"], parameters={"a": 2}))
    assert ex.error is not None
    assert (ex.outcome, ex.error.type, ex.error.cell) == ("failed", "KeyError", 1)


def test_infinite_loop_hits_whole_run_budget(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "loop", "infinite_loop"), timeout_s=5)
    assert ex.outcome == "timeout"
    assert ex.error is not None and ex.error.type == "RunTimeout" and ex.error.cell == 0
    assert cells_span_s(ex) < 5 + 4  # the budget, and a grace to stop the kernel


def test_sleep_past_cell_timeout(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "sleep", "sleep_cell"), cell_timeout_s=2)
    assert ex.outcome == "timeout"
    assert ex.error is not None and ex.error.type == "CellTimeout" and ex.error.cell == 0
    assert cells_span_s(ex) < 2 + 4


def test_loop_ignoring_sigint_is_stopped(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "sigint", "ignore_sigint"), cell_timeout_s=2)
    assert ex.outcome == "timeout"
    assert cells_span_s(ex) < 2 + 4


def test_slow_cells_add_up_past_whole_run_budget(tmp_path: Path) -> None:
    # 8 cells of 1.5 s, each within the 2 s cell budget; the 5 s whole-run budget stops them.
    ex = run(make_submission(tmp_path / "slow", "slow_cells"), timeout_s=5, cell_timeout_s=2)
    assert ex.outcome == "timeout"
    assert ex.error is not None and ex.error.type == "RunTimeout"
    assert ex.error.cell is not None and 1 <= ex.error.cell <= 4
    assert cells_span_s(ex) < 5 + 4


@pytest.mark.parametrize("fixture", ["os_exit", "segfault"])
def test_kernel_death(tmp_path: Path, fixture: str) -> None:
    ex = run(make_submission(tmp_path / fixture, fixture))
    assert ex.outcome == "kernel_died"
    assert ex.error is not None and ex.error.type == "KernelDied" and ex.error.cell == 0
    expected = "code 1" if fixture == "os_exit" else "SIGSEGV"
    assert expected in ex.error.message
    if fixture == "segfault":  # the tail of the kernel's stderr says what happened, and where
        assert "kernel stderr: Fatal Python error: Segmentation fault | <cell>, line" in ex.error.message
    else:
        assert "kernel stderr" not in ex.error.message  # nothing useful in the log: nothing added


def test_kernel_log_tail_keeps_what_helps(tmp_path: Path) -> None:
    log = tmp_path / "kernel.log"
    banner = (
        "NOTE: When using the `ipython kernel` entry point, Ctrl-C will not work.\n\n"
        "To connect another client to this kernel, use:\n    --existing /tmp/x/kernel.json\n"
        "[IPKernelApp] WARNING | debugpy_stream undefined, debugging will not be enabled\n"
    )
    log.write_text(banner)
    assert kernel_log_tail(log) == ""
    log.write_text(banner + "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                   "ModuleNotFoundError: No module named 'ipykernel'\nsome trailing note\n")
    assert kernel_log_tail(log) == "ModuleNotFoundError: No module named 'ipykernel'"
    log.write_text("x" * 5000 + "\nsecond line\n")
    tail = kernel_log_tail(log)
    assert len(tail) <= 400 and tail.endswith("second line")
    assert kernel_log_tail(tmp_path / "missing.log") == ""


def test_endless_print_hits_output_cap_with_bounded_memory(tmp_path: Path) -> None:
    sub = make_submission(tmp_path / "print", "endless_print")
    with PeakRss() as rss:
        ex = run(sub, timeout_s=15, max_output_bytes=1_000_000)
    assert ex.outcome == "output_limit"
    assert ex.output_truncated
    assert ex.error is not None and ex.error.type == "OutputLimit" and ex.error.cell == 0
    assert len(outputs_text(ex)) <= 1_000_000 + 200
    assert "output stopped" in outputs_text(ex)
    # bounded by one iopub message (ipykernel batches 0.2 s of prints, ~20 MB here), not by the run
    assert rss.growth_mb < 200, f"runner memory grew by {rss.growth_mb:.0f} MB"
    assert ex.duration_s < 10


def test_parameters_with_quotes_and_newlines(tmp_path: Path) -> None:
    text = "it's \"quoted\"\nnext line \\ backslash '''triple'''"
    ex = run(make_submission(tmp_path / "params", "params", parameters={"text": text, "number": 3}))
    assert ex.outcome == "completed"
    assert recorded(ex) == {"text": text, "number": 3}


def test_kernelspec_naming_a_missing_kernel_still_runs(tmp_path: Path) -> None:
    ex = run(make_submission(tmp_path / "ks", "bad_kernelspec"))
    assert ex.outcome == "completed"
    assert recorded(ex) == {"ok": 1}


def test_scratch_copy_is_used_and_removed(tmp_path: Path) -> None:
    cell = "import os\nopen('made.txt', 'w').write('x')\nprint(os.getcwd())"
    sub = make_submission(tmp_path / "scratch", [cell])
    ex = run(sub)
    assert ex.outcome == "completed"
    cwd = Path(outputs_text(ex).strip())
    assert cwd != sub.folder and not cwd.exists()
    assert not (sub.folder / "made.txt").exists()


def test_secrets_are_not_passed_even_without_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    ex = run(make_submission(tmp_path / "env", ["import os\nprint(os.environ.get('GITHUB_TOKEN'))"]))
    assert outputs_text(ex).strip() == "None"


def test_parallel_runs_do_not_collide(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    subs = [make_submission(tmp_path / f"p{i}", "passing") for i in range(3)]
    with ProcessPoolExecutor(max_workers=3) as pool:
        outcomes = [ex.outcome for ex in pool.map(run, subs)]
    assert outcomes == ["completed"] * 3


def test_stale_run_dirs_are_only_removed_when_their_owner_is_gone(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live, foreign = (tmp_path / f"codeml-run-{name}" for name in ("stale", "live", "foreign"))
    for root in (stale, live, foreign):
        (root / "work").mkdir(parents=True)
    record_owner(live, "live-marker")
    record_owner(stale, "stale-marker")
    owner = json.loads((stale / OWNER_FILE).read_text())
    (stale / OWNER_FILE).write_text(json.dumps({**owner, "pid": dead.pid}))
    (stale / "work").chmod(0o500)  # a notebook may leave read-only parts
    assert clean_stale_runs(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and foreign.exists()


KILLED = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.runner_helpers import make_submission
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.kernel.execute import execute
sub = make_submission(Path({folder!r}), ["import time\\ntime.sleep(600)"])
execute(sub, RunPolicy(sandbox="off", env="current"), timeout_s=600)
"""


def _owned_by(pid: int) -> list[Path]:
    found = []
    for root in Path(tempfile.gettempdir()).glob("codeml-run-*"):
        try:
            if json.loads((root / OWNER_FILE).read_text())["pid"] == pid:
                found.append(root)
        except (OSError, ValueError, KeyError):
            continue
    return found


def test_next_run_cleans_up_after_a_runner_killed_by_sigkill(tmp_path: Path) -> None:
    code = KILLED.format(repo=str(Path(__file__).parent.parent), folder=str(tmp_path / "killed"))
    runner = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not (_owned_by(runner.pid) and (_owned_by(runner.pid)[0] / "kernel.log").exists()):
        assert time.monotonic() < deadline, "the killed runner never started its kernel"
        time.sleep(0.1)
    [left] = _owned_by(runner.pid)
    marker = json.loads((left / OWNER_FILE).read_text())["marker"]
    runner.kill()
    runner.wait()
    assert left.exists()  # SIGKILL: no chance to clean up
    clean_stale_once.cache_clear()  # as in a new process: the next run cleans up first
    assert run(make_submission(tmp_path / "next", "passing")).outcome == "completed"
    assert not left.exists()
    assert leftover_processes(marker) == []  # its unsandboxed kernel is gone too


def test_a_kernel_that_cannot_be_launched_is_a_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_runs: Path
) -> None:
    from codeml_repro.model.errors import RunnerFailed
    from codeml_repro.run.sandbox import launch as sandbox

    real = sandbox.build_launch

    def broken(*args: Any, **kw: Any) -> sandbox.KernelLaunch:
        launch = real(*args, **kw)
        argv = [str(tmp_path / "no-such-python"), *launch.argv[1:]]
        return sandbox.KernelLaunch(argv, launch.env, launch.cwd)

    monkeypatch.setattr(sandbox, "build_launch", broken)
    runs = own_runs  # other runs on the machine do not count
    with pytest.raises(RunnerFailed, match="while starting the kernel"):
        run(make_submission(tmp_path / "nolaunch", "passing"))
    assert list(runs.glob("codeml-run-*")) == []  # its run dir is gone


def test_a_kernel_of_the_toolkit_dying_at_start_up_is_a_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeml_repro.model.errors import RunnerFailed
    from codeml_repro.run.sandbox import launch as sandbox

    real = sandbox.build_launch

    def exits(*args: Any, **kw: Any) -> sandbox.KernelLaunch:
        launch = real(*args, **kw)
        cut = launch.argv.index(sandbox.KERNEL_LAUNCHER) - 1  # python -c KERNEL_LAUNCHER -f ...
        code = "import sys; sys.stderr.write('ModuleNotFoundError: no ipykernel here\\n'); sys.exit(3)"
        crash = ["-c", code]
        return sandbox.KernelLaunch([*launch.argv[:cut], *crash], launch.env, launch.cwd)

    monkeypatch.setattr(sandbox, "build_launch", exits)
    with pytest.raises(RunnerFailed, match=r"own environment did not start: .*code 3 .*no ipykernel here"):
        run(make_submission(tmp_path / "nostart", "passing"))


SKIPPED_PROBE = (
    "import sys\n"
    "from codeml_repro import record\n"
    "record('loaded_at_start', sorted(n for n in ('debugpy', 'jedi') if n in sys.modules))\n"
    "record('launcher_names', sorted(n for n in ('skipped', 'name', 'kernelapp') if n in globals()))\n"
    "import debugpy, jedi\n"
    "record('imported_later', [debugpy.__name__, jedi.__name__])"
)


@pytest.mark.parametrize("mode", ["off", pytest.param("required", marks=needs_bwrap)])
def test_the_kernel_starts_without_the_debugger_and_completion_a_notebook_still_imports(
    tmp_path: Path, mode: str
) -> None:
    """debugpy and jedi are kept out of the kernel's start-up (what a batch run never uses, a third
    of a start's CPU where nothing is byte-compiled); a cell that imports them gets them, and the
    launcher's own names never reach the notebook's namespace."""
    ex = run(make_submission(tmp_path / "skipped", [SKIPPED_PROBE]), sandbox=mode)
    assert ex.outcome == "completed", (ex.error, outputs_text(ex))
    assert recorded(ex) == {
        "loaded_at_start": [], "launcher_names": [], "imported_later": ["debugpy", "jedi"],
    }

"""Kernel pre-start: the next notebook's kernel starts while one runs; nothing else changes."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Result, Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.kernel.execute import KernelPipeline, run_prepared
from codeml_repro.run.kernel.prepare import prepare
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.sandbox.rundir import OWNER_FILE, RUN_DIR_PREFIX
from tests.runner_helpers import make_submission, outputs_text

from .conftest import MakeSubmission

POLICY = RunPolicy(sandbox="off", env="current", timeout_s=30, cell_timeout_s=3)
WHO = "import os\nprint(os.environ['CODEML_RUN_ID'], os.getcwd(), os.getuid())"


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _children_before() -> None:
    """The test process's children before each test: a test looks only at its own run's."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process().children(recursive=True))


def _new_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in _BEFORE]


def _nothing_left() -> None:
    """No process started by this test survives, and no run dir of this process remains."""
    deadline = time.monotonic() + 5
    while _new_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _new_children() == []
    mine = []
    for root in Path(tempfile.gettempdir()).glob(f"{RUN_DIR_PREFIX}*"):
        try:
            owner = json.loads((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner.get("pid") == os.getpid():
            mine.append(root)
    assert mine == []


def _mixed_root(make: MakeSubmission) -> None:
    claim = {"claims": [{"name": "v", "expected": 1}]}
    make("a-good", "from codeml_repro import record\nrecord('v', 1)", spec=claim)
    make("b-raises", "x = 1", "1 / 0")
    make("c-dies", "import os\nos._exit(3)")
    make("d-slow", "import time\ntime.sleep(30)")
    make("e-plain", "print('hello')")
    (make("f-invalid", "x = 1") / "submission.yml").write_text("title: T\n")


def _statuses(root: Path, jobs: int, prewarm: str) -> dict[str, Status]:
    policy = POLICY.model_copy(update={"prestart": prewarm != "0"})  # as CODEML_PREWARM={prewarm}
    streamed: list[Result] = []
    report = run_all(root, policy, RunOptions(jobs=jobs, force=True), on_result=streamed.append)
    assert sorted(r.slug for r in streamed) == [r.slug for r in report.results]  # each one streamed
    return {r.slug: r.status for r in report.results}


EXPECTED = {
    "a-good": Status.REPRODUCED,
    "b-raises": Status.FAILED,
    "c-dies": Status.KERNEL_DIED,
    "d-slow": Status.TIMEOUT,
    "e-plain": Status.FUNCTIONAL,
    "f-invalid": Status.INVALID,
}


def test_prestart_gives_the_same_statuses_and_leaves_nothing(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    _mixed_root(make_submission)
    assert _statuses(tmp_path, 1, "1") == EXPECTED
    _nothing_left()
    assert _statuses(tmp_path, 1, "0") == EXPECTED
    _nothing_left()


def test_workers_prestart_and_stream_every_result(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    _mixed_root(make_submission)
    assert _statuses(tmp_path, 2, "1") == EXPECTED
    _nothing_left()


def _who(ex: Any) -> list[str]:
    return outputs_text(ex).split()


def test_prestarted_kernel_is_its_own_runs_and_its_start_is_not_budgeted(tmp_path: Path) -> None:
    sub = make_submission(tmp_path / "who", [WHO])
    prep = prepare(sub, POLICY, timeout_s=2, start_kernel=True)
    assert prep.km is not None and prep.km.has_kernel
    time.sleep(2.5)  # longer than the whole-run budget: waiting for its turn does not count
    ex = run_prepared(prep)
    assert ex.outcome == "completed", ex.error
    assert ex.kernel_prestarted
    run_id, cwd, _uid = _who(ex)
    assert run_id == ex.run_id and Path(cwd).name == "work" and not Path(cwd).exists()
    _nothing_left()


def test_pipeline_uses_the_prestart_only_for_its_submission(tmp_path: Path) -> None:
    a, b, c = (make_submission(tmp_path / name, [WHO]) for name in "abc")
    with KernelPipeline(POLICY) as runner:
        first = runner.execute(a, 20, then=(b, 20))
        second = runner.execute(b, 20, then=(c, 20))
        third = runner.execute(a, 20, then=(b, 20))  # not c: c's kernel is discarded
        runner.execute(b, 20)
        assert runner._next is None
        runner.execute(c, 20, then=(a, 20))  # the pipeline closes with a's kernel unused
    assert [ex.kernel_prestarted for ex in (first, second, third)] == [False, True, False]
    assert len({ex.run_id for ex in (first, second, third)}) == 3
    assert all(_who(ex)[0] == ex.run_id for ex in (first, second, third))
    _nothing_left()


@pytest.mark.sandbox
@pytest.mark.host("bwrap")
def test_prestarted_kernel_runs_in_the_sandbox(tmp_path: Path) -> None:
    policy = POLICY.model_copy(update={"sandbox": "required"})
    a, b = (make_submission(tmp_path / name, [WHO]) for name in "ab")
    with KernelPipeline(policy) as runner:
        runner.execute(a, 20, then=(b, 20))
        ex = runner.execute(b, 20)
    assert ex.outcome == "completed" and ex.kernel_prestarted and ex.sandbox == "bwrap"
    run_id, _cwd, uid = _who(ex)
    assert run_id == ex.run_id and uid == "65534"
    _nothing_left()

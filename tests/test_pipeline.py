"""End to end through the library and the CLI, with real papermill kernels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.plan.status import current_status

from .conftest import REPO, MakeSubmission

POLICY = RunPolicy(sandbox="off", env="current", timeout_s=60, cell_timeout_s=30)


def _run(root: Path, **options: Any) -> dict[str, Any]:
    report = run_all(root, POLICY, RunOptions(**options))
    return {r.slug: r for r in report.results}


def test_claim_statuses_and_recording_formats(make_submission: MakeSubmission, tmp_path: Path) -> None:
    claim = {"claims": [{"name": "acc", "expected": 0.95, "rel_tol": 0.01}]}
    archived = {**claim, "links": {"doi": "10.5281/zenodo.1234567"}}  # Available needs an archive
    make_submission("good", "from codeml_repro import record\nrecord('acc', 0.951)", spec=archived)
    make_submission("off", "from codeml_repro import record\nrecord('acc', 0.80)", spec=claim)
    make_submission("never", "x = 1", spec=claim)
    make_submission("glue", "from myst_nb import glue\nimport numpy as np\nglue('acc', np.float64(0.95))",
                    spec=claim)
    make_submission("scrap", "import scrapbook as sb\nsb.glue('acc', 0.949)", spec=claim)
    make_submission("noclaims", "print('hello')")
    make_submission("raises", "x = 1", "1 / 0", spec=claim)
    make_submission("archived-raises", "1 / 0", spec={"links": {"swh": "swh:1:dir:" + "a" * 40}})
    results = _run(tmp_path, jobs=2)
    assert results["good"].status is Status.REPRODUCED
    assert results["good"].badges == ["available", "functional", "reproduced"]
    assert results["off"].status is Status.NOT_REPRODUCED
    assert results["off"].claims[0].observed == 0.80
    assert results["never"].status is Status.NOT_REPRODUCED and not results["never"].claims[0].recorded
    assert results["glue"].status is Status.REPRODUCED
    assert results["scrap"].status is Status.REPRODUCED
    assert results["noclaims"].status is Status.FUNCTIONAL
    raised = results["raises"]
    assert raised.status is Status.FAILED and raised.badges == []  # no archival id: not Available
    assert results["archived-raises"].badges == ["available"]
    assert results["off"].badges == ["functional"]
    assert raised.error is not None and raised.error.type == "ZeroDivisionError" and raised.error.cell == 1
    store = ResultStore(tmp_path)
    saved = json.loads(store.notebook_path("raises").read_text())
    assert any(o.get("ename") == "ZeroDivisionError" for c in saved["cells"] for o in c.get("outputs", []))


def test_parameters_with_quotes_and_newlines(make_submission: MakeSubmission, tmp_path: Path) -> None:
    text = 'He said "hi" and \'bye\'\nsecond line \\ end'
    make_submission(
        "params",
        "from codeml_repro import record\nrecord('text', text)\nrecord('n', n * 2)",
        params="text = ''\nn = 1",
        spec={"artifact": {"parameters": {"text": text, "n": 21}},
              "claims": [{"name": "text", "expected": text}, {"name": "n", "expected": 42}]},
    )
    result = _run(tmp_path)["params"]
    assert result.status is Status.REPRODUCED, result


def test_notebook_kernelspec_cannot_pick_a_kernel(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("kernel", "x = 1", kernel="no-such-kernel-xyz")
    assert _run(tmp_path)["kernel"].status is Status.FUNCTIONAL


def test_invalid_submission_gets_invalid_status(make_submission: MakeSubmission, tmp_path: Path) -> None:
    folder = make_submission("broken", "x = 1")
    (folder / "submission.yml").write_text("title: T\nauthors: [{name: A}]\nartefact: {}\n")
    result = _run(tmp_path)["broken"]
    assert result.status is Status.INVALID and result.badges == []
    assert result.error is not None and "did you mean 'artifact'" in result.error.message


def test_repeat_marks_flaky(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("flaky", "import random\nfrom codeml_repro import record\nrecord('v', random.random())",
                    spec={"claims": [{"name": "v", "expected": 0.5, "abs_tol": 0.5}]})
    make_submission("steady", "from codeml_repro import record\nrecord('v', 0.5)",
                    spec={"claims": [{"name": "v", "expected": 0.5, "abs_tol": 0.5}]})
    results = _run(tmp_path, repeat=2)
    assert results["flaky"].flaky and results["flaky"].repeats == 2
    assert not results["steady"].flaky


def test_changed_inputs_show_pending(make_submission: MakeSubmission, tmp_path: Path) -> None:
    folder = make_submission("p", "x = 1")
    _run(tmp_path)
    [before], _ = current_status(tmp_path)
    assert before.status is Status.FUNCTIONAL
    (folder / "extra.txt").write_text("changed")
    [after], _ = current_status(tmp_path)
    assert after.status is Status.PENDING


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeml_repro.cli", *args], capture_output=True, text=True)


EXAMPLES_ARGS = ["--sandbox", "off"]


@pytest.fixture(scope="module")
def examples_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples, copied and run once by the CLI: every test that reads their results gets
    them, whichever test runs first (or alone, or on another worker)."""
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(REPO / "submissions", root / "submissions")
    first = _cli("run", "--root", str(root), *EXAMPLES_ARGS)
    assert first.returncode == 0, first.stderr
    return root


def test_examples_via_cli_then_skip(examples_root: Path) -> None:
    args = ["--root", str(examples_root), *EXAMPLES_ARGS]
    listed = json.loads(_cli("status", "--json", "--root", str(examples_root)).stdout)
    statuses = {r["slug"]: r["status"] for r in listed}
    assert statuses == {
        "example-digits-logreg": "reproduced",
        "example-lstsq-demo": "functional",
        "example-monte-carlo-pi": "reproduced",
        "example-numpy-across-versions": "reproduced",  # on both NumPy releases of its matrix
    }
    second = _cli("run", *args)
    assert second.returncode == 0
    assert "4 unchanged submission(s) skipped" in second.stderr
    history = ResultStore(examples_root).history("example-lstsq-demo")
    assert len(history) == 1  # the skipped run recorded nothing new
    matrix = next(r for r in listed if r["slug"] == "example-numpy-across-versions")["matrix"]
    assert [(c["versions"]["numpy"], c["status"]) for c in matrix] == [
        ("1.26.4", "reproduced"), ("2.2.6", "reproduced"),
    ]


def test_status_json_shape(examples_root: Path) -> None:
    data = json.loads(_cli("status", "--json", "--root", str(examples_root)).stdout)
    assert [r["slug"] for r in data] == sorted(r["slug"] for r in data)
    for row in data:
        for key in ("slug", "status", "badges", "claims", "duration_s", "error", "flaky", "finished_at"):
            assert key in row
        for claim in row["claims"]:
            assert {"name", "expected", "observed", "ok"} <= set(claim)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "submissions").mkdir()
    proc = _cli("run", "nope", "--root", str(tmp_path), "--sandbox", "off")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no submission named nope" in proc.stderr
    bad_shard = _cli("run", "--shard", "3/3", "--root", str(tmp_path))
    assert bad_shard.returncode != 0 and "Traceback" not in bad_shard.stderr


def test_workers_give_every_submission_a_result_with_repeats(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    for i in range(4):
        make_submission(f"ok-{i}", "from codeml_repro import record\nrecord('v', 1)",
                        spec={"claims": [{"name": "v", "expected": 1}]})
    (make_submission("bad", "x = 1") / "submission.yml").write_text("title: T\n")
    streamed: list[str] = []
    options = RunOptions(jobs=2, repeat=2)
    report = run_all(tmp_path, POLICY, options, on_result=lambda r: streamed.append(r.slug))
    assert sorted(streamed) == ["bad", "ok-0", "ok-1", "ok-2", "ok-3"]
    results = {r.slug: r for r in report.results}
    assert results["bad"].status is Status.INVALID
    for i in range(4):
        assert results[f"ok-{i}"].status is Status.REPRODUCED and results[f"ok-{i}"].repeats == 2


@pytest.mark.parametrize("jobs", [1, 2])
def test_store_warnings_in_workers_reach_the_report(
    make_submission: MakeSubmission, tmp_path: Path, jobs: int
) -> None:
    """An unreadable history line met while recording (in a worker, with --jobs) is reported."""
    for slug in ("first", "second"):
        make_submission(slug, "x = 1")
    history = ResultStore(tmp_path).history_path("second")
    history.parent.mkdir(parents=True)
    history.write_text("{not json\n")
    report = run_all(tmp_path, POLICY, RunOptions(jobs=jobs, force=True))
    statuses = {r.slug: r.status for r in report.results}
    assert statuses == {"first": Status.FUNCTIONAL, "second": Status.FUNCTIONAL}
    assert [p for p in report.problems if "second.jsonl:1: unreadable history line" in p]


def test_a_tool_error_in_a_worker_reaches_the_caller(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    from codeml_repro.model.errors import SandboxUnavailable

    for i in range(3):
        make_submission(f"s-{i}", "x = 1")
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}  # only this test's count
    policy = POLICY.model_copy(update={"sandbox": "required", "bwrap": ""})  # bwrap "missing", yet required
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run_all(tmp_path, policy, RunOptions(jobs=2))
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == []  # the workers were stopped and reaped


def _report_blocked(seen: Any) -> None:
    import signal

    seen.put(set(signal.pthread_sigmask(signal.SIG_BLOCK, [])))


def test_a_worker_starts_with_stop_signals_blocked_until_its_own_handler_is_set() -> None:
    """A forked worker is a copy of the runner, signal handlers and stack included. Stopped before
    its own handler was set (another worker's tool error stops it at once), it ran the runner's
    (the CLI's raises KeyboardInterrupt) and unwound through the runner's code: under
    pytest-xdist the copy reported the test worker interrupted (seen once in a CI run here)."""
    import multiprocessing
    import signal

    from codeml_repro.run.batch import pool

    ctx = multiprocessing.get_context("fork")
    seen: Any = ctx.Queue()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    proc = ctx.Process(target=_report_blocked, args=(seen,))
    pool.start_workers([proc])
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before  # the runner's own mask is back
    blocked = seen.get(timeout=30)
    proc.join(timeout=30)
    assert {signal.SIGTERM, signal.SIGINT} <= blocked


def test_repeat_marks_flaky_on_an_unclaimed_recorded_value(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    record = "from codeml_repro import record\n"
    cell = record + "import random\nrecord('v', 0.5)\nrecord('noise', random.random())"
    make_submission("unclaimed", cell, spec={"claims": [{"name": "v", "expected": 0.5}]})
    make_submission("nan", record + "record('x', float('nan'))\nrecord('d', {'b': 1, 'a': 2})")
    results = _run(tmp_path, repeat=2)
    assert results["unclaimed"].status is Status.REPRODUCED
    assert results["unclaimed"].flaky and results["unclaimed"].repeats == 2
    assert not results["nan"].flaky  # the same values each time, even NaN


def test_an_environment_failure_is_a_result_not_an_aborted_run(
    make_submission: MakeSubmission, tmp_path: Path, share_base_env: Callable[[Path], None],
) -> None:
    share_base_env(tmp_path / "cache")  # b-fine has no requirements: the base environment
    bad = make_submission("a-bad-pin", "x = 1", spec={"artifact": {"requirements": "requirements.txt"}})
    (bad / "requirements.txt").write_text("codeml-repro-no-such-package-xyz==0.0.1\n")
    make_submission("b-fine", "x = 1")
    # the pin cannot be met offline
    offline = POLICY.model_copy(update={"env": "auto", "offline": True, "cache": tmp_path / "cache"})
    report = run_all(tmp_path, offline, RunOptions(repeat=2))
    results = {r.slug: r for r in report.results}
    assert results["b-fine"].status is Status.FUNCTIONAL
    failed = results["a-bad-pin"]
    assert failed.status is Status.FAILED and failed.badges == []
    assert failed.error is not None and failed.error.type == "EnvironmentFailed" and failed.error.cell is None
    assert failed.error.message.startswith("a-bad-pin/requirements.txt: uv pip compile failed: ")
    assert "codeml-repro-no-such-package-xyz" in failed.error.message and "\n" not in failed.error.message
    assert failed.repeats == 1 and not failed.flaky  # no notebook ran: nothing to repeat
    stored = ResultStore(tmp_path).read("a-bad-pin")
    assert stored is not None and stored.error == failed.error
    assert not ResultStore(tmp_path).notebook_path("a-bad-pin").exists()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_stops_the_run_and_leaves_nothing(make_submission: MakeSubmission, tmp_path: Path,
                                                  jobs: str) -> None:
    """A cancelled CI job sends SIGTERM to the runner only: workers and kernels must go too."""
    import os
    import signal
    import time

    import psutil

    from .runner_helpers import leftover_processes, run_markers_under

    for i in range(3):
        make_submission(f"slow-{i}", "import time\ntime.sleep(60)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeml_repro.cli", "run", "--root", str(tmp_path), "--jobs", jobs,
         "--sandbox", "off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    markers: set[str] = set()
    while not markers and time.monotonic() < deadline:
        time.sleep(0.2)
        markers = run_markers_under(proc.pid)  # this command's runs only, not other tests'
    assert markers and leftover_processes(markers), "no kernel started"
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    time.sleep(1)
    assert leftover_processes(markers) == []
    ours = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert ours == []


def test_sigterm_inside_exec_of_a_string_still_exits_130(tmp_path: Path) -> None:
    """The CLI's SIGTERM is caught and ends the command with 130 even when it lands in code that
    ``exec`` runs from a string (dataclasses, namedtuples: importing papermill does it), where
    CPython 3.11 marks a plain KeyboardInterrupt as unhandled and the process killed itself with
    SIGINT at exit (-2); seen once in about ten cancelled runs."""
    script = (
        "import os, signal, sys\n"
        "from codeml_repro.cli.options import terminate_as_interrupt\n"
        "terminate_as_interrupt()\n"
        "try:\n"
        "    exec('import os, signal, time\\nos.kill(os.getpid(), signal.SIGTERM)\\ntime.sleep(5)')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    (tmp_path / "cancelled.py").write_text(script)  # run with -m, as the CLI is: -c exits otherwise
    proc = subprocess.run([sys.executable, "-m", "cancelled"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr


def test_repeat_runs_again_even_when_unchanged(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("again", "x = 1")
    _run(tmp_path)
    report = run_all(tmp_path, POLICY, RunOptions(repeat=2))
    assert report.skipped == [] and report.results[0].repeats == 2


def test_mistyped_root_is_an_error(tmp_path: Path) -> None:
    for command in (["run"], ["status"], ["validate"]):
        proc = _cli(*command, "--root", str(tmp_path / "nope"))
        assert proc.returncode == 2 and "no submissions/ folder" in proc.stderr

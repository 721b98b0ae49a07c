"""One hostile submission never costs another: each case runs beside a neighbour that must reproduce.

Real papermill kernels, run unsandboxed (the sandbox's own cases are in test_hostile_sandbox.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions

from .conftest import MakeSubmission

POLICY = RunPolicy(sandbox="off", env="current", timeout_s=60, cell_timeout_s=30)
CLAIM = {"claims": [{"name": "acc", "expected": 1}]}
NEIGHBOUR = "from codeml_repro import record\nrecord('acc', 1)"
SEND = """
k = get_ipython().kernel
k.session.send(k.iopub_socket, {kind!r}, content={content}, parent=k.get_parent("shell"))
"""
DEEP = "'[' * 100_000 + ']' * 100_000"


def _send(content: str, kind: str = "display_data") -> str:
    return SEND.format(kind=kind, content=content)


MALFORMED = {
    "list-metadata": _send('{"data": {"text/plain": "1"}, "metadata": [1, 2], "transient": {}}'),
    "string-scrapbook": _send('{"data": {"text/plain": "1"}, "metadata": {"scrapbook": "acc"}}'),
    "number-data": _send('{"data": {"text/plain": 1}, "metadata": {"scrapbook": {"name": "acc"}}}'),
    "empty-content": _send("{}"),
    "bad-stream": _send('{"name": 3, "text": {"a": 1}}', "stream"),
    "bad-error": _send('{"ename": [1], "evalue": None, "traceback": "x"}', "error"),
    "deep-plain": _send('{"data": {"text/plain": ' + DEEP + '}, "metadata": {"scrapbook": {"name": "acc"}}}'),
    "deep-scrap": _send(
        '{"data": {"application/scrapbook.scrap.json+json": ' + DEEP + '},'
        ' "metadata": {"scrapbook": {"name": "acc"}}}'
    ),
}


def _results(root: Path, **options: Any) -> dict[str, Any]:
    report = run_all(root, POLICY, RunOptions(**options))
    return {r.slug: r for r in report.results}


def test_malformed_iopub_messages_are_that_submissions_result(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    for name, cell in MALFORMED.items():
        make_submission(f"a-{name}", cell, NEIGHBOUR.replace("1)", "2)"), spec=CLAIM)
    make_submission("z-neighbour", NEIGHBOUR, spec=CLAIM)
    results = _results(tmp_path)
    assert results["z-neighbour"].status is Status.REPRODUCED
    for name in MALFORMED:
        result = results[f"a-{name}"]
        stored = ResultStore(tmp_path).read(f"a-{name}")
        assert stored is not None and stored.status is result.status
        if name == "bad-error":  # an error output fails its cell, as any error does
            assert result.status is Status.FAILED and result.error is not None
            assert (result.error.type, result.error.cell) == ("MalformedError", 0)
            continue
        # the malformed value is never taken as the claim; the notebook itself went on
        assert result.status is Status.NOT_REPRODUCED, (name, result.error)
        assert result.claims[0].observed == 2, name
    notebook = ResultStore(tmp_path).notebook_path("a-list-metadata").read_text()
    assert "a malformed output was dropped: metadata is not a mapping" in notebook


def test_a_deep_value_is_text_and_not_reproduced(make_submission: MakeSubmission, tmp_path: Path) -> None:
    deep = "import IPython.display as d\nd.publish_display_data({'text/plain': " + DEEP + "},"
    deep += " metadata={'scrapbook': {'name': 'acc'}})"
    make_submission("a-deep", deep, spec=CLAIM)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = _results(tmp_path, jobs=2)
    assert results["b-neighbour"].status is Status.REPRODUCED
    deep_result = results["a-deep"]
    assert deep_result.status is Status.NOT_REPRODUCED
    observed = deep_result.claims[0].observed
    assert isinstance(observed, str) and observed.startswith("[[[")


FLOOD = """
k = get_ipython().kernel
for _ in range(3):
    k.session.send(k.iopub_socket, 'display_data', content={'data': {'text/plain': 'x'}, 'metadata': {}},
                   parent=k.get_parent('shell'), buffers=[b'x' * (64 * 2**20)])
print('still here')
"""


def test_a_buffer_flood_is_refused_unread_and_the_neighbour_reproduces(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # each 64 MiB frame is past the per-frame limit the 10 MB output cap gives: libzmq drops it from
    # its header (the runner's memory is measured by benchmarks/bench_hostile.py)
    make_submission("a-flood", FLOOD, NEIGHBOUR, spec=CLAIM)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = _results(tmp_path, jobs=1)
    assert results["b-neighbour"].status is Status.REPRODUCED, results["b-neighbour"].error
    flood = results["a-flood"]
    assert flood.status is Status.OUTPUT_LIMIT and flood.error is not None
    assert flood.error.message == (
        "outputs exceeded 10000000 bytes; the kernel was stopped"
        " (a message on iopub was larger than that cap and was refused unread)"
    )
    assert flood.error.cell == 0 and flood.claims[0].observed is None
    notebook = ResultStore(tmp_path).notebook_path("a-flood").read_text()
    assert "a message on iopub was larger than the output cap (10000000 bytes) and was refused" in notebook


def test_a_cell_longer_than_the_output_cap_still_runs(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # iopub echoes every cell's code (execute_input): the per-frame limit makes room for the longest
    source = "blob = '" + "a" * 3_000_000 + "'\n" + NEIGHBOUR.replace("1)", "len(blob) // 3_000_000)")
    make_submission("a-long", source, spec=CLAIM)
    policy = POLICY.model_copy(update={"max_output_bytes": 1000})
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["a-long"].status is Status.REPRODUCED, results["a-long"].error


def test_a_tool_failure_is_recorded_for_that_submission_and_the_batch_goes_on(
    make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeml_repro.run.sandbox import launch as sandbox

    real = sandbox.build_launch

    def exits(*args: Any, **kw: Any) -> sandbox.KernelLaunch:  # the toolkit's own kernel, not the author's
        launch = real(*args, **kw)
        if not (Path(launch.cwd) / "break-the-tool").exists():
            return launch
        cut = launch.argv.index(sandbox.KERNEL_LAUNCHER) - 1
        crash = ["-c", "import sys; sys.stderr.write('bwrap: spoofed: sandbox refused\\n'); sys.exit(1)"]
        return sandbox.KernelLaunch([*launch.argv[:cut], *crash], launch.env, launch.cwd)

    monkeypatch.setattr(sandbox, "build_launch", exits)
    (make_submission("a-broken", "x = 1", spec=CLAIM) / "break-the-tool").write_text("")
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = _results(tmp_path, jobs=1)
    store = ResultStore(tmp_path)
    broken, neighbour = store.read("a-broken"), store.read("b-neighbour")
    assert neighbour is not None and neighbour.status is Status.REPRODUCED
    assert broken is not None and broken.status is Status.FAILED is results["a-broken"].status
    assert broken.error is not None and broken.error.type == "RunnerFailed"
    assert broken.key == ""  # a tool failure is retried on the next run, not skipped


PLANTED = """
import os
try:
    open(os.path.join({marker!r}, 'ran-' + __name__), 'w').close()
except OSError:  # in the sandbox the host folder is read-only: exiting says it ran
    pass
os._exit(7)
"""
SHADOWS = ("ipykernel_launcher.py", "ipykernel/__init__.py", "IPython.py", "zmq.py", "traitlets.py",
           "resource.py", "ctypes.py", "jupyter_client.py")
"""What the start-up of a run imports (the kernel, the helpers that set its limits and its disk)."""
HELPER = "from helper import VALUE\nfrom codeml_repro import record\nrecord('acc', VALUE)"


def plant_shadows(folder: Path, marker: Path) -> None:
    """Modules named like the ones the run starts with, beside the notebook; and a helper of its own."""
    for name in SHADOWS:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(PLANTED.format(marker=str(marker)))
    (folder / "helper.py").write_text("VALUE = 1\n")


def test_modules_beside_the_notebook_never_replace_the_kernels_own(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    marker = tmp_path / "markers"
    marker.mkdir()
    plant_shadows(make_submission("a-planted", HELPER, spec=CLAIM), marker)
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    results = _results(tmp_path, jobs=1)
    assert results["b-neighbour"].status is Status.REPRODUCED
    planted = results["a-planted"]
    assert planted.status is Status.REPRODUCED, planted.error  # its own helper.py still imports
    assert sorted(p.name for p in marker.iterdir()) == []


def test_an_odd_folder_name_is_invalid_alone(make_submission: MakeSubmission, tmp_path: Path) -> None:
    make_submission("b-neighbour", NEIGHBOUR, spec=CLAIM)
    odd = ["x" * 65, "trailing-", "Upper", "a--b", "x" * 250, "new\nline"]
    for name in odd:
        folder = tmp_path / "submissions" / name
        folder.mkdir()
        (folder / "submission.yml").write_text("title: T\nauthors: [{name: A}]\n")
    results = _results(tmp_path)
    assert results["b-neighbour"].status is Status.REPRODUCED
    for name in odd:
        result = results[name]
        assert result.status is Status.INVALID
        assert result.error is not None and "at most 64 characters" in result.error.message
    assert sorted(p.name for p in (tmp_path / "results").glob("*.json")) == ["b-neighbour.json"]


def test_the_book_words_a_tool_failure_as_the_tools() -> None:
    from codeml_repro.model.result import ErrorInfo, Result
    from codeml_repro.sphinx.posters.runview import _error

    failed = Result(slug="x", status=Status.FAILED,
                    error=ErrorInfo(type="RunnerFailed", message="x: the runner failed", cell=None))
    shown = str(_error(failed))
    assert "no fault of the notebook's" in shown and "RunnerFailed" in shown


RAW = """
k = get_ipython().kernel
from codeml_repro import record
"""
WIRE = {
    "not-json": (RAW + "k.session.send(k.iopub_socket, 'display_data', content=b'\\xff{not json',"
                 " parent=k.get_parent('shell'))", "JSONDecodeError"),
    "bad-signature": (RAW + "parts = k.session.serialize(k.session.msg('stream', content={'name': 'stdout',"
                      " 'text': 'hi'}, parent=k.get_parent('shell')))\nparts[1] = b'0' * 64\n"
                      "k.iopub_socket.send_multipart(parts)", "Invalid Signature"),
    "deep-json": (RAW + "k.session.send(k.iopub_socket, 'display_data', content=b'{\"data\": '"
                  " + b'[' * 100_000 + b']' * 100_000 + b'}', parent=k.get_parent('shell'))",
                  "nested more than 100 levels"),
    "huge-int": (RAW + "k.session.send(k.iopub_socket, 'display_data', content=b'{\"data\": {}, \"x\": '"
                 " + b'9' * 100_000 + b'}', parent=k.get_parent('shell'))", "digits"),
}


def test_a_message_malformed_on_the_wire_is_that_submissions_failure(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    for name, (cell, _) in WIRE.items():
        make_submission(f"a-{name}", "x = 1", cell + "\nrecord('acc', 2)", "import time\ntime.sleep(60)",
                        spec=CLAIM)
    make_submission("z-neighbour", NEIGHBOUR, spec=CLAIM)
    proc = subprocess.run(
        [sys.executable, "-m", "codeml_repro.cli", "run", "--root", str(tmp_path), "--sandbox", "off",
         "--env", "current", "--jobs", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    store = ResultStore(tmp_path)
    neighbour = store.read("z-neighbour")
    assert neighbour is not None and neighbour.status is Status.REPRODUCED
    for name, (_, reason) in WIRE.items():
        result = store.read(f"a-{name}")
        assert result is not None and result.status is Status.FAILED, (name, result)
        assert result.error is not None and result.error.type == "MalformedMessage", (name, result.error)
        assert result.error.cell == 1 and reason in result.error.message, (name, result.error)
        assert 0 < result.duration_s < 30 and result.key, name  # stopped at once; not re-run if unchanged
        executed = store.notebook_path(f"a-{name}").read_text()
        assert result.notebook and "time.sleep(60)" in executed, name  # the partial notebook is kept

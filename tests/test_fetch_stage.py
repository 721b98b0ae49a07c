"""The fetch stage under hostile servers: deadlines, the rate rule, poisoning, budgets as bytes
arrive, Ctrl-C/SIGTERM. Each case beside a neighbour whose result must stay reproduced, against a
server on 127.0.0.1 (CODEML_ALLOW_PRIVATE_URLS=1)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from tests.conftest import MakeSubmission
from tests.dataserver import DataServer

pytestmark = pytest.mark.slow

CSV = b"x,y\n1,2\n"
NEIGHBOUR = "from codeml_repro import record\nrecord('v', 1)"
CLAIM = {"claims": [{"name": "v", "expected": 1}]}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bomb(megabytes: int) -> bytes:
    """A zip of one member of ``megabytes`` MB of zeros (deflate: about 1000 to 1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("zeros.bin", date_time=(2025, 1, 1, 0, 0, 0))
        with zf.open(info, "w") as out:
            for _ in range(megabytes):
                out.write(b"\0" * 1024**2)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own cache: in the policy of library calls (``_run``), in CODEML_CACHE for the CLI's."""
    monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEML_ALLOW_PRIVATE_URLS", "1")  # the test's server is on 127.0.0.1
    monkeypatch.delenv("CODEML_DATA_MIRROR", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def server() -> Iterator[DataServer]:
    served = DataServer({"x.csv": CSV, "other.csv": b"not,the\nsame,bytes\n"}, trickle_s=0.3)
    yield served
    served.stop()


def _policy(**update: Any) -> RunPolicy:
    sandbox = "required" if shutil.which("bwrap") else "off"
    return RunPolicy(sandbox=sandbox, env="current", cell_timeout_s=60,
                     allow_private_urls=True).model_copy(update=update)


def _run(root: Path, policy: RunPolicy) -> dict[str, Any]:
    """Run every submission under ``root`` (a test's tmp_path) with the test's own cache."""
    own = policy.model_copy(update={"cache": root / "cache"})
    return {r.slug: r for r in run_all(root, own, RunOptions()).results}


def _entry(url: str, digest: str, path: str = "x.csv", **more: Any) -> dict[str, Any]:
    return {"url": url, "sha256": digest, "path": path, **more}


def _wait_for(check: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


def test_trickling_and_silent_servers_end_by_the_rate_rule(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    make_submission("a-trickle", "print('never')", spec={"artifact": {"data": [
        _entry(server.url("trickle"), sha(CSV))]}})
    make_submission("a-stall", "print('never')", spec={"artifact": {"data": [
        _entry(server.url("stall"), sha(CSV))]}})
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    start = time.monotonic()
    results = _run(tmp_path, _policy(fetch_min_rate=1000, fetch_rate_window_s=2))
    assert time.monotonic() - start < 60
    for slug in ("a-trickle", "a-stall"):
        failed = results[slug]
        assert failed.status == Status.FAILED and failed.error is not None, slug
        assert failed.error.type == "DataUnavailable"
        assert "artifact.data[0]" in failed.error.message
        assert "slower than 1000 bytes/s over 2 s" in failed.error.message
    assert results["zz-next"].status == Status.REPRODUCED
    assert _wait_for(lambda: server.open_streams == 0, 10)  # the runner hung up on both
    assert not list((tmp_path / "cache" / "data" / "files").glob(".*.part"))


def test_the_stage_deadline_ends_what_is_unfinished(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    make_submission("a-slow", "print('never')", spec={"artifact": {"data": [
        _entry(server.url("trickle"), sha(CSV))]}})
    make_submission("b-quick", "print(open('x.csv').read())", spec={"artifact": {"data": [
        _entry(server.url("file/x.csv"), sha(CSV))]}})
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    start = time.monotonic()
    results = _run(tmp_path, _policy(fetch_min_rate=0, fetch_timeout_s=3))
    assert time.monotonic() - start < 60
    slow = results["a-slow"]
    assert slow.status == Status.FAILED and slow.error is not None and slow.error.type == "DataUnavailable"
    assert "fetch stage's deadline (3 s)" in slow.error.message
    assert server.url("trickle") in slow.error.message
    assert results["b-quick"].status == Status.FUNCTIONAL
    assert results["zz-next"].status == Status.REPRODUCED


def test_a_neighbours_hash_with_another_url_cannot_poison_it(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    poison = server.url("file/other.csv")
    # Both fetched side by side: had x.csv's verified bytes reached the cache before the poison's
    # fetch started, its declaration would be met from the cache without asking its URL (by design).
    server.hold_until("x.csv", "other.csv")
    make_submission("aa-poison", "print('never')", spec={"artifact": {"data": [_entry(poison, sha(CSV))]}})
    make_submission("zz-data", "from codeml_repro import record\nrecord('n', len(open('x.csv').read()))",
                    spec={"artifact": {"data": [_entry(server.url("file/x.csv"), sha(CSV))]},
                          "claims": [{"name": "n", "expected": len(CSV)}]})
    results = _run(tmp_path, _policy())
    poisoned = results["aa-poison"]
    assert poisoned.status == Status.FAILED and poisoned.error is not None
    assert poisoned.error.type == "DataMismatch" and poison in poisoned.error.message
    assert "19 bytes arrived" in poisoned.error.message
    assert sha(b"not,the\nsame,bytes\n") not in poisoned.error.message
    data = results["zz-data"]
    assert data.status == Status.REPRODUCED, data.error
    assert sorted(server.requests) == ["/file/other.csv", "/file/x.csv"]


def test_an_endless_download_stops_at_the_budget_and_leaves_nothing(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    data = [_entry(server.url(f"endless?n={i}"), sha(str(i).encode()), path=f"d{i}.bin") for i in range(3)]
    make_submission("a-endless", "print('never')", spec={"artifact": {"data": data}})
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    results = _run(tmp_path, _policy(data_bytes=1024**2))
    endless = results["a-endless"]
    assert endless.status == Status.FAILED and endless.error is not None
    assert endless.error.type == "DataTooLarge" and "data budget (1048576 bytes)" in endless.error.message
    assert results["zz-next"].status == Status.REPRODUCED
    files = tmp_path / "cache" / "data" / "files"
    assert not files.exists() or list(files.iterdir()) == []


def test_the_batchs_cache_budget_stops_a_download(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    make_submission("a-endless", "print('never')", spec={"artifact": {"data": [
        _entry(server.url("endless"), sha(b"0"), path="e.bin")]}})
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    results = _run(tmp_path, _policy(data_bytes=50 * 1024**2, cache_bytes=1024**2))
    endless = results["a-endless"]
    assert endless.status == Status.FAILED and endless.error is not None
    assert endless.error.type == "DataTooLarge" and "cache budget (1048576 bytes)" in endless.error.message
    assert results["zz-next"].status == Status.REPRODUCED


MEASURE = """
import json, sys
from pathlib import Path
from codeml_repro.model.policy import RunPolicy
from codeml_repro.run.inputs.fetch import fetch_inputs
from codeml_repro.run.plan.planning import plan

def written():
    return int(dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())["wchar"])

policy = RunPolicy(data_bytes=int(sys.argv[2]), allow_private_urls=True,  # the server is on 127.0.0.1
                   cache=Path(sys.argv[3]))
sub = plan(Path(sys.argv[1]), policy).submission
before = written()
failures = fetch_inputs([sub], policy).failures
after = written()
print(json.dumps({"written": after - before, "failure": failures[sub.slug].message}))
"""


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs /proc/self/io")
def test_bytes_written_for_a_submission_stay_within_its_budget_and_one_read(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    """Five zip bombs and two endless downloads, fetched four at a time: the bytes this process
    writes (every write(2), as the kernel counts them) stay within the budget and one read."""
    bombs = {f"bomb{i}.zip": bomb(40 + i) for i in range(5)}  # distinct bytes, each ~40 kB
    server.files.update(bombs)
    data = [_entry(server.url(f"file/{name}"), sha(body), path=f"b{i}", unpack="zip")
            for i, (name, body) in enumerate(bombs.items())]
    data += [_entry(server.url(f"endless?n={i}"), sha(str(i).encode()), path=f"e{i}.bin") for i in range(2)]
    folder = make_submission("a-bombs", "print('never')", spec={"artifact": {"data": data}})
    budget = 3 * 1024**2
    argv = [sys.executable, "-c", MEASURE, str(folder), str(budget), str(tmp_path / "cache")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    from codeml_repro.run.inputs.transfer import CHUNK

    assert "data budget" in measured["failure"]
    assert budget // 2 < measured["written"] <= budget + CHUNK + 16 * 1024  # + small notes (locks, manifests)
    unpacked = tmp_path / "cache" / "data" / "unpacked"
    assert not unpacked.exists() or not any(p.is_file() for p in unpacked.rglob("*"))


def test_a_hugging_face_repository_over_the_budget_is_not_downloaded(
    tmp_path: Path, make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakehub import FakeHub

    rev = "0123456789abcdef0123456789abcdef01234567"
    hub = FakeHub("org/big", rev, {"config.json": b"{}", "weights.bin": b"\0" * 8192})
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    make_submission("a-big", "print('never')", spec={"artifact": {"data": [
        {"hf": {"repo": "org/big", "revision": rev}}]}})
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    try:
        results = _run(tmp_path, _policy(data_bytes=4096))
    finally:
        hub.stop()
    big = results["a-big"]
    assert big.status == Status.FAILED and big.error is not None and big.error.type == "DataTooLarge"
    assert not any("/resolve/" in r for r in hub.requests)  # no file was downloaded
    assert results["zz-next"].status == Status.REPRODUCED


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_the_fetch_stage_within_seconds(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer, sig: signal.Signals
) -> None:
    cli = [sys.executable, "-m", "codeml_repro.cli", "run", "--root", str(tmp_path), "--sandbox", "off",
           "--env", "current"]
    make_submission("zz-next", NEIGHBOUR, spec=CLAIM)
    subprocess.run(cli, capture_output=True, text=True, timeout=300, check=True, env=os.environ.copy())
    recorded = (tmp_path / "results" / "zz-next.json").read_text()
    make_submission("a-trickle", "print('never')", spec={"artifact": {"data": [
        _entry(server.url("trickle"), sha(CSV))]}})
    # Ctrl-C as a terminal delivers it: the test process may have inherited SIGINT ignored (a
    # background job of a script), and a Python started with it ignored keeps ignoring it.
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert _wait_for(lambda: server.open_streams > 0, 60), "the fetch never started"
    proc.send_signal(sig)
    start = time.monotonic()
    try:
        proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert time.monotonic() - start < 10
    assert proc.returncode != 0
    assert (tmp_path / "results" / "zz-next.json").read_text() == recorded
    assert _wait_for(lambda: server.open_streams == 0, 10)
    assert not list((tmp_path / "cache" / "data" / "files").glob(".*.part"))

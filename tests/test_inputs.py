"""artifact.data end to end: files served on 127.0.0.1 by the test, fetched, verified, mounted, read.

Real fetch (pooch), real sandbox (bwrap when installed), real kernels: the notebook reads its inputs
at the declared paths with no network of its own.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import socket
import threading
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

pytestmark = pytest.mark.slow

CSV = b"x,y\n1,2\n3,4\n5,6\n"


def _zip_bytes() -> bytes:
    """The same bytes on every call: the served archive and its declared sha256 are made apart.

    ``writestr(name, ...)`` would stamp each member with the current time (2-second resolution),
    so two calls straddling such a tick gave other bytes: a ``DataMismatch`` whenever a loaded
    machine let the tick pass between the fixture and the test.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in (("weights/w.txt", "0.5\n"), ("README", "tiny archive\n")):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """An HTTP server on 127.0.0.1 serving a folder, counting requests, stoppable mid-test."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "train.csv").write_bytes(CSV)
    (folder / "archive.zip").write_bytes(_zip_bytes())
    server = Server(folder)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own cache: in the policy of library calls (``_policy``), in CODEML_CACHE for the CLI's."""
    monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEML_ALLOW_PRIVATE_URLS", "1")  # the test's server is on 127.0.0.1
    monkeypatch.setattr("codeml_repro.run.inputs.sources.ATTEMPTS", 2)
    return tmp_path / "cache"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _policy(root: Path) -> RunPolicy:
    """The policy of a run under ``root`` (a test's tmp_path), with the test's own cache."""
    sandbox = "required" if shutil.which("bwrap") else "off"
    return RunPolicy(sandbox=sandbox, env="current", cell_timeout_s=60, allow_private_urls=True,
                     cache=root / "cache")


READS_BOTH = (
    "import csv\nrows = list(csv.DictReader(open('data/train.csv')))\n"
    "w = float(open('data/model/weights/w.txt').read())\n"
    "from codeml_repro import record\nrecord('total', sum(int(r['y']) for r in rows) * w)"
)


def _data(server: Server, csv_hash: str | None = None) -> list[dict[str, Any]]:
    return [
        {"url": server.url("train.csv"), "sha256": csv_hash or sha(CSV), "path": "data/train.csv",
         "size": len(CSV), "license": "CC0-1.0"},
        {"url": server.url("archive.zip"), "sha256": sha(_zip_bytes()), "path": "data/model",
         "unpack": "zip"},
    ]


def _spec(data: list[dict[str, Any]], claim: float = 6.0) -> dict[str, Any]:
    return {"artifact": {"data": data}, "claims": [{"name": "total", "expected": claim}]}


def _results(root: Path, force: bool = False) -> dict[str, Any]:
    report = run_all(root, _policy(root), RunOptions(force=force))
    return {r.slug: r for r in report.results}


def test_fetched_verified_unpacked_and_read_then_from_cache_offline(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    make_submission("reads", READS_BOTH, spec=_spec(_data(served)))
    first = _results(tmp_path)["reads"]
    assert first.status == Status.REPRODUCED, first.error
    assert len(served.requests) == 2
    served.stop()  # a re-run with every file cached needs no network at all
    again = _results(tmp_path, force=True)["reads"]
    assert again.status == Status.REPRODUCED, again.error


def test_shared_inputs_fetched_once(tmp_path: Path, make_submission: MakeSubmission, served: Server) -> None:
    for slug in ("one", "two", "three"):
        make_submission(slug, READS_BOTH, spec=_spec(_data(served)))
    results = _results(tmp_path)
    assert {r.status for r in results.values()} == {Status.REPRODUCED}
    assert sorted(served.requests) == ["/archive.zip", "/train.csv"]


def test_wrong_hash_is_data_mismatch_and_no_notebook_runs(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    wrong = "0" * 64
    make_submission("bad", "raise SystemExit('must not run')", spec=_spec(_data(served, wrong)))
    result = _results(tmp_path)["bad"]
    assert result.status == Status.FAILED
    assert result.error is not None and result.error.type == "DataMismatch"
    assert wrong in result.error.message and f"{len(CSV)} bytes arrived" in result.error.message
    assert sha(CSV) not in result.error.message  # what arrived is not told (an oracle for secrets)
    assert result.error.cell is None and result.notebook is None


def test_unreachable_url_is_data_unavailable_and_the_next_one_runs(
    tmp_path: Path, make_submission: MakeSubmission
) -> None:
    url = f"http://127.0.0.1:{_free_port()}/gone.csv"
    data = [{"url": url, "sha256": sha(CSV), "path": "data/gone.csv"}]
    make_submission("a-gone", "print('never')", spec={"artifact": {"data": data}})
    make_submission("b-next", "from codeml_repro import record\nrecord('v', 1)",
                    spec={"claims": [{"name": "v", "expected": 1}]})
    results = _results(tmp_path)
    gone = results["a-gone"]
    assert gone.status == Status.FAILED and gone.error is not None
    assert gone.error.type == "DataUnavailable"
    assert url in gone.error.message and "artifact.data[0]" in gone.error.message
    assert results["b-next"].status == Status.REPRODUCED
    again = run_all(tmp_path, _policy(tmp_path), RunOptions())  # unreachable today, perhaps not tomorrow
    assert "a-gone" not in again.skipped and "b-next" in again.skipped


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_notebook_cannot_reach_the_server_itself(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    source = (
        "import urllib.request\n"
        f"urllib.request.urlopen({served.url('train.csv')!r}, timeout=5).read()"
    )
    make_submission("fetcher", source)
    result = _results(tmp_path)["fetcher"]
    assert result.status == Status.FAILED and result.error is not None
    assert result.error.type == "HTTPError"  # refused by the sandbox's download proxy: not declared
    assert "is not a declared download" in result.error.message
    assert served.requests == []


def test_mounted_input_is_read_only(tmp_path: Path, make_submission: MakeSubmission, served: Server) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    data = _data(served)[:1]
    make_submission("writer", "open('data/train.csv', 'a').write('oops')", spec={"artifact": {"data": data}})
    result = _results(tmp_path)["writer"]
    assert result.status == Status.FAILED and result.error is not None
    # EROFS; as root the kernel is nobody, and the file's permissions refuse the write first
    assert result.error.type in ("OSError", "PermissionError")
    cached = tmp_path / "cache" / "data" / "files" / sha(CSV)
    assert cached.read_bytes() == CSV


def test_changed_cache_file_is_fetched_again(
    tmp_path: Path, make_submission: MakeSubmission, served: Server, data_cache: Path
) -> None:
    make_submission("reads", READS_BOTH, spec=_spec(_data(served)))
    assert _results(tmp_path)["reads"].status == Status.REPRODUCED
    cached = data_cache / "data" / "files" / sha(CSV)
    cached.write_bytes(b"x,y\n9,9\n")
    served.requests.clear()
    assert _results(tmp_path, force=True)["reads"].status == Status.REPRODUCED
    assert served.requests == ["/train.csv"]
    assert cached.read_bytes() == CSV


def test_shipped_file_verified(tmp_path: Path, make_submission: MakeSubmission) -> None:
    folder = make_submission("shipped", "print(open('data/x.csv').read())",
                             spec={"artifact": {"data": [{"path": "data/x.csv", "sha256": sha(CSV)}]}})
    (folder / "data").mkdir()
    (folder / "data" / "x.csv").write_bytes(CSV)
    assert _results(tmp_path)["shipped"].status == Status.FUNCTIONAL
    (folder / "data" / "x.csv").write_bytes(CSV + b"7,8\n")
    changed = _results(tmp_path)["shipped"]  # the file changed: the skip key did too
    assert changed.status == Status.FAILED and changed.error is not None
    assert changed.error.type == "DataMismatch"


def test_declared_size_over_budget_is_invalid_before_download(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    data = [{"url": served.url("train.csv"), "sha256": sha(CSV), "path": "d.csv", "size": 10**6}]
    make_submission("big", "print(1)", spec={"artifact": {"data": data}})
    policy = _policy(tmp_path).model_copy(update={"data_bytes": 1000})
    result = run_all(tmp_path, policy, RunOptions()).results[0]
    assert result.status == Status.INVALID and result.error is not None
    assert "data budget" in result.error.message
    assert served.requests == []


def test_undeclared_size_stopped_at_budget(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    data = [{"url": served.url("train.csv"), "sha256": sha(CSV), "path": "d.csv"}]
    make_submission("big", "print(1)", spec={"artifact": {"data": data}})
    policy = _policy(tmp_path).model_copy(update={"data_bytes": 5})
    result = run_all(tmp_path, policy, RunOptions()).results[0]
    assert result.status == Status.FAILED and result.error is not None
    assert result.error.type == "DataTooLarge"


REV = "0123456789abcdef0123456789abcdef01234567"
LOADS_MODEL = (
    "import json, os\n"
    "from huggingface_hub import hf_hub_download\n"
    "config = json.load(open(hf_hub_download('org/tiny', 'config.json')))\n"
    "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['TRANSFORMERS_OFFLINE'] == '1'\n"
    "from codeml_repro import record\nrecord('hidden', config['hidden_size'])"
)


def test_hf_model_fetched_from_a_fake_hub_then_loaded_offline(
    tmp_path: Path, make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakehub import FakeHub

    files = {"config.json": b'{"hidden_size": 8}', "weights.bin": b"\0" * 4096}
    hub = FakeHub("org/tiny", REV, files)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    data = [{"hf": {"repo": "org/tiny", "revision": REV, "files": ["*.json"]}}]
    spec = {"artifact": {"data": data}, "claims": [{"name": "hidden", "expected": 8}]}
    make_submission("hf-model", LOADS_MODEL, spec=spec)
    try:
        first = _results(tmp_path)["hf-model"]
        assert first.status == Status.REPRODUCED, first.error
        assert not any("weights.bin" in r for r in hub.requests)  # only the declared patterns
    finally:
        hub.stop()
    hub.requests.clear()
    again = _results(tmp_path, force=True)["hf-model"]  # the hub is gone: everything from the cache
    assert again.status == Status.REPRODUCED, again.error
    assert hub.requests == []


def test_hf_unreachable_is_data_unavailable(
    tmp_path: Path, make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    data = [{"hf": {"repo": "org/tiny", "revision": REV}}]
    make_submission("hf-gone", "print('never')", spec={"artifact": {"data": data}})
    result = _results(tmp_path)["hf-gone"]
    assert result.status == Status.FAILED and result.error is not None
    assert result.error.type == "DataUnavailable" and "org/tiny" in result.error.message


def _results_file(root: Path, slug: str) -> str:
    """A recorded result's status and error, for an assertion's message."""
    import json

    try:
        result = json.loads((root / "results" / f"{slug}.json").read_text())
    except (OSError, ValueError) as exc:
        return f"no result recorded ({exc})"
    return f"{result.get('status')}: {result.get('error')}"


def test_cli_shows_the_fetch_and_hash_prints_what_to_declare(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    import subprocess
    import sys

    make_submission("reads", READS_BOTH, spec=_spec(_data(served)))
    cli = [sys.executable, "-m", "codeml_repro.cli"]
    run = subprocess.run([*cli, "run", "--root", str(tmp_path), "--sandbox", "off", "--env", "current"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    recorded = _results_file(tmp_path, "reads")  # on failure, the run's own account of why
    assert "inputs" in run.stderr and "2/2" in run.stderr and "reproduced" in run.stdout, recorded
    csv = tmp_path / "served" / "train.csv"
    hashed = subprocess.run([*cli, "hash", str(csv)], capture_output=True, text=True, check=True)
    assert hashed.stdout.split() == [sha(CSV), str(len(CSV)), str(csv)]
    missing = subprocess.run([*cli, "hash", str(tmp_path / "nope.csv")], capture_output=True, text=True)
    assert missing.returncode != 0 and "nope.csv" in missing.stderr
    small = subprocess.run([*cli, "validate", "--root", str(tmp_path)], capture_output=True, text=True)
    assert small.returncode == 0
    # the declared 18-byte CSV is over a 10-byte budget: invalid before any download
    tiny = subprocess.run([*cli, "run", "--root", str(tmp_path), "--sandbox", "off", "--force",
                           "--data-budget", "10"], capture_output=True, text=True, timeout=120)
    assert tiny.returncode == 0 and "invalid" in tiny.stdout
    bad = subprocess.run([*cli, "run", "--root", str(tmp_path), "--data-budget", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--data-budget" in bad.stderr


def test_missing_file_on_the_server_is_not_asked_again(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    data = [{"url": served.url("missing.csv"), "sha256": sha(CSV), "path": "d.csv"}]
    make_submission("moved", "print(1)", spec={"artifact": {"data": data}})
    result = _results(tmp_path)["moved"]
    assert result.error is not None and result.error.type == "DataUnavailable"
    assert "404" in result.error.message and served.requests == ["/missing.csv"]


def test_hf_fetch_uses_neither_the_maintainers_token_nor_their_hugging_face_home(tmp_path: Path) -> None:
    """A maintainer logged in to the Hub (token file, HF_TOKEN) runs an author's declared repository:
    the download is anonymous and leaves their ~/.cache/huggingface as it was (its own home instead)."""
    import os
    import subprocess
    import sys

    from tests.fakehub import FakeHub

    hub = FakeHub("org/tiny", REV, {"config.json": b'{"hidden_size": 8}'})
    home = tmp_path / "maintainer"
    (home / ".cache" / "huggingface").mkdir(parents=True)
    (home / ".cache" / "huggingface" / "token").write_text("hf_maintainer_file_token")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "XDG_"))}
    env.update(HOME=str(home), HF_TOKEN="hf_maintainer_env_token", HF_ENDPOINT=hub.url)
    code = (
        "from pathlib import Path\n"
        "from codeml_repro.model.inputs import HfSource\n"
        "from codeml_repro.run.inputs.fetch import hf_cache\n"
        "from codeml_repro.run.inputs.hfhub import fetch_hf\n"
        f"cache = Path({str(tmp_path / 'cache')!r})  # the policy's cache folder, handed down\n"
        f"print(fetch_hf(HfSource(repo='org/tiny', revision='{REV}'), hf_cache(cache)))\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=120)
    finally:
        hub.stop()
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip(), "config.json").read_bytes() == b'{"hidden_size": 8}'
    assert any("/resolve/" in r for r in hub.requests)  # it did download
    assert hub.tokens == []
    assert sorted(p.name for p in home.rglob("*")) == [".cache", "huggingface", "token"]


def test_the_kernel_has_a_hugging_face_home_of_its_own(
    tmp_path: Path, make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's HF_HOME, HF_TOKEN and home never reach the kernel: it caches in the run's own home."""
    host_hf = tmp_path / "host-hf"
    monkeypatch.setenv("HF_HOME", str(host_hf))
    monkeypatch.setenv("HF_TOKEN", "hf_runner_token")
    source = (
        "import os\n"
        "from huggingface_hub import constants\n"
        "assert 'HF_TOKEN' not in os.environ\n"
        "for path in (constants.HF_HOME, constants.HF_HUB_CACHE, constants.HF_TOKEN_PATH):\n"
        f"    assert not path.startswith(({str(host_hf)!r}, {str(Path.home())!r} + '/')), path\n"
        "    assert path.startswith(os.environ['HOME']), path\n"
        "print(constants.HF_HOME)"
    )
    make_submission("own-home", source)
    result = _results(tmp_path)["own-home"]
    assert result.status == Status.FUNCTIONAL, result.error

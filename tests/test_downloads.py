"""Declared downloads answered offline by the in-sandbox proxy; inputs placed in a library's cache.

Real fetch stage, real bwrap sandbox (its own network namespace), real kernels: the notebook
downloads by URL with requests, urllib and pooch; the test's loopback server is never reached
from inside (the sandbox has only its own ``lo``), only the proxy answers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.result import Status
from codeml_repro.model.submission import load_submission
from codeml_repro.run.inputs.fetch import file_path
from tests.conftest import MakeSubmission
from tests.test_inputs import CSV, Server, _results, sha

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]

TIPS = b"total_bill,tip\n16.99,1.01\n10.34,1.66\n"


@pytest.fixture(autouse=True)
def private_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEML_ALLOW_PRIVATE_URLS", "1")  # declared 127.0.0.1 URLs pass the address rule


@pytest.fixture
def served(tmp_path: Path) -> Any:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "train.csv").write_bytes(CSV)
    server = Server(folder)
    yield server
    server.stop()


def _seed(cache: Path, data: bytes) -> str:
    """The verified copy of an https input in the cache folder ``cache``, as the fetch stage leaves it
    (no TLS server on the host)."""
    digest = sha(data)
    file_path(cache, digest).parent.mkdir(parents=True, exist_ok=True)
    file_path(cache, digest).write_bytes(data)
    return digest


DOWNLOADS = """
import socket, time, urllib.request, urllib.error, requests, pooch
from codeml_repro import record
record('requests', requests.get(HTTP_URL, timeout=5).text.count('\\n'))
record('urllib', urllib.request.urlopen(HTTPS_URL, timeout=5).read().count(b'\\n'))
path = pooch.retrieve(HTTPS_URL, known_hash=None, path='pooch-cache', progressbar=False)
record('pooch', open(path).read().count('\\n'))
start = time.monotonic()
try:
    requests.get(UNDECLARED, timeout=30).raise_for_status()
except requests.HTTPError as exc:
    refused = str(exc)
record('refused_fast', time.monotonic() - start < 2)
record('refused_names_url', UNDECLARED in refused and 'artifact.data' in refused)
try:
    urllib.request.urlopen('https://example.org/data.csv', timeout=30)
except urllib.error.URLError as exc:
    tunnel = str(exc)
record('tunnel_names_host', 'https://example.org/' in tunnel and 'artifact.data' in tunnel)
start = time.monotonic()
try:
    socket.getaddrinfo('example.org', 443)
except OSError:
    pass
record('lookup_fast', time.monotonic() - start < 1)
"""


def test_declared_urls_answered_offline_others_refused_at_once(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    https_url = "https://127.0.0.1:9/tips.csv"  # nothing listens there: only the proxy can answer
    undeclared = served.url("other.csv")
    data = [
        {"url": served.url("train.csv"), "sha256": sha(CSV), "path": "data/train.csv"},
        {"url": https_url, "sha256": _seed(tmp_path / "cache", TIPS), "path": "data/tips.csv"},
    ]
    head = f"HTTP_URL = {served.url('train.csv')!r}\nHTTPS_URL = {https_url!r}\nUNDECLARED = {undeclared!r}\n"
    claims = [{"name": n, "expected": v} for n, v in (
        ("requests", 4), ("urllib", 3), ("pooch", 3), ("refused_fast", True), ("refused_names_url", True),
        ("tunnel_names_host", True), ("lookup_fast", True))]
    make_submission("downloads", head + DOWNLOADS, spec={"artifact": {"data": data}, "claims": claims})
    result = _results(tmp_path)["downloads"]
    assert result.status == Status.REPRODUCED, (result.error, [(c.name, c.observed) for c in result.claims])
    assert served.requests == ["/train.csv"]  # the fetch stage's; the kernel never reached the server


PLACED = """
import os
from codeml_repro import record
home = os.path.expanduser('~')
record('seaborn', open(os.environ['SEABORN_DATA'] + '/tips.csv', 'rb').read() == TIPS)
record('pooch', open(f'{home}/.cache/myapp/v1/tips.csv', 'rb').read() == TIPS)
record('keras', open(f'{home}/.keras/datasets/tips.csv', 'rb').read() == TIPS)
import hashlib, pooch  # pooch finds it in its cache: the URL is neither declared nor reachable
known = 'sha256:' + hashlib.sha256(TIPS).hexdigest()
found = pooch.retrieve('https://example.org/elsewhere/tips.csv', fname='tips.csv', progressbar=False,
                       known_hash=known, path=pooch.os_cache('myapp') / 'v1')
record('pooch_lib', open(found, 'rb').read() == TIPS)
open(f'{home}/.cache/seaborn/new.csv', 'w').write('a library may add its own files')
record('not_in_folder', not os.path.exists('tips.csv'))
"""


def test_inputs_placed_in_a_library_cache(tmp_path: Path, make_submission: MakeSubmission) -> None:
    digest = _seed(tmp_path / "cache", TIPS)
    url = "https://raw.githubusercontent.com/mwaskom/seaborn-data/master/tips.csv"
    data = [
        {"url": url, "sha256": digest, "path": "tips.csv", "place": "seaborn"},
        {"url": url + "?v1", "sha256": digest, "path": "v1/tips.csv", "place": "pooch:myapp"},
        {"url": url + "?k", "sha256": digest, "path": "datasets/tips.csv", "place": "~/.keras"},
    ]
    names = ("seaborn", "pooch", "pooch_lib", "keras", "not_in_folder")
    claims = [{"name": n, "expected": True} for n in names]
    spec = {"artifact": {"data": data}, "claims": claims}
    make_submission("placed", f"TIPS = {TIPS!r}\n" + PLACED, spec=spec)
    result = _results(tmp_path)["placed"]
    assert result.status == Status.REPRODUCED, (result.error, [(c.name, c.observed) for c in result.claims])


@pytest.mark.parametrize(("entry", "problem"), [
    ({"place": "conda"}, "place"),
    ({"place": "~/../etc"}, "place"),
    ({"place": "pooch:"}, "place"),
])
def test_a_bad_place_is_one_line_naming_the_field(
    make_submission: MakeSubmission, entry: dict[str, str], problem: str
) -> None:
    data = [{"url": "https://example.org/a.csv", "sha256": "0" * 64, "path": "a.csv", **entry}]
    folder = make_submission("bad-place", "1", spec={"artifact": {"data": data}})
    with pytest.raises(SubmissionInvalid) as err:
        load_submission(folder)
    assert problem in err.value.message and "\n" not in err.value.message


FETCHES = """
import requests, urllib.request
a = requests.get(URL, timeout=10)
a.raise_for_status()
b = urllib.request.urlopen(URL + '?again', timeout=10).read()
print(len(a.content), len(b))
"""


def _checked(folder: Path, cache: Path, **kw: Any) -> Any:
    from codeml_repro.authoring.check import check_path
    from codeml_repro.model.policy import RunPolicy

    return check_path(folder, RunPolicy(sandbox="required", env="current", cell_timeout_s=60,
                                        allow_private_urls=True, cache=cache), **kw)


def test_check_without_the_flag_prints_the_entry_for_a_refused_url(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    url = served.url("train.csv")
    folder = make_submission("undeclared", f"URL = {url!r}\n" + FETCHES)
    report = _checked(folder, tmp_path / "cache")
    assert not report.ok and report.result.error is not None
    assert report.result.error.type == "HTTPError"
    assert f"url: {url}" in report.text and "--record-downloads" in report.text
    assert served.requests == []  # refused inside the sandbox: the server never saw the notebook


def test_check_record_downloads_prints_entries_to_paste(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    import yaml

    url = served.url("train.csv")
    folder = make_submission("recorded", f"URL = {url!r}\n" + FETCHES)
    report = _checked(folder, tmp_path / "cache", record_downloads=True)
    assert report.result.status == Status.FUNCTIONAL, report.text
    assert served.requests == ["/train.csv", "/train.csv?again"]  # forwarded by the recorder
    start = report.lines.index("      artifact:")
    pasted = yaml.safe_load("\n".join(line[6:] for line in report.lines[start:]))
    entries = {e["url"]: e for e in pasted["artifact"]["data"]}
    assert set(entries) == {url, url + "?again"}
    assert entries[url]["sha256"] == sha(CSV) and entries[url]["size"] == len(CSV)
    assert entries[url]["path"] == "downloads/train.csv"
    assert entries[url + "?again"]["path"] == "downloads/1-train.csv"  # each input its own place
    spec = yaml.safe_load((folder / "submission.yml").read_text())
    spec["artifact"] = pasted["artifact"]
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    again = _checked(folder, tmp_path / "cache")  # pasted as printed: both URLs answered offline
    assert again.result.status == Status.FUNCTIONAL, again.text
    # at most the fetch stage's one download per entry: the notebook's own two requests never reach it
    assert len(served.requests) <= 4


def test_record_downloads_without_a_sandbox(
    tmp_path: Path, make_submission: MakeSubmission, served: Server
) -> None:
    """An author without bwrap (macOS): the kernel still downloads through the recorder."""
    from codeml_repro.authoring.check import check_path
    from codeml_repro.model.policy import RunPolicy

    url = served.url("train.csv")
    folder = make_submission("recorded-off", f"URL = {url!r}\n" + FETCHES)
    policy = RunPolicy(sandbox="off", env="current", allow_private_urls=True, cache=tmp_path / "cache")
    report = check_path(folder, policy, record_downloads=True)
    assert report.result.status == Status.FUNCTIONAL, report.text
    assert f'- url: "{url}"' in report.text and sha(CSV) in report.text

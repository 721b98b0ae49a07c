"""The fetch stage reaches public addresses only: literal hosts refused at validate, names and
redirect hops refused where the connection is made; each beside a neighbour that still runs."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeml_repro.model.addresses import literal_rule
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from tests.conftest import MakeSubmission
from tests.dataserver import DataServer

CSV = b"x,y\n1,2\n"
NEIGHBOUR = "from codeml_repro import record\nrecord('v', 1)"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def no_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "cache"))  # for the CLI; _policy names it too
    monkeypatch.delenv("CODEML_ALLOW_PRIVATE_URLS", raising=False)


@pytest.fixture
def server() -> Iterator[DataServer]:
    served = DataServer({"x.csv": CSV})
    yield served
    served.stop()


def _policy(root: Path, **update: object) -> RunPolicy:
    """The policy of a run under ``root`` (a test's tmp_path), with the test's own cache."""
    sandbox = "required" if shutil.which("bwrap") else "off"
    return RunPolicy(sandbox=sandbox, env="current", cell_timeout_s=60,
                     cache=root / "cache").model_copy(update=update)


@pytest.mark.parametrize(("url", "rule"), [
    ("http://127.0.0.1/a", "loopback"), ("http://2130706433/a", "loopback"),
    ("http://127.1/a", "loopback"), ("http://0x7f000001/a", "loopback"), ("http://[::1]/a", "loopback"),
    ("http://[::ffff:127.0.0.1]/a", "loopback"), ("http://169.254.169.254/latest", "link-local"),
    ("http://10.1.2.3/a", "private"), ("http://[fd00::1]/a", "private"), ("http://224.0.0.1/a", "multicast"),
    ("http://240.0.0.1/a", "reserved"), ("http://0.0.0.0/a", "unspecified"),
    ("http://localhost:8000/a", "localhost"), ("http://a.localhost./a", "localhost"),
    ("ftp://example.org/a", "only http and https"),
])
def test_private_literals_are_named(url: str, rule: str) -> None:
    problem = literal_rule(url)
    assert problem is not None and rule in problem


@pytest.mark.parametrize("url", ["https://example.org/a.csv", "http://8.8.8.8/a", "http://[2606:4700::1]/a",
                                 "https://zenodo.org/records/1/files/a.csv?download=1"])
def test_public_literals_and_names_pass(url: str) -> None:
    assert literal_rule(url) is None


def _hostname_on_loopback() -> str:
    """This machine's name, when it resolves to a non-public address (as it does in /etc/hosts)."""
    from codeml_repro.model.addresses import address_rule, parse_ip

    name = socket.gethostname()
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip(f"{name} does not resolve")
    ips = [parse_ip(str(a)) for a in found]
    if not ips or any(ip is None or address_rule(ip) is None for ip in ips):
        pytest.skip(f"{name} resolves to a public address")
    return name


def test_private_addresses_refused_and_the_neighbour_runs(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer
) -> None:
    literals = {"a-loopback": server.url("file/x.csv"), "a-integer": f"http://2130706433:{server.port}/x",
                "a-ipv6": f"http://[::1]:{server.port}/x", "a-metadata": "http://169.254.169.254/latest/x"}
    for slug, url in literals.items():
        data = [{"url": url, "sha256": sha(CSV), "path": "x.csv"}]
        make_submission(slug, "raise SystemExit('must not run')", spec={"artifact": {"data": data}})
    name = _hostname_on_loopback()
    data = [{"url": server.url("file/x.csv", host=name), "sha256": sha(CSV), "path": "x.csv"}]
    make_submission("b-name", "raise SystemExit('must not run')", spec={"artifact": {"data": data}})
    make_submission("zz-next", NEIGHBOUR, spec={"claims": [{"name": "v", "expected": 1}]})
    results = {r.slug: r for r in run_all(tmp_path, _policy(tmp_path), RunOptions()).results}
    for slug in literals:
        invalid = results[slug]
        assert invalid.status == Status.INVALID and invalid.error is not None, slug
        message = invalid.error.message
        assert "artifact.data[0].url" in message and "not a public address" in message
    named = results["b-name"]
    assert named.status == Status.FAILED and named.error is not None
    assert named.error.type == "DataUnavailable" and "not a public address" in named.error.message
    assert "artifact.data[0]" in named.error.message
    assert server.requests == []  # not one request reached the private server
    assert results["zz-next"].status == Status.REPRODUCED


def test_every_redirect_hop_is_checked_where_it_connects(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first hop that passes (here 127.0.0.1 counts as public) redirecting to one that does not."""
    from codeml_repro.run.inputs import netguard
    from codeml_repro.run.inputs.fetch import fetch_inputs
    from codeml_repro.run.plan.planning import plan

    monkeypatch.setattr(netguard, "address_rule", lambda ip: "link-local" if str(ip) == "127.0.0.2" else None)
    inner = DataServer({"x.csv": CSV}, host="127.0.0.2")
    try:
        hop = server.url(f"redirect?to={inner.url('file/x.csv', host='127.0.0.2')}")
        folder = make_submission("hops", "print(1)", spec={"artifact": {"data": [
            {"url": hop, "sha256": sha(CSV), "path": "x.csv"}]}})
        sub = plan(folder, _policy(tmp_path, allow_private_urls=True)).submission  # the literal check passes
        assert sub is not None
        failure = fetch_inputs([sub], _policy(tmp_path, allow_private_urls=False)).failures["hops"]
    finally:
        inner.stop()
    assert failure.__class__.__name__ == "DataUnavailable"
    assert "127.0.0.2" in failure.message and "link-local" in failure.message
    assert server.requests and server.requests[0].startswith("/redirect")
    assert inner.requests == []


def test_the_maintainers_setting_allows_private_addresses(
    tmp_path: Path, make_submission: MakeSubmission, server: DataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeml_repro.cli.options import environment_settings

    monkeypatch.setenv("CODEML_ALLOW_PRIVATE_URLS", "1")  # read by the CLI into the policy
    data = [{"url": server.url("file/x.csv"), "sha256": sha(CSV), "path": "x.csv"}]
    make_submission("local", "print(open('x.csv').read())", spec={"artifact": {"data": data}})
    allowed = environment_settings()["allow_private_urls"]
    result = run_all(tmp_path, _policy(tmp_path, allow_private_urls=allowed), RunOptions()).results[0]
    assert result.status == Status.FUNCTIONAL, result.error
    assert server.requests == ["/file/x.csv"]


def test_validate_refuses_a_private_literal_and_passes_the_neighbour(
    tmp_path: Path, make_submission: MakeSubmission
) -> None:
    from click.testing import CliRunner

    from codeml_repro.cli import cli

    data = [{"url": "http://2130706433/x.csv", "sha256": sha(CSV), "path": "x.csv"}]
    make_submission("a-private", "print(1)", spec={"artifact": {"data": data}})
    make_submission("zz-next", NEIGHBOUR, spec={"claims": [{"name": "v", "expected": 1}]})
    done = CliRunner().invoke(cli, ["validate", "--root", str(tmp_path)])
    assert done.exit_code == 1
    rule = "artifact.data[0].url: not fetched: its host 127.0.0.1 is not a public address (loopback)"
    assert rule in done.output
    assert "ok: zz-next" in done.output and "1 valid, 1 invalid" in done.output

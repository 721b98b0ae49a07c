"""The download proxy itself, in this process: declared URLs answered (whole, in parts, over TLS
with the run's CA), everything else refused with the URL and the advice. No sandbox, no network."""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeml_repro.run.sandbox.certs import RunCA
from codeml_repro.run.sandbox.proxy_inside import REFUSED, Proxy, byte_range, normal_url
from tests.conftest import MakeSubmission

DATA = bytes(range(256)) * 4


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[Proxy, Path]]:
    ca = RunCA()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    cert, key = ca.leaf("data.example.org")
    (tmp_path / "leaf.pem").write_bytes(cert)
    (tmp_path / "leaf.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    (tmp_path / "file").write_bytes(DATA)
    urls = {normal_url(u): str(tmp_path / "file")
            for u in ("http://data.example.org/a.bin", "https://data.example.org/b.bin?v=1")}
    server = Proxy(("127.0.0.1", 0), urls.get, {"data.example.org": context}.get)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, tmp_path / "ca.pem"
    server.shutdown()
    server.server_close()


def _opener(server: Proxy, ca: Path) -> urllib.request.OpenerDirector:
    address = f"http://127.0.0.1:{server.server_address[1]}"
    handlers = [urllib.request.ProxyHandler({"http": address, "https": address}),
                urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(ca)))]
    return urllib.request.build_opener(*handlers)


def test_declared_urls_answered_whole_in_parts_and_over_tls(proxy: tuple[Proxy, Path]) -> None:
    opener = _opener(*proxy)
    assert opener.open("http://DATA.example.org:80/a.bin", timeout=5).read() == DATA
    ranged = urllib.request.Request("http://data.example.org/a.bin", headers={"Range": "bytes=10-19"})
    part = opener.open(ranged, timeout=5)
    assert part.status == 206 and part.read() == DATA[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(DATA)}"
    # over TLS, verified with the run's CA alone
    assert opener.open("https://data.example.org/b.bin?v=1", timeout=5).read() == DATA


@pytest.mark.parametrize(("url", "method", "shown"), [
    ("http://data.example.org/other.bin", "GET", "http://data.example.org/other.bin"),
    ("http://data.example.org/a.bin", "POST", "http://data.example.org/a.bin"),
    ("https://data.example.org/b.bin?v=2", "GET", "https://data.example.org/b.bin?v=2"),
    ("https://elsewhere.example.com/c.bin", "GET", "https://elsewhere.example.com/"),  # no certificate
])
def test_anything_else_refused_naming_the_url(
    proxy: tuple[Proxy, Path], url: str, method: str, shown: str
) -> None:
    data = b"x" if method == "POST" else None
    with pytest.raises(urllib.error.URLError) as err:
        _opener(*proxy).open(urllib.request.Request(url, data=data, method=method), timeout=5)
    assert f"{shown} {REFUSED}" in str(err.value) and "artifact.data" in str(err.value)


def test_ranges_and_urls_as_compared() -> None:
    assert byte_range("bytes=0-", 10) == (0, 9)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=5-100", 10) == (5, 9)
    assert byte_range("bytes=1-2,4-5", 10) == (0, 9)  # several ranges: the whole file
    assert normal_url("HTTPS://Example.ORG:443/a/B.csv?x=1#top") == "https://example.org/a/B.csv?x=1"
    assert normal_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"


def test_recorded_seaborn_download_is_placed_and_its_index_left_out(make_submission: MakeSubmission) -> None:
    import yaml

    from codeml_repro.authoring.data_hints import recorded_lines
    from codeml_repro.model.submission import load_submission
    from codeml_repro.run.sandbox.recorder import Download

    sub = load_submission(make_submission("tips", "1"))
    tips = "https://raw.githubusercontent.com/mwaskom/seaborn-data/master/tips.csv"
    index = "https://github.com/mwaskom/seaborn-data"
    other = "https://example.org/a/data.csv"
    downloads = [Download(u, u, "ab" * 32, 10, Path("x")) for u in (index, tips, other)]
    lines = recorded_lines(downloads, sub)
    start = lines.index("      artifact:")
    entries = yaml.safe_load("\n".join(line[6:] for line in lines[start:]))["artifact"]["data"]
    assert [e["url"] for e in entries] == [tips, other]
    assert entries[0]["place"] == "seaborn" and entries[0]["path"] == "tips.csv"
    assert "place" not in entries[1] and entries[1]["path"] == "downloads/data.csv"

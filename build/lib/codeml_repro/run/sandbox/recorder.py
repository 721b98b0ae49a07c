"""``check --record-downloads``: the download proxy in recording mode, on the author's machine.

While :func:`recording` is active, a run's sandbox keeps the host's network and its kernel's
proxy is this one, in the runner: the same :class:`~.proxy_inside.Proxy`, whose answer for
each URL is fetched from the network (redirects followed), hashed and noted, and whose
``https://`` tunnels are terminated with a certificate minted for the host by the run's CA.
``check`` then prints the ``artifact.data`` entries to paste (:mod:`codeml_repro.authoring.data_hints`).
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.inputs import DEFAULT_DATA_BUDGET
from codeml_repro.run.sandbox.certs import RunCA
from codeml_repro.run.sandbox.proxy_inside import Proxy, Unanswered

CHUNK = 1 << 20
AGENT = "Mozilla/5.0 (compatible; codeml-repro check --record-downloads)"  # some hosts refuse Python-urllib
_ACTIVE: list[Recorder] = []


@dataclass(frozen=True)
class Download:
    """One URL the notebook read, and what it got."""

    url: str
    final: str  # where it was read from, after redirects
    sha256: str
    size: int
    file: Path


class Recorder:
    """A forwarding proxy on 127.0.0.1 that notes every file it passes on (at most ``limit`` bytes each)."""

    def __init__(self, limit: int = DEFAULT_DATA_BUDGET) -> None:
        self.limit = limit
        self.ca = RunCA()
        self.downloads: dict[str, Download] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._folder = tempfile.TemporaryDirectory(prefix="codeml-record-")
        self.server = Proxy(("127.0.0.1", 0), self.answer, self.context_for)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="record")
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._folder.cleanup()

    def context_for(self, host: str) -> ssl.SSLContext:
        """A TLS context with a leaf certificate for ``host``, minted once."""
        with self._lock:
            if host not in self._contexts:
                cert, key = self.ca.leaf(host)
                stem = Path(self._folder.name) / f"leaf-{len(self._contexts)}"
                stem.with_suffix(".pem").write_bytes(cert)
                stem.with_suffix(".key").write_bytes(key)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(stem.with_suffix(".pem"), stem.with_suffix(".key"))
                self._contexts[host] = context
            return self._contexts[host]

    def answer(self, url: str) -> str:
        """The file for ``url``: fetched once (no proxy of the host's), hashed as it arrives."""
        with self._lock:
            known = self.downloads.get(url)
        if known is not None:
            return str(known.file)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            response = opener.open(urllib.request.Request(url, headers={"User-Agent": AGENT}), timeout=60)
        except urllib.error.HTTPError as exc:
            raise Unanswered(exc.code, str(exc.reason)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unanswered(502, f"codeml-repro: could not fetch {url}: {exc}") from None
        with self._lock:
            target = Path(self._folder.name) / f"file-{len(self.downloads)}"
            target.touch()
        digest, size = hashlib.sha256(), 0
        with response, target.open("wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                size += len(block)
                if size > self.limit:
                    raise Unanswered(502, f"codeml-repro: {url} is over the data budget ({self.limit} bytes)")
                digest.update(block)
                out.write(block)
            final = response.geturl()
        with self._lock:
            self.downloads.setdefault(url, Download(url, final, digest.hexdigest(), size, target))
        return str(target)


def active() -> Recorder | None:
    """The recorder runs use now, if :func:`recording` is active."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def recording(limit: int = DEFAULT_DATA_BUDGET) -> Iterator[Recorder]:
    """Runs started inside keep the network and download through a new :class:`Recorder`."""
    rec = Recorder(limit)
    _ACTIVE.append(rec)
    try:
        yield rec
    finally:
        _ACTIVE.remove(rec)
        rec.close()

"""Inside the sandbox, beside the kernel: an HTTP(S) proxy that answers declared downloads offline.

The sandbox has no network (its own network namespace holds only ``lo``), so a notebook that
downloads a file by its URL (``requests``, ``urllib``, ``pooch``, ``pandas.read_csv(url)``)
would fail. The kernel's environment names this proxy (``http_proxy``, ``https_proxy``) and a
certificate authority made for the run (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``); the proxy
answers each URL declared under ``artifact.data`` with the verified file the fetch stage
cached (bound read-only here), and refuses every other request at once, with a reason that
names the URL and says how to declare it (what ``raise_for_status`` and ``urllib`` show).
``https://`` URLs arrive as ``CONNECT host:port``: the proxy terminates TLS with a
certificate for that host, signed on the host by the run's CA (:mod:`.certs`); a host with no
declared URL has no certificate, and its tunnel is refused.

Run as a script (``python -I -S -c <its text> CONFIG -- COMMAND...``) in the kernel
environment's interpreter, like :mod:`.scratchfs_inside`: the standard library only. It binds
its port, forks a server (reparented to the sandbox's init, so the kernel never waits for it),
then executes ``COMMAND``, so the port is listening before the kernel starts. ``CONFIG`` is
JSON: ``{"host", "port", "urls": {url: file}, "certs": {host: [cert, key]}}``. The runner also
imports :class:`Proxy` for ``check --record-downloads`` (it forwards and records instead).
"""

from __future__ import annotations

import json
import mimetypes
import os
import ssl
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

CHUNK = 1 << 16
REFUSED = "is not a declared download"  # what check's advice looks for in an error
ADVICE = (
    "declare it under artifact.data (url, sha256, path) to have it answered offline; "
    "`codeml-repro check SLUG --record-downloads` prints the entry"
)
_PORTS = {"http": 80, "https": 443}


class Unanswered(Exception):
    """An upstream answer that is not a file (recording mode): its status and reason.

    Not a ``ReproError`` (tests/test_errors_root.py allows it): this module runs as a script
    inside the sandbox on the standard library only, and the error never leaves the proxy (it
    becomes the HTTP error the notebook's request receives)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def normal_url(url: str) -> str:
    """The form URLs are compared in: scheme and host lower-case, no default port, no fragment."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if port in (None, _PORTS.get(scheme)) else f"{shown}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def refusal(url: str) -> str:
    """The one line a refused request gets (as its HTTP reason, and in the kernel's log)."""
    shown = "".join(c if c.isprintable() else "?" for c in url)[:500]
    return f"codeml-repro: {shown} {REFUSED}; {ADVICE}"


def byte_range(header: str, size: int) -> tuple[int, int]:
    """The (first, last) bytes a ``Range: bytes=A-B`` header asks for (one range; readers of remote
    files such as fsspec ask for parts), the whole file for anything else."""
    spec = header.strip()
    if not spec.startswith("bytes=") or "," in spec or size == 0:
        return 0, size - 1
    start, _, end = spec[len("bytes="):].partition("-")
    try:
        if not start:  # the last N bytes
            return max(size - int(end), 0), size - 1
        first, last = int(start), min(int(end) if end else size - 1, size - 1)
    except ValueError:
        return 0, size - 1
    return (first, last) if first <= last else (0, size - 1)


class Proxy(ThreadingHTTPServer):
    """``answer(url)``: the file to send for a (normalised) URL, or None to refuse it;
    ``context_for(host)``: the TLS context to terminate a tunnel to ``host``, or None."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        answer: Callable[[str], str | None],
        context_for: Callable[[str], ssl.SSLContext | None],
    ) -> None:
        self.answer, self.context_for = answer, context_for
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    """One request: a file for a declared URL, a refusal for anything else; one per connection."""

    server: Proxy
    tunnel = ""  # "https://host[:port]" inside a CONNECT tunnel
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: refusals are written by :meth:`refuse`, nothing else is worth a line."""

    def _url(self) -> str:
        return self.tunnel + self.path if self.tunnel else self.path

    def do_GET(self) -> None:
        self.serve(body=True)

    def do_HEAD(self) -> None:
        self.serve(body=False)

    def do_POST(self) -> None:
        self.refuse(self._url())

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def serve(self, *, body: bool) -> None:
        url = self._url()
        if not url.startswith(("http://", "https://")):
            self.refuse(url)
            return
        try:
            path = self.server.answer(normal_url(url))
        except Unanswered as exc:
            self.send_error(exc.status, exc.reason)
            return
        if path is None:
            self.refuse(url)
            return
        size = os.path.getsize(path)
        first, last = byte_range(self.headers.get("Range", ""), size)
        self.send_response(200 if (first, last) == (0, size - 1) else 206)
        kind = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        if (first, last) != (0, size - 1):
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                f.seek(first)
                remaining = last - first + 1
                while remaining > 0:
                    block = f.read(min(CHUNK, remaining))
                    if not block:
                        break
                    self.wfile.write(block)
                    remaining -= len(block)

    def refuse(self, url: str) -> None:
        message = refusal(url)
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        data = (message + "\n").encode()
        self.send_response(403, message)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        base = f"https://{host}" if port in ("443", "") else f"https://{host}:{port}"
        context = self.server.context_for(host)
        if context is None:
            self.refuse(base + "/")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            tls = context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            type("Tunnel", (Handler,), {"tunnel": base})(tls, self.client_address, self.server)
        finally:
            tls.close()


def load(config: dict[str, Any]) -> Proxy:
    """The proxy a config describes, listening (nothing answered until :meth:`serve_forever`)."""
    urls = {normal_url(url): path for url, path in config["urls"].items()}
    contexts: dict[str, ssl.SSLContext] = {}
    for host, (cert, key) in config["certs"].items():
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        contexts[host] = context
    return Proxy((config["host"], int(config["port"])), urls.get, contexts.get)


def main(argv: list[str]) -> None:
    """Listen, leave a server behind (double fork: its parent becomes the sandbox's init), exec."""
    end = argv.index("--")
    with open(argv[1]) as f:
        proxy = load(json.load(f))
    child = os.fork()
    if child == 0:
        if os.fork() == 0:
            try:
                os.close(0)
                proxy.serve_forever()
            finally:
                os._exit(0)
        os._exit(0)
    os.waitpid(child, 0)
    proxy.socket.close()
    os.execv(argv[end + 1], argv[end + 1 :])


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (OSError, ValueError, KeyError, ssl.SSLError) as exc:
        sys.stderr.write(f"codeml-repro: the download proxy could not start: {exc}\n")
        sys.exit(126)

"""A hostile data server on 127.0.0.1 for the fetch stage's tests, started by the test.

Paths: ``/file/NAME`` serves ``files[NAME]``; ``/trickle`` sends one byte every ``trickle_s``
seconds, forever; ``/stall`` sends nothing; ``/endless`` streams zeros without end;
``/redirect?to=URL`` answers 302. Every request is counted, and ``open_streams`` says how many
answers are still being sent (a stopped fetch must hang up). ``hold_until(NAME, OTHER)`` holds the
answer for ``/file/NAME`` until ``/file/OTHER`` is asked for (10 s at most): two fetches then
overlap, whichever thread the fetch stage happens to start first.
"""

from __future__ import annotations

import http.server
import select
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse


class DataServer:
    """Serves ``files`` and the hostile paths above on ``host`` (127.0.0.1 by default)."""

    def __init__(self, files: dict[str, bytes] | None = None, *, host: str = "127.0.0.1",
                 trickle_s: float = 0.5) -> None:
        self.files = dict(files or {})
        self.requests: list[str] = []
        self.open_streams = 0
        self.trickle_s = trickle_s
        self._stopping = threading.Event()
        self._holds: dict[str, tuple[str, threading.Event]] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                for other, asked in server._holds.values():
                    if self.path == f"/file/{other}":
                        asked.set()
                held = server._holds.get(self.path.removeprefix("/file/"))
                if held is not None:
                    held[1].wait(10)
                server._answer(self)

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def hold_until(self, name: str, other: str) -> None:
        """Answer ``/file/name`` only once ``/file/other`` was asked for (or after 10 s)."""
        self._holds[name] = (other, threading.Event())

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        parsed = urlparse(handler.path)
        path = parsed.path
        if path.startswith("/file/") and path[6:] in self.files:
            data = self.files[path[6:]]
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        elif path == "/redirect":
            handler.send_response(302)
            handler.send_header("Location", parse_qs(parsed.query)["to"][0])
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif path in ("/trickle", "/stall", "/endless"):
            handler.send_response(200)
            handler.end_headers()
            self._stream(handler, path)
        else:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

    def _stream(self, handler: http.server.BaseHTTPRequestHandler, path: str) -> None:
        self.open_streams += 1
        try:
            while not self._stopping.is_set():
                if path == "/stall":  # nothing to write: notice the hang-up by reading
                    readable, _w, _x = select.select([handler.connection], [], [], 0.2)
                    if readable and not handler.connection.recv(1, socket.MSG_PEEK):
                        return
                    continue
                handler.wfile.write(b"x" if path == "/trickle" else b"\0" * 65536)
                handler.wfile.flush()
                if path == "/trickle":
                    time.sleep(self.trickle_s)
        except OSError:  # the client hung up
            pass
        finally:
            self.open_streams -= 1

"""A tiny Hugging Face Hub on 127.0.0.1 for tests: one repository at one commit, plain HTTP.

It answers what ``huggingface_hub.snapshot_download`` asks (the tree listing, file metadata
and file downloads) for the repositories it is given, and counts requests, so a test can
show that a fully cached re-run asks nothing at all.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from typing import Any
from urllib.parse import unquote, urlparse


class FakeHub:
    """Serves ``files`` (name -> bytes) of ``repo`` at commit ``revision``."""

    def __init__(self, repo: str, revision: str, files: dict[str, bytes]) -> None:
        self.repo, self.revision, self.files = repo, revision, files
        self.requests: list[str] = []
        self.tokens: list[str] = []  # the Authorization headers it was sent
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _tree(self) -> list[dict[str, Any]]:
        return [
            {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            for name, data in sorted(self.files.items())
        ]

    def _answer(self, handler: http.server.BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        if handler.headers.get("Authorization"):
            self.tokens.append(handler.headers["Authorization"])
        api = f"/api/models/{self.repo}/"
        resolve = f"/{self.repo}/resolve/{self.revision}/"
        if path.startswith(api + "tree/") or path.startswith(api + "revision/"):
            tree = self._tree()
            payload: Any = tree if "/tree/" in path else {
                "id": self.repo, "sha": self.revision, "siblings": [{"rfilename": f["path"]} for f in tree]
            }
            self._send(handler, json.dumps(payload).encode(), "application/json", body=body)
        elif path.startswith(resolve) and path[len(resolve):] in self.files:
            data = self.files[path[len(resolve):]]
            self._send(handler, data, "application/octet-stream", body=body,
                       etag=hashlib.sha1(data).hexdigest())
        else:
            self._send(handler, b'{"error": "not found"}', "application/json", body=body, status=404)

    def _send(self, handler: http.server.BaseHTTPRequestHandler, data: bytes, kind: str, *, body: bool,
              status: int = 200, etag: str | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Repo-Commit", self.revision)
        if etag is not None:
            handler.send_header("ETag", f'"{etag}"')
        if status == 404:
            handler.send_header("X-Error-Code", "EntryNotFound")
        handler.end_headers()
        if body:
            handler.wfile.write(data)

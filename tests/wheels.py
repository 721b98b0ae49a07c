"""Tiny pure-Python wheels built inside a test, and a fake package index serving them on 127.0.0.1.

A wheel is a zip with the module, ``METADATA``, ``WHEEL`` and a ``RECORD`` of hashes;
writing one takes a few lines and needs no build backend. :func:`serve_index` answers a test's
pages (PEP 691 JSON project pages, with PEP 700 upload times from :func:`wheel_entry`) and its
wheels under ``/files/``, so the real uv resolves against it with nothing leaving the machine.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TINY = "codeml-tiny-fixture"
"""A name no public index has: the test's wheels can only come from its own folder."""


WHEEL = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, version: str, source: str, name: str = TINY, requires: tuple[str, ...] = (),
                extra: dict[str, bytes] | None = None) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` whose module holds ``source``; ``extra`` adds
    files at the top of site-packages (a ``.pth`` file, say)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": source.encode(),
        f"{dist_info}/METADATA": meta.encode(),
        f"{dist_info}/WHEEL": WHEEL,
        **(extra or {}),
    }
    record = [_record_line(path, data) for path, data in files.items()] + [f"{dist_info}/RECORD,,"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for file_name, data in files.items():
            zf.writestr(file_name, data)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def build_versions(folder: Path, versions: dict[str, str]) -> Path:
    """One wheel per version; each module's source is the value. Returns the folder."""
    for version, source in versions.items():
        build_wheel(folder, version, source)
    return folder


SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def wheel_entry(wheel: Path, uploaded: str) -> dict[str, Any]:
    """The file entry of ``wheel`` on a PEP 691 project page, uploaded at ``uploaded`` (PEP 700)."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return {"filename": wheel.name, "url": f"/files/{wheel.name}",
            "hashes": {"sha256": digest}, "upload-time": uploaded}


def project_page(name: str, entries: list[dict[str, Any]], versions: list[str]) -> tuple[bytes, str]:
    """A PEP 691 JSON project page (API 1.1, so it carries upload times) and its content type."""
    page = {"meta": {"api-version": "1.1"}, "name": name, "files": entries, "versions": versions}
    return json.dumps(page).encode(), SIMPLE_JSON


@dataclass
class FakeIndex:
    """A served fake index: its simple URL and every path asked of it, in order."""

    url: str = ""
    requests: list[str] = field(default_factory=list)


@contextmanager
def serve_index(pages: dict[str, tuple[bytes, str]], files: Path) -> Iterator[FakeIndex]:
    """Serve ``pages`` (URL path -> (body, content type)) and ``files/<name>`` as ``/files/<name>``
    on 127.0.0.1 (GET and HEAD) until the block ends; anything else is 404."""
    served = FakeIndex()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, with_body: bool) -> None:
            served.requests.append(self.path)
            if self.path in pages:
                body, kind = pages[self.path]
            elif self.path.startswith("/files/") and (files / self.path[7:]).is_file():
                body, kind = (files / self.path[7:]).read_bytes(), "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}/simple"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()

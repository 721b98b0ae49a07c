"""Tiny pure-Python wheels built inside a test: a package index with no network.

A wheel is a zip with the module, ``METADATA``, ``WHEEL`` and a ``RECORD`` of hashes;
writing one takes a few lines and needs no build backend.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

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

"""What a built venv holds, read from its files: its Python and each package's version.

Nothing in the venv is run to learn it: a ``.pth`` file in any wheel would run code in every
interpreter start, on the host, with the runner's environment.
"""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path
from typing import Any


def _dist_name_version(metadata_file: Path) -> tuple[str, str] | None:
    """Name and Version from a ``*.dist-info/METADATA`` file's headers."""
    try:
        with open(metadata_file, encoding="utf-8", errors="replace") as f:
            head = f.read(65536)
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in head.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("name", "version"):
            fields.setdefault(key.strip().lower(), value.strip())
    name, version = fields.get("name"), fields.get("version")
    return (name.lower(), version) if name and version else None


def read_venv_info(target: Path) -> dict[str, Any]:
    """Python version and package versions of the venv at ``target``, read from its files.

    Nothing in the venv is run: a ``.pth`` file in any wheel would run code in every
    interpreter start, on the host, with the runner's environment.
    """
    cfg: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (target / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                cfg[key.strip().lower()] = value.strip()
    packages: dict[str, str] = {}
    for meta in sorted(target.glob("lib/python*/site-packages/*.dist-info/METADATA")):
        found = _dist_name_version(meta)
        if found is not None:
            packages[found[0]] = found[1]
    return {
        "python": cfg.get("version_info") or cfg.get("version") or platform.python_version(),
        "implementation": cfg.get("implementation") or platform.python_implementation(),
        "packages": packages,
    }

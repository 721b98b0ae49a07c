"""Unpacking a verified archive into the data cache, safely, once.

The archive is the author's (untrusted) and is unpacked on the host, outside the
sandbox: members are refused when they would land outside the target folder,
tar members go through Python's ``data`` filter (no links out, no devices, no
set-uid bits), and the total unpacked size is checked against the data budget
before anything is written. Contents are unpacked into a temporary folder and
renamed into place, with a manifest of every file's size, so a half-unpacked
folder is never used and a changed one is noticed.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

ArchiveKind = Literal["zip", "tar"]


class UnpackError(Exception):
    """The archive cannot be unpacked (corrupt, unsafe, or over the budget)."""


def manifest_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _listing(target: Path) -> dict[str, int]:
    out = {}
    for dirpath, _dirs, files in os.walk(target):
        for name in files:
            path = Path(dirpath) / name
            out[path.relative_to(target).as_posix()] = path.stat().st_size
    return out


def is_intact(target: Path) -> bool:
    """The unpacked folder holds exactly the files, with the sizes, it was unpacked with."""
    try:
        expected = json.loads(manifest_path(target).read_text())
    except (OSError, ValueError):
        return False
    return target.is_dir() and isinstance(expected, dict) and _listing(target) == expected


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "\\" not in name


def _unzip(archive: Path, into: Path, limit: int) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        bad = next((m.filename for m in members if not _safe_name(m.filename)), None)
        if bad is not None:
            raise UnpackError(f"member {bad!r} would land outside its folder")
        total = sum(m.file_size for m in members)
        if total > limit:
            raise UnpackError(f"unpacks to {total} bytes, over the data budget of {limit} bytes")
        zf.extractall(into)


def _untar(archive: Path, into: Path, limit: int) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        total = sum(m.size for m in members if m.isfile())
        if total > limit:
            raise UnpackError(f"unpacks to {total} bytes, over the data budget of {limit} bytes")
        try:
            tf.extractall(into, filter="data")
        except tarfile.FilterError as exc:
            raise UnpackError(f"unsafe member: {exc}") from None


def unpack(archive: Path, kind: ArchiveKind, target: Path, limit: int) -> Path:
    """``target`` holding the archive's contents (unpacked now unless intact from an earlier run)."""
    if is_intact(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            (_unzip if kind == "zip" else _untar)(archive, tmp, limit)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            raise UnpackError(f"not a readable {kind} archive ({exc})") from None
        listing = _listing(tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        manifest = manifest_path(target)
        manifest.with_suffix(".tmp").write_text(json.dumps(listing, sort_keys=True))
        os.replace(manifest.with_suffix(".tmp"), manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

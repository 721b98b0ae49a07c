"""Unpacking a verified archive into the data cache, safely, once.

The archive is the author's (untrusted) and is unpacked on the host, outside the
sandbox: members are refused when they would land outside the target folder,
tar members go through Python's ``data`` filter (no links out, no devices, no
set-uid bits). Members are read one at a time and every block is charged to the
data budget before it is written (declared sizes can lie), with caps on the
decompression ratio (:data:`MAX_RATIO`) and the number of members. Contents are
unpacked into a temporary folder and renamed into place, with a manifest of
every file's size, so a half-unpacked folder is never used and a changed one is
noticed.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from codeml_repro.model.errors import DataProblem

ArchiveKind = Literal["zip", "tar"]
Charge = Callable[[int], None]  # bytes about to be written; raises to stop
BLOCK = 64 * 1024
MAX_RATIO = 200  # unpacked bytes per archive byte: past it, an archive is taken for a bomb
MAX_MEMBERS = 100_000


class UnpackError(DataProblem):
    """The archive cannot be unpacked (corrupt, unsafe, or over the budget): a declared input
    that cannot be used, so the fetch stage records it as that submission's result."""


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


class _Counter:
    """Every byte written while unpacking, charged before it is written; members counted."""

    def __init__(self, archive: Path, charge: Charge) -> None:
        self.charge = charge
        self.allowed = MAX_RATIO * max(archive.stat().st_size, 1)
        self.written = 0
        self.members = 0

    def member(self) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise UnpackError(f"more than {MAX_MEMBERS} members")

    def copy(self, source: IO[bytes], dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)  # a repeated member, or a link: never written through
        with dest.open("xb") as out:
            while block := source.read(BLOCK):
                self.written += len(block)
                if self.written > self.allowed:
                    raise UnpackError(f"unpacks to more than {MAX_RATIO} times its size (a bomb?)")
                self.charge(len(block))
                out.write(block)


def _unzip(archive: Path, into: Path, counter: _Counter) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            counter.member()
            if not _safe_name(member.filename):
                raise UnpackError(f"member {member.filename!r} would land outside its folder")
            dest = into / member.filename
            if member.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(member) as source:
                counter.copy(source, dest)


def _untar(archive: Path, into: Path, counter: _Counter) -> None:
    """Members one by one (never all headers at once), each through Python's ``data`` filter."""
    with tarfile.open(archive) as tf:
        for member in tf:
            counter.member()
            try:
                safe = tarfile.data_filter(member, str(into))
            except tarfile.FilterError as exc:
                raise UnpackError(f"unsafe member: {exc}") from None
            if safe is None:
                continue
            if not safe.isfile():  # folders and links inside the folder: no bytes to count
                tf.extract(safe, into, filter="data")
                continue
            source = tf.extractfile(member)
            if source is None:
                continue
            dest = into / safe.name
            counter.copy(source, dest)
            os.chmod(dest, safe.mode & 0o755 if safe.mode is not None else 0o644)


def _limit(limit: int) -> Charge:
    total = [0]

    def charge(count: int) -> None:
        total[0] += count
        if total[0] > limit:
            raise UnpackError(f"unpacks to more than the data budget of {limit} bytes")

    return charge


def unpack(archive: Path, kind: ArchiveKind, target: Path, budget: int | Charge) -> Path:
    """``target`` holding the archive's contents (unpacked now unless intact from an earlier run).

    ``budget`` is a byte limit, or a function charged with each block before it is written (it
    raises to stop, as the fetch stage's budgets do).
    """
    if is_intact(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            counter = _Counter(archive, _limit(budget) if isinstance(budget, int) else budget)
            (_unzip if kind == "zip" else _untar)(archive, tmp, counter)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, RuntimeError,
                NotImplementedError) as exc:  # encrypted, or a compression zipfile lacks
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

"""The data cache's layout, shared by every submission and run, and its export as a mirror.

::

    <cache>/data/                     (``RunPolicy.cache``: $CODEML_CACHE, else ~/.cache/codeml-repro)
      files/<sha256>                  a verified download, named by its content
      files/.<sha256>.<pid>-<n>.part  a download under way (removed when it fails or is stopped)
      unpacked/<sha256>.<zip|tar>/    an archive's contents, and <...>.json, their listing
      hf/                             Hugging Face repositories (the library's own layout)
      locks/                          one lock file per input, for runners sharing the cache

A file is only ever renamed into ``files/`` after its bytes hashed to its name, so
:func:`verified_file` is what any later stage (the sandbox's mounts, a proxy serving inputs)
reads for a declared input. :func:`export_mirror` writes the same files as ``sha256/<hash>``,
the layout ``CODEML_DATA_MIRROR`` is read in. Every function takes the cache folder: it is
handed down from the run policy, never looked up here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from codeml_repro.model.inputs import SHA256_RE, DataInput, sha256_file

MIRROR_FOLDER = "sha256"


def data_root(cache: Path) -> Path:
    """``<cache>/data``: shared by every submission and every run."""
    return cache / "data"


def file_path(cache: Path, sha256: str) -> Path:
    return data_root(cache) / "files" / sha256


def unpacked_path(cache: Path, entry: DataInput) -> Path:
    return data_root(cache) / "unpacked" / f"{entry.sha256}.{entry.unpack}"


def hf_cache(cache: Path) -> Path:
    return data_root(cache) / "hf"


def lock_path(cache: Path, name: str) -> Path:
    locks = data_root(cache) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"{name}.lock"


def verified_file(cache: Path, entry: DataInput) -> Path | None:
    """The cached file (or unpacked folder) a url/doi input is served from; None before it is fetched.

    The fetch stage verified it in this batch (a file is named by its sha256 only once its bytes
    matched); a shipped or ``hf`` entry has none here.
    """
    if entry.sha256 is None or entry.source not in ("url", "doi"):
        return None
    path = unpacked_path(cache, entry) if entry.unpack else file_path(cache, entry.sha256)
    return path if path.exists() else None


def mirror_url(mirror: str, sha256: str) -> str:
    """Where a content-addressed mirror keeps the file of ``sha256``."""
    return f"{mirror.rstrip('/')}/{MIRROR_FOLDER}/{sha256}"


def export_mirror(cache: Path, dest: Path) -> tuple[int, list[str]]:
    """Copy every file of the cache folder ``cache`` whose bytes still hash to its name into
    ``dest/sha256/<hash>``.

    Returns how many files ``dest`` holds for the cache's and the names skipped (changed on disk).
    A file already in ``dest`` with the right content is kept; one with other bytes is replaced.
    """
    target = dest / MIRROR_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    source = data_root(cache) / "files"
    names = sorted(p.name for p in source.iterdir()) if source.is_dir() else []
    exported, skipped = 0, []
    for name in names:
        if not SHA256_RE.match(name):
            continue  # a partial download
        if sha256_file(source / name) != name:
            skipped.append(name)
            continue
        out = target / name
        if out.is_file() and sha256_file(out) == name:
            exported += 1
            continue
        tmp = target / f".{name}.{os.getpid()}.part"
        try:
            shutil.copyfile(source / name, tmp)
            os.replace(tmp, out)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        exported += 1
    return exported, skipped

"""One declared source made ready: found in the cache, or fetched (mirror first), verified, unpacked.

A *source* is one distinct declaration: a sha256 from one URL or DOI (with its ``unpack``), or a
Hugging Face repository at a commit. Two submissions declaring one hash from two URLs are two
sources: each is verified on its own bytes, and a mismatch is the failure of the source (and
so of the submissions) whose URL sent them, never of another. Sources are fetched side by side,
each into a partial file of its own, so a slow source cannot hold up another of the same hash;
one that starts after another's verified file reached the cache asks nobody.

Where the bytes come from, in order: the cache (a file named by its sha256 is only ever put
there once its bytes matched, and is hashed again here); the maintainer's content-addressed
mirror, ``CODEML_DATA_MIRROR`` (``{URL}/sha256/{hash}``), when set; the declared URL or DOI.
The mirror goes first because it is the organizers' own copy: it spares the authors' servers
a request per CI shard, keeps working when their links rot, and a hash match makes the origin
of the bytes irrelevant. A mirror without the file (or with other bytes) is passed over
quietly. Every byte written is charged to the declaring submissions' budgets and the batch's
cache budget as it arrives (:mod:`codeml_repro.run.inputs.transfer`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codeml_repro.model.errors import DataMismatch, DataProblem, DataTooLarge, DataUnavailable
from codeml_repro.model.inputs import DataInput, sha256_file
from codeml_repro.run.inputs.datacache import file_path, hf_cache, lock_path, mirror_url, unpacked_path
from codeml_repro.run.inputs.hfhub import HfUnavailable, fetch_hf, is_cached, planned_bytes, total_bytes
from codeml_repro.run.inputs.netguard import guarded
from codeml_repro.run.inputs.transfer import Budget, Meter, Progress, Stopped, charge, download, unavailable
from codeml_repro.run.inputs.unpack import UnpackError, is_intact, unpack

if TYPE_CHECKING:
    from filelock import FileLock

ATTEMPTS = 3  # tries per file; waits 0.5 s, then 1 s, between them


@dataclass(frozen=True)
class StageSettings:
    """What every source of one fetch stage shares."""

    allow_private: bool
    mirror: str | None
    cache: Budget  # the batch's budget for bytes added to the data cache
    folder: Path  # the cache folder (RunPolicy.cache): the data cache is its data/
    read_timeout: float  # seconds one read may wait (pooch's timeout)
    deadline: float  # time.monotonic() when the stage ends


@dataclass(eq=False)
class Source:
    """One distinct declaration and the budgets of the submissions that declared it."""

    entry: DataInput
    budgets: list[Budget]
    progress: Progress = field(default_factory=Progress)
    size: int = 0
    failure: DataProblem | None = None
    done: bool = False


def source_key(entry: DataInput) -> str:
    """What makes two entries one source: hash, location and unpacking; or repository and commit."""
    if entry.hf is not None:
        src = entry.hf
        return f"hf:{src.type}:{src.repo}:{src.revision}:{','.join(sorted(src.files))}"
    return f"{entry.sha256}:{entry.unpack or ''}:{entry.location}"


def _lock(name: str, stage: StageSettings) -> FileLock:
    """A file lock shared by runners on one machine (filelock.Timeout, an OSError, at the deadline)."""
    from filelock import FileLock

    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return FileLock(str(lock_path(stage.folder, digest)), timeout=max(stage.deadline - time.monotonic(), 1.0))


def _use(source: Source, size: int) -> None:
    """Count bytes already on the host (cached) against the declaring submissions' budgets."""
    for budget in source.budgets:
        if not budget.over:
            budget.take(size)


def ready(source: Source, stage: StageSettings) -> int:
    """Make ``source`` ready in the cache; return the bytes it occupies there (raises DataProblem)."""
    entry = source.entry
    try:
        with _lock(source_key(entry), stage):
            if entry.hf is not None:  # the maintainer's endpoint (HF_ENDPOINT), not the author's
                return _ready_hf(source, stage)
            with guarded(allow_private=stage.allow_private, connections=source.progress.connections):
                archive = _ready_file(source, stage)
        size = archive.stat().st_size
        if entry.unpack is None:
            return size
        with _lock(f"unpack:{entry.sha256}:{entry.unpack}", stage):
            return size + _unpacked(source, stage, archive)
    except OSError as exc:  # filelock.Timeout is one; a full disk another
        raise DataUnavailable(f"could not store {entry.location} in the data cache: {exc}") from None


def _ready_file(source: Source, stage: StageSettings) -> Path:
    entry = source.entry
    assert entry.sha256 is not None
    target = file_path(stage.folder, entry.sha256)
    if target.is_file() and sha256_file(target) == entry.sha256:
        _use(source, target.stat().st_size)
        return target  # else changed on disk: a verified download replaces it (os.replace)
    if stage.mirror is not None:
        try:
            _fetch(source, stage, mirror_url(stage.mirror, entry.sha256), doi=False, attempts=1)
            return target
        except (DataTooLarge, Stopped):
            raise
        except DataProblem:
            pass  # not on the mirror, or not right there: the declared source
    url = entry.url or f"doi:{entry.doi}/{entry.file}"
    _fetch(source, stage, url, doi=entry.doi is not None, attempts=ATTEMPTS)
    return target


def _fetch(source: Source, stage: StageSettings, url: str, *, doi: bool, attempts: int) -> None:
    """Download with retries on network errors (never on a mismatch, a refusal or a stop)."""
    import requests

    entry = source.entry
    assert entry.sha256 is not None
    shown = entry.location if url.startswith("doi:") else url

    def meter_for(out: object) -> Meter:
        return Meter(out, source.budgets, stage.cache, source.progress)  # type: ignore[arg-type]

    problem = "no attempt"
    for attempt in range(attempts):
        try:
            download(url, file_path(stage.folder, entry.sha256), entry.sha256, meter_for, doi=doi,
                     timeout=stage.read_timeout)
            return
        except (DataMismatch, DataTooLarge):
            raise
        except DataUnavailable as exc:  # an address refused
            raise unavailable(shown, exc.message) from None
        except requests.exceptions.HTTPError as exc:
            problem = str(exc)
            code = exc.response.status_code if exc.response is not None else 500
            if code < 500 and code not in {408, 429}:  # gone or forbidden: asking again will not help
                break
        except (requests.exceptions.RequestException, OSError) as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        except ValueError as exc:  # pooch: a DOI that does not resolve, a file not in the record
            problem = str(exc)[:300]
            break
        if source.progress.reason is not None:
            raise Stopped(source.progress.reason)
        if attempt + 1 < attempts:
            time.sleep(0.5 * (attempt + 1))
    tries = f" after {attempt + 1} tries" if attempt else ""
    raise unavailable(f"{shown}{tries}", problem)


def _unpacked(source: Source, stage: StageSettings, archive: Path) -> int:
    entry = source.entry
    assert entry.unpack is not None
    folder = unpacked_path(stage.folder, entry)
    if is_intact(folder):
        size = _folder_bytes(folder)
        _use(source, size)
        return size
    try:
        unpack(archive, entry.unpack, folder, lambda count: charge(source.budgets, stage.cache, count))
    except UnpackError as exc:
        raise DataUnavailable(f"cannot unpack {entry.location}: {exc}") from None
    return _folder_bytes(folder)


def _folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(folder):
        total += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in names)
    return total


def _ready_hf(source: Source, stage: StageSettings) -> int:
    """A repository: its size asked of the Hub and charged before any file is downloaded."""
    entry = source.entry
    assert entry.hf is not None
    cache = hf_cache(stage.folder)
    try:
        if is_cached(cache, entry.hf):
            size = total_bytes(cache, entry.hf)
            _use(source, size)
            return size
        planned = planned_bytes(entry.hf)
        charge(source.budgets, stage.cache, planned)
        fetch_hf(entry.hf, cache)
    except HfUnavailable as exc:
        raise DataUnavailable(f"could not fetch {entry.location}: {exc}") from None
    return total_bytes(cache, entry.hf)


_settle_lock = threading.Lock()


def settle(source: Source, *, size: int = 0, failure: DataProblem | None = None) -> bool:
    """Record how ``source`` ended, once (a stopped fetch's late outcome is ignored)."""
    with _settle_lock:
        if source.done:
            return False
        source.size, source.failure, source.done = size, failure, True
        return True

"""The fetch stage: every declared input of a batch, fetched once, verified, ready to mount.

Runs before any notebook, outside the sandbox, in this process: a kernel never
downloads anything. Files land in a content-addressed cache shared by all
submissions (``$CODEML_CACHE/data/files/<sha256>``), so an input used by twenty
submissions is fetched once; ``pooch.retrieve`` hashes a cached file on every
use and fetches it again when it no longer matches. Fetches run in parallel
(bounded) and each failure is that submission's result (``DataUnavailable``,
``DataMismatch``, ``DataTooLarge``), never the end of the batch.

:func:`mounts_for` then says, for one run, which cached file or folder appears
at which place: the kernel sandbox mounts them read-only (see
:func:`codeml_repro.run.sandbox.bwrap.data_mount_args`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.addresses import allows_private
from codeml_repro.model.errors import DataMismatch, DataProblem, DataTooLarge, DataUnavailable
from codeml_repro.model.inputs import DataInput, HfSource, sha256_file
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import Submission
from codeml_repro.run.environment import cache_root
from codeml_repro.run.hfhub import HfUnavailable, fetch_hf, total_bytes, view_layout
from codeml_repro.run.netguard import AddressRefused, guarded
from codeml_repro.run.unpack import UnpackError, unpack

ATTEMPTS = 3  # tries per file; waits 0.5 s, then 1 s, between them
FETCH_JOBS = 4
CHUNK = 1 << 20  # bytes per read while downloading (pooch's default, 1 kB, is slow for large files)
HF_VIEW = "hf"  # a run's own Hugging Face cache, in its run dir
OnFetch = Callable[[str, int, int], None]  # (what finished, done, total)
_ACTUAL = re.compile(r"got ([0-9a-f]{64})")


def data_root() -> Path:
    """``$CODEML_CACHE/data``: shared by every submission and every run."""
    return cache_root() / "data"


def file_path(sha256: str) -> Path:
    return data_root() / "files" / sha256


def unpacked_path(entry: DataInput) -> Path:
    return data_root() / "unpacked" / f"{entry.sha256}.{entry.unpack}"


def hf_cache() -> Path:
    return data_root() / "hf"


class _Capped:
    """A file object that refuses to grow past the data budget (the download stops there)."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner, self.limit, self.written = inner, limit, 0

    def write(self, chunk: bytes) -> int:
        self.written += len(chunk)
        if self.written > self.limit:
            raise DataTooLarge(f"download stopped at the data budget of {self.limit} bytes")
        return int(self.inner.write(chunk))

    def flush(self) -> None:
        self.inner.flush()


def _downloader(entry: DataInput, limit: int) -> Callable[..., Any]:
    import pooch

    kind = pooch.DOIDownloader if entry.doi else pooch.HTTPDownloader
    inner: Any = kind(timeout=30, chunk_size=CHUNK)

    def download(url: str, output_file: str, pup: Any) -> None:
        with open(output_file, "w+b") as f:
            inner(url, _Capped(f, limit), pup)

    return download


def _retrieve(entry: DataInput, limit: int) -> Path:
    """The verified file of a url/doi entry, from the cache or fetched (retried on network errors)."""
    import pooch
    import requests

    assert entry.sha256 is not None
    pooch.get_logger().setLevel(logging.WARNING)  # its own progress notes, not ours
    url = entry.url or f"doi:{entry.doi}/{entry.file}"
    target = file_path(entry.sha256)
    for attempt in range(ATTEMPTS):
        try:
            pooch.retrieve(
                url,
                known_hash=f"sha256:{entry.sha256}",
                fname=target.name,
                path=target.parent,
                downloader=_downloader(entry, limit),
            )
            return target
        except ValueError as exc:
            if "does not match" in str(exc):
                found = _ACTUAL.search(str(exc))
                actual = found.group(1) if found else "another hash"
                raise DataMismatch(
                    f"the bytes from {entry.location} do not match sha256: "
                    f"expected {entry.sha256}, got {actual}"
                ) from None
            problem = str(exc)  # e.g. a DOI that does not resolve: not worth retrying
            break
        except requests.exceptions.HTTPError as exc:
            problem = str(exc)
            code = exc.response.status_code if exc.response is not None else 500
            if code < 500 and code not in {408, 429}:  # gone or forbidden: asking again will not help
                break
        except (requests.exceptions.RequestException, OSError) as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.5 * (attempt + 1))
    tries = f" after {attempt + 1} tries" if attempt else ""
    raise DataUnavailable(f"could not fetch {entry.location}{tries}: {problem}")


def _ready_one(entry: DataInput, limit: int, allow_private: bool) -> int:
    """Fetch, verify (and unpack) one shared input; return its size in bytes.

    A file lock per input keeps two runners on one machine from fetching or unpacking the same
    input at once; a disk error while storing it is this input's failure, not the batch's.
    """
    from filelock import FileLock

    locks = data_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(input_key(entry).encode()).hexdigest()[:32]
    try:
        with FileLock(str(locks / f"{name}.lock"), timeout=3600):
            if entry.hf is not None:  # the maintainer's endpoint (HF_ENDPOINT), not the author's
                return _ready_unlocked(entry, limit)
            with guarded(allow_private=allow_private):
                return _ready_unlocked(entry, limit)
    except AddressRefused as exc:
        raise DataUnavailable(f"could not fetch {entry.location}: {exc.message}") from None
    except OSError as exc:  # filelock.Timeout is one
        raise DataUnavailable(f"could not store {entry.location} in the data cache: {exc}") from None


def _ready_unlocked(entry: DataInput, limit: int) -> int:
    if entry.hf is not None:
        try:
            fetch_hf(entry.hf, hf_cache())
        except HfUnavailable as exc:
            raise DataUnavailable(f"could not fetch {entry.location}: {exc}") from None
        return total_bytes(hf_cache(), entry.hf)
    archive = _retrieve(entry, limit)
    if entry.unpack is None:
        return archive.stat().st_size
    try:
        folder = unpack(archive, entry.unpack, unpacked_path(entry), limit)
    except UnpackError as exc:
        raise DataUnavailable(f"cannot unpack {entry.location}: {exc}") from None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _check_shipped(sub: Submission, entry: DataInput) -> int:
    assert entry.path is not None and entry.sha256 is not None
    path = sub.folder / entry.path
    if not path.is_file():
        raise DataUnavailable(f"{entry.path} is not in the submission folder")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise DataMismatch(f"{entry.path} does not match sha256: expected {entry.sha256}, got {actual}")
    return path.stat().st_size


def input_key(entry: DataInput) -> str:
    """What makes two entries the same download: the content hash, or repository and commit."""
    if entry.hf is not None:
        src = entry.hf
        return f"hf:{src.type}:{src.repo}:{src.revision}:{','.join(sorted(src.files))}"
    return f"{entry.sha256}:{entry.unpack or ''}"


@dataclass
class FetchReport:
    """What the fetch stage did: a failure per submission that cannot run, and counts."""

    failures: dict[str, DataProblem]
    fetched: int = 0  # distinct inputs made ready
    seconds: float = 0.0


def _label(sub: Submission, index: int, entry: DataInput) -> str:
    return f"{sub.slug}: artifact.data[{index}] ({entry.name})"


def _submission_failure(
    sub: Submission, futures: dict[str, Future[int]], limit: int
) -> DataProblem | None:
    total = 0
    for i, entry in enumerate(sub.spec.artifact.data):
        what = _label(sub, i, entry)
        try:
            if entry.source == "shipped":
                total += _check_shipped(sub, entry)
            else:
                total += futures[input_key(entry)].result()
        except DataProblem as exc:  # a shared fetch's failure, told as this submission's
            return type(exc)(f"{what}: {exc.message}")
    if total > limit:
        return DataTooLarge(f"{sub.slug}: artifact.data: {total} bytes, over the data budget ({limit} bytes)")
    return None


def fetch_inputs(subs: list[Submission], policy: RunPolicy, on_fetch: OnFetch | None = None) -> FetchReport:
    """Make every input of ``subs`` ready (each distinct one once, in parallel); never raises for data."""
    start = time.monotonic()
    limit = policy.data_bytes
    allow_private = allows_private(policy.allow_private_urls)
    wanted: dict[str, DataInput] = {}
    for sub in subs:
        for entry in sub.spec.artifact.data:
            if entry.source != "shipped":
                wanted.setdefault(input_key(entry), entry)
    futures: dict[str, Future[int]] = {}
    done = 0
    if wanted:
        with ThreadPoolExecutor(max_workers=min(FETCH_JOBS, len(wanted)), thread_name_prefix="fetch") as pool:
            for key, entry in wanted.items():
                futures[key] = pool.submit(_ready_one, entry, limit, allow_private)
            keys = {future: key for key, future in futures.items()}
            for future in as_completed(keys):
                done += 1
                if on_fetch is not None:
                    on_fetch(wanted[keys[future]].name, done, len(wanted))
    failures = {}
    for sub in subs:
        failure = _submission_failure(sub, futures, limit)
        if failure is not None:
            failures[sub.slug] = failure
    return FetchReport(failures, fetched=len(wanted), seconds=time.monotonic() - start)


@dataclass(frozen=True)
class Mount:
    """A cached file or folder (``source``) shown read-only at ``target`` (a host path of the run)."""

    source: Path
    target: Path


def mounts_for(sub: Submission, work: Path, run_root: Path) -> tuple[list[Mount], dict[str, str]]:
    """The mounts of one run (its inputs at their declared places, its own HF cache) and the
    kernel variables that point Hugging Face libraries at it, offline."""
    mounts: list[Mount] = []
    sources: list[HfSource] = []
    for entry in sub.spec.artifact.data:
        if entry.hf is not None:
            sources.append(entry.hf)
        elif entry.source != "shipped" and entry.place is None:  # placed: see kernel/downloads.py
            assert entry.path is not None and entry.sha256 is not None
            cached = unpacked_path(entry) if entry.unpack else file_path(entry.sha256)
            if not cached.exists():
                raise DataUnavailable(f"{sub.slug}: {entry.name}: not in the data cache (fetch it first)")
            mounts.append(Mount(cached, work / entry.path))
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if sources:
        view = run_root / HF_VIEW
        pairs = view_layout(hf_cache(), sources, view / "hub")
        mounts.insert(0, Mount(view, view))  # the view itself, then the shared parts inside it
        mounts += [Mount(shared, place) for shared, place in pairs]
        env["HF_HUB_CACHE"] = str(view / "hub")
    return mounts, env


def place_mounts(mounts: list[Mount], *, sandboxed: bool) -> None:
    """Make each target exist on the host: an empty mount point for bwrap, else a link to the cache."""
    for mount in mounts:
        if mount.source == mount.target:
            continue
        mount.target.parent.mkdir(parents=True, exist_ok=True)
        if mount.target.is_symlink() or mount.target.is_file():
            mount.target.unlink()
        if not sandboxed:
            if mount.target.is_dir():
                mount.target.rmdir()
            mount.target.symlink_to(mount.source, target_is_directory=mount.source.is_dir())
        elif mount.source.is_dir():
            mount.target.mkdir(exist_ok=True)
        else:
            mount.target.touch()

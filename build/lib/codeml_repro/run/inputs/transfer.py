"""One download of the fetch stage: counted, hashed and charged as its bytes arrive, stoppable.

A download writes into a partial file through a :class:`Meter`: each chunk is charged to the
data budgets of the submissions that declared the input and to the batch's cache budget
*before* it is written (so a submission never has more than its budget written for it), hashed,
and noted in the download's :class:`Progress`. The fetch stage's coordinator reads that
progress to apply the rate rule and the stage's deadline, and stops a download by shutting its
sockets down (see :mod:`codeml_repro.run.inputs.netguard`), which wakes a read blocked on a trickling
server. Only a file whose bytes hash to the declared sha256 is renamed into the cache.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from codeml_repro.model.errors import DataMismatch, DataTooLarge, DataUnavailable, ReproError
from codeml_repro.run.inputs.netguard import Connections

CHUNK = 64 * 1024  # bytes per read: the most a budget can be passed by, and the rate rule's grain
_serial = itertools.count()


class Budget:
    """Bytes one submission (or the batch's cache) may have written; shared by concurrent fetches."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit, self.what = limit, what
        self.used = 0
        self.over = False
        self._lock = threading.Lock()

    def take(self, count: int) -> bool:
        """Count ``count`` more bytes; False (and nothing counted) when they would not fit."""
        with self._lock:
            if self.used + count > self.limit:
                self.over = True
                return False
            self.used += count
            return True

    def message(self) -> str:
        return f"over {self.what} ({self.limit} bytes)"


def charge(budgets: list[Budget], cache: Budget | None, count: int) -> None:
    """Charge bytes about to be written; raise :class:`DataTooLarge` when none may take them."""
    if budgets and not [b for b in budgets if not b.over and b.take(count)]:
        raise DataTooLarge(f"stopped: {budgets[0].message()}")
    if cache is not None and not cache.take(count):
        raise DataTooLarge(f"stopped: {cache.message()}")


class Stopped(ReproError):
    """The coordinator stopped this download (its reason is in the progress).

    A child of the root only, not of ``DataProblem``: the download's handlers pass a stop
    through where they retry or fall back on a ``DataProblem`` (a mirror miss), and the fetch
    stage turns it into ``DataUnavailable`` for the input."""


class Progress:
    """What a download received, and when; why it was stopped, if it was."""

    def __init__(self) -> None:
        self.connections = Connections()
        self.reason: str | None = None
        self.started: float | None = None  # None: no transfer under way (queued, hashing, unpacking)
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self.received = 0

    def begin(self) -> None:
        self.started, self.received = time.monotonic(), 0
        self._samples.clear()

    def end(self) -> None:
        self.started = None

    def note(self, count: int) -> None:
        self.received += count
        self._samples.append((time.monotonic(), self.received))

    def too_slow(self, now: float, rate: int, window: float) -> bool:
        """Fewer than ``rate * window`` bytes arrived in the last ``window`` seconds of a transfer."""
        started = self.started
        if started is None or now - started < window:
            return False
        while len(self._samples) > 1 and self._samples[1][0] <= now - window:
            self._samples.popleft()
        before = self._samples[0][1] if self._samples and self._samples[0][0] <= now - window else 0
        return self.received - before < rate * window

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.connections.stop()


class Meter:
    """The file object a pooch downloader writes to: charged, hashed and noted per chunk."""

    def __init__(self, out: BinaryIO, budgets: list[Budget], cache: Budget, progress: Progress) -> None:
        self.out, self.budgets, self.cache, self.progress = out, budgets, cache, progress
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, chunk: bytes) -> int:
        if self.progress.reason is not None:
            raise Stopped(self.progress.reason)
        charge(self.budgets, self.cache, len(chunk))
        self.digest.update(chunk)
        self.out.write(chunk)
        self.count += len(chunk)
        self.progress.note(len(chunk))
        return len(chunk)

    def flush(self) -> None:
        self.out.flush()


def download(url: str, target: Path, sha256: str, meter_for: Any, *, doi: bool, timeout: float) -> None:
    """Fetch ``url`` (a ``doi:`` URL with ``doi``) into ``target`` if its bytes hash to ``sha256``.

    ``meter_for(file)`` makes the :class:`Meter` the bytes go through. The partial file is removed
    whatever happens; a mismatch says how many bytes arrived, never what they hash to (the hash of
    an internal response would tell what it holds).
    """
    import pooch

    kind = pooch.DOIDownloader if doi else pooch.HTTPDownloader
    downloader: Any = kind(timeout=timeout, chunk_size=CHUNK, progressbar=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}-{next(_serial)}.part")
    try:
        with partial.open("wb") as out:
            meter: Meter = meter_for(out)
            meter.progress.begin()
            try:
                downloader(url, meter, None)
            finally:
                meter.progress.end()
        if meter.progress.reason is not None:
            raise Stopped(meter.progress.reason)
        if meter.digest.hexdigest() != sha256:
            raise DataMismatch(
                f"the bytes from {url} differ from the declared sha256 {sha256} "
                f"({meter.count} bytes arrived)"
            )
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


def unavailable(url: str, problem: str) -> DataUnavailable:
    return DataUnavailable(f"could not fetch {url}: {problem}")

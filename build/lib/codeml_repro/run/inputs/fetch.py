"""The fetch stage: every declared input of a batch, fetched once, verified, ready to mount.

Runs before any notebook, outside the sandbox, in this process: a kernel never downloads
anything. Files land in a content-addressed cache shared by all submissions
(:mod:`codeml_repro.run.inputs.datacache`), so an input used by twenty submissions is fetched once;
each distinct declaration (a hash from one URL) is verified on its own bytes
(:mod:`codeml_repro.run.inputs.sources`). Fetches run in worker threads (a few at a time) while this
thread keeps the rules that end a fetch:

- the stage's deadline (``RunPolicy.fetch_timeout_s``): what is unfinished then fails;
- the rate rule, each input's deadline: a transfer that averages less than
  ``fetch_min_rate`` bytes/s over ``fetch_rate_window_s`` fails (a trickling or silent server);
- the budgets, charged as bytes arrive (:mod:`codeml_repro.run.inputs.transfer`);
- Ctrl-C and SIGTERM: every fetch is stopped and the stage returns within seconds.

A fetch is stopped by shutting its sockets down, which wakes a blocked read; its partial file is
removed by its thread. Each failure is that submission's result (``DataUnavailable``,
``DataMismatch``, ``DataTooLarge``), never the end of the batch.

:func:`mounts_for` then says, for one run, which cached file or folder appears
at which place: the kernel sandbox mounts them read-only (see
:func:`codeml_repro.run.sandbox.bwrap.data_mount_args`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.errors import DataMismatch, DataProblem, DataTooLarge, DataUnavailable
from codeml_repro.model.inputs import DataInput, HfSource, sha256_file
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import Submission
from codeml_repro.run.inputs.datacache import data_root, file_path, hf_cache, unpacked_path, verified_file
from codeml_repro.run.inputs.hfhub import view_layout
from codeml_repro.run.inputs.sources import (
    Source,
    StageSettings,
    ready,
    settle,
    source_key,
)
from codeml_repro.run.inputs.transfer import Budget, Stopped

__all__ = [
    "data_root", "fetch_inputs", "file_path", "hf_cache", "mounts_for", "place_mounts", "unpacked_path",
]

FETCH_JOBS = 4
STOP_GRACE_S = 3.0  # after Ctrl-C, how long the stage waits for fetches to remove their partial files
TICK_S = 0.25
HF_VIEW = "hf"  # a run's own Hugging Face cache, in its run dir
OnFetch = Callable[[str, int, int], None]  # (what finished, done, total)


@dataclass
class FetchReport:
    """What the fetch stage did: a failure per submission that cannot run, and counts."""

    failures: dict[str, DataProblem]
    fetched: int = 0  # distinct sources made ready
    seconds: float = 0.0


def _label(sub: Submission, index: int, entry: DataInput) -> str:
    return f"{sub.slug}: artifact.data[{index}] ({entry.name})"


def _check_shipped(sub: Submission, entry: DataInput) -> int:
    assert entry.path is not None and entry.sha256 is not None
    path = sub.folder / entry.path
    if not path.is_file():
        raise DataUnavailable(f"{entry.path} is not in the submission folder")
    if sha256_file(path) != entry.sha256:
        size = path.stat().st_size
        raise DataMismatch(f"{entry.path} differs from the declared sha256 {entry.sha256} ({size} bytes)")
    return path.stat().st_size


def _work(todo: queue.SimpleQueue[Source], stage: StageSettings, finished: queue.SimpleQueue[Source],
          stopping: threading.Event) -> None:
    """A worker thread: one source after another; every source it takes is settled."""
    while not stopping.is_set():
        try:
            source = todo.get_nowait()
        except queue.Empty:
            return
        if not source.done:
            size, failure = 0, None  # type: tuple[int, DataProblem | None]
            try:
                size = ready(source, stage)
            except Stopped as exc:
                failure = DataUnavailable(f"could not fetch {source.entry.location}: {exc}")
            except DataProblem as exc:
                failure = exc
            except Exception as exc:  # a bug must fail its input, never leave the stage waiting
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                failure = DataUnavailable(f"could not fetch {source.entry.location}: {problem}")
            if settle(source, size=size, failure=failure):
                finished.put(source)


def _stop(source: Source, reason: str, finished: queue.SimpleQueue[Source]) -> None:
    source.progress.stop(reason)
    if settle(source, failure=DataUnavailable(f"could not fetch {source.entry.location}: {reason}")):
        finished.put(source)


def _drive(sources: list[Source], stage: StageSettings, policy: RunPolicy, on_fetch: OnFetch | None) -> None:
    """Run the workers; apply the deadlines and the rate rule until every source is settled."""
    todo: queue.SimpleQueue[Source] = queue.SimpleQueue()
    for source in sources:
        todo.put(source)
    finished: queue.SimpleQueue[Source] = queue.SimpleQueue()
    stopping = threading.Event()
    workers = [threading.Thread(target=_work, args=(todo, stage, finished, stopping), daemon=True,
                                name=f"fetch-{i}") for i in range(min(FETCH_JOBS, len(sources)))]
    for worker in workers:
        worker.start()
    rate, window = policy.fetch_min_rate, policy.fetch_rate_window_s
    done = 0
    try:
        while done < len(sources):
            try:
                source = finished.get(timeout=TICK_S)
            except queue.Empty:
                now = time.monotonic()
                for source in sources:
                    if source.done:
                        continue
                    if now >= stage.deadline:
                        stopping.set()
                        limit = policy.fetch_timeout_s
                        _stop(source, f"not done within the fetch stage's deadline ({limit:g} s)", finished)
                    elif source.progress.too_slow(now, rate, window):
                        _stop(source, f"slower than {rate} bytes/s over {window:g} s (the input's deadline)",
                              finished)
                continue
            done += 1
            if on_fetch is not None:
                on_fetch(source.entry.name, done, len(sources))
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as the CLI turns it into one
        stopping.set()
        for source in sources:
            source.progress.stop("interrupted")
        end = time.monotonic() + STOP_GRACE_S
        for worker in workers:
            worker.join(max(end - time.monotonic(), 0))
        raise


def _submission_failure(sub: Submission, sources: dict[str, Source], budget: Budget,
                        shipped: dict[int, DataProblem]) -> DataProblem | None:
    for i, entry in enumerate(sub.spec.artifact.data):
        failure = shipped.get(i) if entry.source == "shipped" else sources[source_key(entry)].failure
        if failure is not None:  # a shared fetch's failure, told as this submission's
            return type(failure)(f"{_label(sub, i, entry)}: {failure.message}")
    if budget.over:
        return DataTooLarge(f"{sub.slug}: artifact.data: {budget.message()}; the transfer stopped there")
    return None


def fetch_inputs(subs: list[Submission], policy: RunPolicy, on_fetch: OnFetch | None = None) -> FetchReport:
    """Make every input of ``subs`` ready (each distinct one once, in parallel); never raises for data."""
    start = time.monotonic()
    stage = StageSettings(
        allow_private=policy.allow_private_urls,
        mirror=policy.data_mirror,
        cache=Budget(policy.cache_bytes, "the batch's data cache budget"),
        folder=policy.cache,
        read_timeout=2 * policy.fetch_rate_window_s,  # a silent server meets the rate rule first
        deadline=start + policy.fetch_timeout_s,
    )
    budgets = {sub.slug: Budget(policy.data_bytes, "the data budget") for sub in subs}
    sources: dict[str, Source] = {}
    shipped: dict[str, dict[int, DataProblem]] = {}
    for sub in subs:
        shipped[sub.slug] = {}
        for i, entry in enumerate(sub.spec.artifact.data):
            if entry.source == "shipped":
                try:
                    budgets[sub.slug].take(_check_shipped(sub, entry))
                except DataProblem as exc:
                    shipped[sub.slug][i] = exc
                continue
            source = sources.setdefault(source_key(entry), Source(entry, []))
            if budgets[sub.slug] not in source.budgets:
                source.budgets.append(budgets[sub.slug])
    if sources:
        _drive(list(sources.values()), stage, policy, on_fetch)
    failures = {}
    for sub in subs:
        failure = _submission_failure(sub, sources, budgets[sub.slug], shipped[sub.slug])
        if failure is not None:
            failures[sub.slug] = failure
    return FetchReport(failures, fetched=len(sources), seconds=time.monotonic() - start)


@dataclass(frozen=True)
class Mount:
    """A cached file or folder (``source``) shown read-only at ``target`` (a host path of the run)."""

    source: Path
    target: Path


def mounts_for(
    sub: Submission, work: Path, run_root: Path, cache: Path
) -> tuple[list[Mount], dict[str, str]]:
    """The mounts of one run (its inputs at their declared places, its own HF cache) from the cache
    folder ``cache`` (``RunPolicy.cache``) and the kernel variables that point Hugging Face
    libraries at it, offline."""
    mounts: list[Mount] = []
    sources: list[HfSource] = []
    for entry in sub.spec.artifact.data:
        if entry.hf is not None:
            sources.append(entry.hf)
        elif entry.source != "shipped" and entry.place is None:  # placed: see sandbox/downloads.py
            assert entry.path is not None
            cached = verified_file(cache, entry)
            if cached is None:
                raise DataUnavailable(f"{sub.slug}: {entry.name}: not in the data cache (fetch it first)")
            mounts.append(Mount(cached, work / entry.path))
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if sources:
        view = run_root / HF_VIEW
        pairs = view_layout(hf_cache(cache), sources, view / "hub")
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

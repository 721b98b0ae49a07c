"""Making a run ready, and launching its kernel ahead of its turn (kernel pre-start).

:func:`prepare` resolves the sandbox and the environment, makes the run dir,
writes the notebook where papermill reads it and builds the kernel command;
with ``start_kernel`` it also launches the kernel, which then starts while the
caller runs another notebook. :func:`discard` releases everything a prepared
run holds. :class:`~codeml_repro.run.kernel.execute.KernelPipeline` chains the two.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.notebookfile import read_notebook
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import Submission
from codeml_repro.run.env.environment import KernelEnv, prepare_environment
from codeml_repro.run.inputs.fetch import mounts_for, place_mounts
from codeml_repro.run.kernel import channels, manager
from codeml_repro.run.kernel.foreign import HostKernel, host_kernel
from codeml_repro.run.sandbox import bwrap, cgroups, downloads, privileges, reaping, rundir, runuid, stale
from codeml_repro.run.sandbox import launch as launching
from codeml_repro.run.sandbox.cgroups import RunCgroup
from codeml_repro.run.sandbox.gpu import GpuHost, detect_gpus

KERNEL_NAME = manager.KERNEL_NAME  # never looked up on the host: the run folder has its own kernelspec
HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # what nbclient passes to a kernel it starts
# Cell metadata the runner adds and keeps in the saved notebook: the cell's 0-based index in the
# author's notebook (what ``error.cell`` counts). Cells papermill injects have none.
META_KEY = "codeml"
AUTHOR_INDEX = "author_index"


@dataclass
class Prepared:
    """A run made ready (scratch dir, notebook, kernel command), its kernel perhaps already starting.

    It owns its scratch dir, cgroup and kernel until :func:`~codeml_repro.run.kernel.execute.run_prepared`
    or :func:`discard`.
    """

    sub: Submission
    policy: RunPolicy
    timeout_s: float
    choice: bwrap.SandboxChoice
    env: KernelEnv
    marker: str  # the run id, in the environment of every process of the run
    dirs: rundir.RunDirs
    cgroup: RunCgroup | None
    limits: launching.Limits
    nb: Any
    nb_path: Path
    launch: launching.KernelLaunch
    km: Any = None  # the run's kernel manager (see :mod:`.manager`), once its kernel is launched
    gpu: GpuHost | None = None  # the GPUs bound into the sandbox (when the submission declares any)
    run_uid: runuid.RunUid | None = None  # the kernel's uid on the host, held until discard()

    @property
    def pids_capped(self) -> bool:
        return cgroups.pids_in_force(self.cgroup)


def declared_limits(sub: Submission, limits: launching.Limits) -> launching.Limits:
    """A run that declares more memory than the default cap gets what it declared (the machine was
    checked to have it, and the declaration itself is capped by the policy)."""
    declared = sub.spec.artifact.resources.memory_gb
    if declared is None or limits.memory_bytes < 0:
        return limits
    return dataclasses.replace(limits, memory_bytes=max(limits.memory_bytes, int(declared * 1024**3)))


def address_space_capped(cgroup: RunCgroup | None, gpu: GpuHost | None) -> bool:
    """Whether each process gets ``RLIMIT_AS`` (the README's sandbox table says the same): only where
    no cgroup bounds the run's memory, and never with a GPU (CUDA reserves far more than it uses)."""
    return gpu is None and (cgroup is None or "memory" not in cgroup.in_force)


def gpu_for(sub: Submission) -> GpuHost | None:
    """The host's GPUs when ``sub`` declares it needs one (a run never sees a GPU it did not ask for)."""
    return detect_gpus() if sub.spec.artifact.resources.gpu > 0 else None


def author_index(cell: Any) -> int | None:
    """The index in the author's notebook noted on ``cell`` (None for an injected cell)."""
    meta = cell.get("metadata", {}).get(META_KEY)
    value = meta.get(AUTHOR_INDEX) if isinstance(meta, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_written(prep: Prepared, cell: Any) -> Any:
    """The author's cell for a cell of the executed notebook (``{}`` for an injected one).

    nbclient empties a cell's ``metadata.execution`` before running it (its timing record goes
    there), so a cell's own timeout is read from the notebook as the author wrote it.
    """
    index = author_index(cell) if cell else None
    return prep.nb.cells[index] if index is not None and 0 <= index < len(prep.nb.cells) else {}


def load_notebook(sub: Submission, dirs: rundir.RunDirs) -> tuple[Any, Path]:
    """The author's notebook with each cell's index noted, written where papermill reads it."""
    import nbformat

    nb = read_notebook(sub.notebook_path)  # within bounds, as the checks read it
    for index, cell in enumerate(nb.cells):
        cell.metadata[META_KEY] = {AUTHOR_INDEX: index}
    path = dirs.root / "input.ipynb"
    nbformat.write(nb, path)
    return nb, path


def frame_limit(prep: Prepared) -> int:
    """The largest frame the run's sockets read (see :mod:`.channels`)."""
    sources = [cell.source for cell in prep.nb.cells] + [repr(prep.sub.spec.artifact.parameters)]  # injected
    return channels.frame_limit(prep.policy.max_output_bytes, sources)


def kernel_arguments(prep: Prepared) -> list[str]:
    """What nbclient passes to an IPython kernel it starts (a configured kernel gets none)."""
    return [HISTORY_ARG] if prep.env.kind != "kernel" else []


def make_manager(prep: Prepared) -> Any:
    """A new (unstarted) kernel manager for ``prep``'s kernelspec, kept on ``prep``."""
    dirs = prep.dirs
    prep.km = manager.new_manager(dirs.root / "kernels", dirs.conn / "kernel.json", frame_limit(prep))
    return prep.km


def data_mounts(
    sub: Submission, dirs: rundir.RunDirs, *, sandboxed: bool, cache: Path
) -> tuple[list[tuple[Path, Path]], dict[str, str]]:
    """The run's declared inputs placed in its scratch dir (mount points, or links without bwrap)."""
    mounts, env = mounts_for(sub, dirs.work, dirs.root, cache)
    place_mounts(mounts, sandboxed=sandboxed)
    return [(m.source, m.target) for m in mounts], env


def kernel_env_of(host: HostKernel) -> KernelEnv:
    """What a configured kernel's run records: the kernelspec; the toolkit's Python runs only the
    launch steps around it (limits, cgroup join)."""
    return KernelEnv("kernel", sys.executable, platform.python_version(), kernelspec=host.name)


@dataclass
class _Claimed:
    """What :func:`prepare` holds so far on the host; released together when a later step fails."""

    dirs: rundir.RunDirs
    cgroup: RunCgroup | None = None
    run_uid: runuid.RunUid | None = None

    def release(self) -> None:
        cgroups.remove(self.cgroup)
        rundir.remove_tree(self.dirs.root)
        if self.run_uid is not None:
            self.run_uid.release()


def _claim_sandbox(claimed: _Claimed, choice: bwrap.SandboxChoice, marker: str, memory_bytes: int,
                   max_processes: int) -> int:
    """The run's cgroup (holding what the submission declared, as its tmpfs sizes do) and its uid,
    noted on ``claimed`` as each is taken; under bwrap the kernel's uid owns its scratch dirs.
    Returns the kernel's uid."""
    dirs = claimed.dirs
    claimed.cgroup = cgroup = cgroups.create(marker, memory_bytes, max_processes)
    rundir.record_owner(dirs.root, marker, cgroup.dirs if cgroup else ())
    sandboxed = choice.kind == "bwrap"
    claimed.run_uid = runuid.claim(sandboxed=sandboxed, pids_capped=cgroups.pids_in_force(cgroup))
    if sandboxed:
        privileges.hand_over([dirs.work, dirs.conn], claimed.run_uid.uid)  # as root, the kernel is not root
    return claimed.run_uid.uid


def run_limits(declared: launching.Limits, choice: bwrap.SandboxChoice, cgroup: RunCgroup | None,
               gpu: GpuHost | None) -> launching.Limits:
    """The declared limits less those this sandbox cannot hold."""
    limits = declared
    if not choice.scratch:  # the run folder stays the host's: no disk budget in force
        limits = dataclasses.replace(limits, scratch_bytes=-1, scratch_files=-1)
    if not address_space_capped(cgroup, gpu):
        limits = dataclasses.replace(limits, address_space=False)  # the budget stays the tmpfs size
    return limits


def _kernel_launch(sub: Submission, choice: bwrap.SandboxChoice, env: KernelEnv, host: HostKernel | None,
                   marker: str, claimed: _Claimed, uid: int, limits: launching.Limits,
                   gpu: GpuHost | None, cache: Path) -> launching.KernelLaunch:
    """The kernel's launch (inputs mounted, downloads placed, from the cache folder ``cache``),
    written as the run folder's kernelspec."""
    dirs, cgroup, sandboxed = claimed.dirs, claimed.cgroup, choice.kind == "bwrap"
    mounts, data_env = data_mounts(sub, dirs, sandboxed=sandboxed, cache=cache)
    fetched = downloads.prepare_downloads(sub, dirs, env.python, sandboxed=sandboxed, cache=cache)
    mounts, data_env = [*mounts, *fetched.mounts], {**data_env, **fetched.env}
    if sandboxed:
        privileges.make_readable(source for source, _target in mounts)
    launch = launching.build_launch(
        choice, dirs, env.python, limits, marker, hide=[sub.folder.resolve().parent.parent, Path.cwd()],
        cgroup=cgroup, mounts=mounts, extra_env=data_env, devices=gpu.sandbox_args() if gpu else (),
        uid=uid, kernel_argv=host.argv if host else (), readable=host.readable if host else (),
        inside=fetched.inside, share_net=fetched.share_net,
    )
    manager.run_kernelspec(dirs.root, launch, dirs.root / "kernel.log", marker=marker,
                           cgroup_dirs=cgroup.dirs if cgroup else ())
    return launch


def prepare(sub: Submission, policy: RunPolicy, *, timeout_s: float, start_kernel: bool = False) -> Prepared:
    """Make ``sub``'s run ready in its own environment and sandbox; with ``start_kernel``, launch
    its kernel now (it starts while the caller does something else, e.g. runs another notebook)."""
    stale.clean_stale_once()
    choice = bwrap.choose_sandbox(policy.sandbox, policy.bwrap)  # may raise SandboxUnavailable
    host = host_kernel(sub, policy.kernel_map())  # another language: the maintainer's kernel
    # may raise EnvironmentFailed
    env: KernelEnv = kernel_env_of(host) if host else prepare_environment(
        sub, policy.env, cache=policy.cache, index=policy.package_sources(), offline=policy.offline)
    marker = uuid.uuid4().hex
    claimed = _Claimed(rundir.make_dirs(sub, marker))
    declared = declared_limits(sub, launching.Limits.from_policy(policy))
    try:
        uid = _claim_sandbox(claimed, choice, marker, declared.memory_bytes, policy.max_processes)
        nb, nb_path = load_notebook(sub, claimed.dirs)
        gpu = gpu_for(sub)
        limits = run_limits(declared, choice, claimed.cgroup, gpu)
        launch = _kernel_launch(sub, choice, env, host, marker, claimed, uid, limits, gpu, policy.cache)
    except BaseException:
        claimed.release()
        raise
    prep = Prepared(sub, policy, timeout_s, choice, env, marker, claimed.dirs, claimed.cgroup, limits, nb,
                    nb_path, launch, gpu=gpu, run_uid=claimed.run_uid)
    if start_kernel:
        try:
            launch_kernel(prep)
        except BaseException:
            discard(prep)
            raise
    return prep


def launch_kernel(prep: Prepared) -> None:
    """Launch the kernel as nbclient would (same manager, config and arguments), without waiting."""
    from jupyter_core.utils import run_sync

    make_manager(prep)
    run_sync(prep.km.start_kernel)(extra_arguments=kernel_arguments(prep))


def launch_early(prep: Prepared) -> int | None:
    """Launch the kernel now (inside the run's budget), so that it starts up while papermill is imported
    and set up; return its process group. If the launch fails, a fresh manager is left for papermill,
    which launches the kernel again and reports the failure as it always has."""
    if prep.km is not None:
        return None
    try:
        launch_kernel(prep)
    except Exception:
        reaping.kill_group(km_pgid(prep.km))
        manager.close_contexts(prep.km)
        make_manager(prep)
        return None
    return km_pgid(prep.km)


def km_pgid(km: Any) -> int | None:
    """The process group of a kernel manager's kernel, if it has one."""
    pgid = getattr(getattr(km, "provisioner", None), "pgid", None)
    return pgid if isinstance(pgid, int) else None


def discard(prep: Prepared, pgid: int | None = None) -> None:
    """Release what a prepared run holds: its kernel and every process, its cgroup, its scratch dir."""
    from jupyter_core.utils import run_sync

    reaping.kill_group(pgid or km_pgid(prep.km))
    if prep.km is not None and prep.km.has_kernel:  # started ahead, never run
        with contextlib.suppress(Exception):  # best effort: the kernel was killed just above
            run_sync(prep.km.shutdown_kernel)(now=True)
    manager.close_contexts(prep.km)
    cgroups.kill_all(prep.cgroup)  # also what left the session and cleared its environment
    reaping.sweep(prep.marker)
    cgroups.remove(prep.cgroup)
    rundir.remove_tree(prep.dirs.root)
    if prep.run_uid is not None:  # every process of the run is gone: the uid may serve another
        prep.run_uid.release()  # (kept on prep: the result records it)

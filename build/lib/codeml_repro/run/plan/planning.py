"""Planning: which folders a run is responsible for, and the keys that say whether to run them.

Nothing here imports the execution stack: checking 100 unchanged submissions
loads YAML and hashes files, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codeml_repro.model.addresses import literal_rule
from codeml_repro.model.artifact import FULL_PROFILE
from codeml_repro.model.errors import ShardError, SubmissionInvalid
from codeml_repro.model.inputs import budget_problem
from codeml_repro.model.matrix import matrix_problem
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.profiles import apply_profile
from codeml_repro.model.shownpaths import from_root, project_root
from codeml_repro.model.skipkey import skip_key, submission_inputs
from codeml_repro.model.submission import SUBMISSION_FILE, Submission, discover, load_submission
from codeml_repro.results.parts import ShardShare
from codeml_repro.results.store import ResultStore
from codeml_repro.run.env.lock import pick_python


def check_matrix_fits(sub: Submission, max_cells: int) -> None:
    """``artifact.matrix`` within the cap, each package listed in requirements.txt."""
    req = sub.requirements_path
    text = req.read_text(encoding="utf-8", errors="replace") if req is not None and req.is_file() else None
    problem = matrix_problem(sub.spec.artifact.matrix, text, max_cells)
    if problem is not None:
        raise SubmissionInvalid(f"{sub.folder / SUBMISSION_FILE}: artifact.matrix: {problem}")
def check_data(sub: Submission, policy: RunPolicy) -> None:
    """Declared inputs that cannot work, found before anything is downloaded: a shipped file that
    is missing, a URL whose host is a private address on its face, or declared sizes over the
    data budget."""
    where = sub.folder / SUBMISSION_FILE
    for i, entry in enumerate(sub.spec.artifact.data):
        if entry.source == "shipped" and entry.path and not (sub.folder / entry.path).is_file():
            raise SubmissionInvalid(
                f"{where}: artifact.data[{i}].path: {entry.path} is not in the submission folder "
                "(an entry with no url, doi or hf verifies a shipped file)"
            )
        if entry.url is not None and not policy.allow_private_urls:
            rule = literal_rule(entry.url)
            if rule is not None:
                raise SubmissionInvalid(f"{where}: artifact.data[{i}].url: not fetched: {rule}")
    problem = budget_problem(list(sub.spec.artifact.data), policy.data_bytes)
    if problem:
        raise SubmissionInvalid(f"{where}: {problem}")


@dataclass(frozen=True)
class Planned:
    """A submission folder, loaded or not, with the keys of its inputs."""

    slug: str
    folder: Path
    submission: Submission | None
    problem: str | None
    inputs: str
    key: str


def plan(folder: Path, policy: RunPolicy, *, check: bool = True, profile: str = FULL_PROFILE) -> Planned:
    """Load and validate one folder without importing the execution stack.

    ``check=False`` skips the notebook schema check: the skip test only needs
    the keys, and an unchanged notebook was checked when it last ran. The
    submission is planned with ``profile`` applied (``full`` when it has no such
    profile); the inputs key is the folder's, the skip key adds the profile.
    """
    sub: Submission | None = None
    problem: str | None = None
    try:
        sub = load_submission(folder)
        if check:
            check_notebook(sub, policy.kernel_map())
            if policy.env != "current":
                pick_python(sub)  # artifact.environment.python must be one the host has
            check_matrix_fits(sub, policy.max_matrix_cells)
        check_data(sub, policy)
    except SubmissionInvalid as exc:
        problem = from_root(exc.message, project_root(folder))  # published: no host paths
    inputs = submission_inputs(folder, sub)
    if sub is not None:
        sub = apply_profile(sub, profile)
    timeout = policy.effective_timeout(sub.spec.artifact.timeout if sub else None)
    profiled = {"effective_timeout_s": timeout, "profile": sub.profile if sub else FULL_PROFILE}
    key = skip_key(inputs, {**policy.budget_key(), **profiled})
    return Planned(folder.name, folder, sub if problem is None else None, problem, inputs, key)

GpuSelection = Literal["any", "only", "none"]


@dataclass(frozen=True)
class RunOptions:
    slugs: list[str] | None = None
    jobs: int = 1
    force: bool = False
    repeat: int = 1
    shard: tuple[int, int] | None = None
    profile: str = FULL_PROFILE  # submissions without this profile run full
    gpu: GpuSelection = "any"  # "only": just those declaring a GPU (a GPU runner); "none": all others


def declares_gpu(folder: Path) -> bool:
    """Whether a folder's submission.yml asks for a GPU (an unloadable one does not: it is invalid)."""
    try:
        return load_submission(folder).spec.artifact.resources.gpu > 0
    except SubmissionInvalid:
        return False


def gpu_selected(folders: list[Path], gpu: GpuSelection) -> list[Path]:
    """``folders`` after ``--gpu``: "only" keeps those declaring a GPU, "none" the others."""
    if gpu == "any":
        return folders
    return [f for f in folders if declares_gpu(f) == (gpu == "only")]


def select(root: Path, options: RunOptions, store: ResultStore) -> list[Path]:
    """The folders this run is responsible for (after the GPU selection, then sharding)."""
    return select_share(root, options, store)[0]


def select_share(root: Path, options: RunOptions, store: ResultStore) -> tuple[list[Path], ShardShare | None]:
    """The folders this run runs something of, and with ``--shard`` its share of them: whole
    submissions, and some cells of matrix submissions split over shards."""
    folders = gpu_selected(discover(root, options.slugs), options.gpu)
    if options.shard is None:
        return folders, None
    from codeml_repro.run.plan.shards import shard_shares

    index, count = options.shard
    if not 0 <= index < count:
        raise ShardError(f"--shard {index}/{count}: the index must satisfy 0 <= I < N")
    share = shard_shares(folders, count, store)[index]
    return [f for f in folders if f.name in share.slugs], share


def merge_assignment(
    root: Path, dirs: list[Path], shard_total: int | None, gpu: GpuSelection
) -> dict[Path, ShardShare] | None:
    """What each of ``merge``'s DIRS may update (None: anything), as the runs that made them chose.

    ``--gpu only``: the GPU job's folder holds results of submissions that declare
    ``artifact.resources.gpu`` and of no other. ``--shards N`` (after ``--gpu none`` when the
    shards left the GPU submissions out): shard I's folder, shard I's share as ``run --shard``
    split them. Computed from the submissions under ``root``, never from what a folder holds.
    """
    if shard_total is None and gpu == "any":
        return None
    folders = gpu_selected(discover(root), gpu)
    if shard_total is None:
        return {folder: ShardShare(frozenset(f.name for f in folders)) for folder in dirs}
    from codeml_repro.run.plan.shards import assignment_of_dirs

    return assignment_of_dirs(root, shard_total, dirs, folders)

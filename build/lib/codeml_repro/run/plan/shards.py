"""Split a run over CI shards: every slug in exactly one of N shards.

The weight of a submission is its last recorded duration (a submission never
run weighs the median of the known ones). :func:`assign_shards` places the
longest first, each on the least loaded shard (LPT), then refines the split by
moving one submission, or swapping two, off the most loaded shard while that
lowers it. LPT alone can leave the longest shard a few per cent above the
lower bound (the larger of total/N and the longest submission) when shards
hold few submissions; the refinement closes most of that gap.

The split depends only on its inputs (slugs, N, durations; never their
order), so N jobs that see the same previous results agree on it without
talking to each other; ``plan``, ``run --shard`` and ``merge`` all call
:func:`assign_shards`, the single source of the assignment.

The units of the split are submissions and the cells of matrix submissions: a submission
with an ``artifact.matrix`` of two or more cells is one unit per cell (``slug@I``, cell I in
the matrix's order), so a 4-cell matrix can spread over 2 shards. :func:`shard_shares`
turns the split into what each shard runs (:class:`~codeml_repro.results.parts.ShardShare`).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import ShardError, SubmissionInvalid
from codeml_repro.model.matrix import Cell, cells
from codeml_repro.results.parts import ShardShare
from codeml_repro.results.store import ResultStore

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_INDEX_OF_DIR = re.compile(r"(\d+)\Z")
_CELL_UNIT = re.compile(r"^(.+)@(\d+)$")
DEFAULT_DURATION_S = 60.0
"""Weight of a submission never run before when no duration is known at all."""
DEFAULT_SHARD_MINUTES = 20.0
"""Target wall time of one shard (``CODEML_SHARD_MINUTES`` overrides it)."""
DEFAULT_MAX_SHARDS = 32
"""Most shards a plan asks for (``MAX_SHARDS``; GitHub allows 256 jobs per matrix)."""
_EPS = 1e-9


def parse_shard(text: str) -> tuple[int, int]:
    """``"1/3"`` -> ``(1, 3)``: shard I of N, 0-based, ``0 <= I < N``."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise ShardError(f"--shard {text!r}: expected I/N with whole numbers, e.g. 0/3 (0-based)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ShardError(f"--shard {text!r}: the shard count N must be at least 1, e.g. 0/1")
    if index >= count:
        raise ShardError(
            f"--shard {text!r}: the index must be below the count (0 <= I < N); "
            f"shards of {count} are 0/{count} to {count - 1}/{count}"
        )
    return index, count


def predicted_durations(slugs: list[str], durations: Mapping[str, float]) -> dict[str, float]:
    """The weight of every slug: its last duration, or the median of the known ones if new."""
    unique = set(slugs)
    known = sorted(d for s, d in durations.items() if s in unique and d > 0)
    default = known[len(known) // 2] if known else DEFAULT_DURATION_S
    return {s: durations[s] if durations.get(s, 0.0) > 0 else default for s in sorted(unique)}


def shard_count(total_s: float, n_slugs: int, target_s: float, max_shards: int) -> int:
    """Shards needed for ``target_s`` of work each: ceil(total/target), within 1..max and 1..slugs."""
    if target_s <= 0:
        raise ShardError(f"target minutes per shard must be positive, not {target_s / 60:g}")
    if max_shards < 1:
        raise ShardError(f"MAX_SHARDS must be at least 1, not {max_shards}")
    wanted = math.ceil(total_s / target_s - _EPS) if total_s > 0 else 1
    return max(1, min(wanted, max_shards, max(n_slugs, 1)))


def _lpt(weights: dict[str, float], count: int) -> list[list[tuple[float, str]]]:
    """Longest first, each to the least loaded shard (ties: fewer slugs, then lowest index)."""
    loads = [0.0] * count
    bins: list[list[tuple[float, str]]] = [[] for _ in range(count)]
    for slug in sorted(weights, key=lambda s: (-weights[s], s)):
        target = min(range(count), key=lambda i: (loads[i], len(bins[i]), i))
        bins[target].append((weights[slug], slug))
        loads[target] += weights[slug]
    return bins


def _best_change(top: list[tuple[float, str]], other: list[tuple[float, str]], gap: float
                 ) -> tuple[float, int, int] | None:
    """The move (other index -1) or swap that shifts ``d`` closest to gap/2, with 0 < d < gap.

    Returns ``(|d - gap/2|, top index, other index)``; shifting d off the top
    shard lowers it and leaves the other below the old top load.
    """
    best: tuple[float, int, int] | None = None
    other_weights = [w for w, _ in other]
    for i, (w, _) in enumerate(top):
        candidates = [(w, -1)]  # a move shifts w
        at = bisect.bisect_left(other_weights, w - gap / 2)
        candidates += [(w - other_weights[j], j) for j in (at - 1, at) if 0 <= j < len(other)]
        for d, j in candidates:
            if _EPS < d < gap - _EPS:
                option = (abs(d - gap / 2), i, j)
                if best is None or option < best:
                    best = option
    return best


def _refine(bins: list[list[tuple[float, str]]], lower_bound: float, max_rounds: int) -> None:
    """Lower the most loaded shard by moves and swaps until none helps (or it hits the bound)."""
    loads = [sum(w for w, _ in b) for b in bins]
    for _ in range(max_rounds):
        top = min(range(len(bins)), key=lambda i: (-loads[i], i))
        if loads[top] <= lower_bound + _EPS:
            return
        for other in sorted((i for i in range(len(bins)) if i != top), key=lambda i: (loads[i], i)):
            bins[other].sort()
            change = _best_change(bins[top], bins[other], loads[top] - loads[other])
            if change is not None:
                break
        else:
            return
        _, i, j = change
        moved = bins[top].pop(i)
        loads[top] -= moved[0]
        loads[other] += moved[0]
        if j >= 0:
            back = bins[other].pop(j)
            bins[top].append(back)
            loads[top] += back[0]
            loads[other] -= back[0]
        bins[other].append(moved)


def lower_bound(weights: Mapping[str, float], count: int) -> float:
    """No split into ``count`` shards can finish sooner: max(total/N, longest)."""
    return max(sum(weights.values()) / count, max(weights.values(), default=0.0))


def assign_shards(slugs: list[str], count: int, durations: Mapping[str, float]) -> list[list[str]]:
    """All N shards, each sorted; see the module docstring. The input order does not matter."""
    if count < 1:
        raise ShardError(f"shard count must be at least 1, not {count}")
    weights = predicted_durations(slugs, durations)
    bins = _lpt(weights, count)
    _refine(bins, lower_bound(weights, count), max_rounds=4 * len(weights))
    return [sorted(slug for _, slug in b) for b in bins]


def select_shard(slugs: list[str], index: int, count: int, durations: Mapping[str, float]) -> list[str]:
    """The slugs of shard ``index`` of ``count`` (sorted); see :func:`assign_shards`."""
    if not 0 <= index < count:
        raise ShardError(f"--shard {index}/{count}: the index must satisfy 0 <= I < N")
    return assign_shards(slugs, count, durations)[index]


@dataclass(frozen=True)
class ShardPlan:
    """The split ``plan`` prints: each shard's slugs and predicted seconds, and the bound."""

    shards: list[list[str]]
    predicted_s: list[float]
    total_s: float
    longest_s: float
    lower_bound_s: float

    @property
    def makespan_s(self) -> float:
        """Predicted wall time of the whole run: the most loaded shard."""
        return max(self.predicted_s, default=0.0)

    def to_json(self) -> list[dict[str, Any]]:
        """``[{"shard": 0, "slugs": [...], "predicted_s": ...}, ...]``, as ``plan --json`` prints."""
        return [
            {"shard": i, "slugs": slugs, "predicted_s": round(s, 3)}
            for i, (slugs, s) in enumerate(zip(self.shards, self.predicted_s, strict=True))
        ]


def plan_shards(slugs: list[str], durations: Mapping[str, float], *, count: int | None = None,
                target_s: float = DEFAULT_SHARD_MINUTES * 60,
                max_shards: int = DEFAULT_MAX_SHARDS) -> ShardPlan:
    """Split ``slugs`` into ``count`` shards, or as many as ``target_s`` per shard needs."""
    weights = predicted_durations(slugs, durations)
    if count is None:
        count = shard_count(sum(weights.values()), len(weights), target_s, max_shards)
    shards = assign_shards(slugs, count, durations)
    return ShardPlan(
        shards=shards,
        predicted_s=[sum(weights[s] for s in shard) for shard in shards],
        total_s=sum(weights.values()),
        longest_s=max(weights.values(), default=0.0),
        lower_bound_s=lower_bound(weights, count),
    )


def matrix_cells(folder: Path) -> list[Cell]:
    """The cells of a folder's matrix ([] without one, or when submission.yml does not load)."""
    from codeml_repro.model.submission import load_submission

    try:
        matrix = load_submission(folder).spec.artifact.matrix
    except SubmissionInvalid:
        return []
    return cells(matrix) if matrix else []


def unit_slug(unit: str) -> tuple[str, int | None]:
    """``"tiny@1"`` -> ``("tiny", 1)``; a whole submission's unit is its slug (index None)."""
    match = _CELL_UNIT.match(unit)
    return (match.group(1), int(match.group(2))) if match else (unit, None)


def shard_units(folders: Sequence[Path]) -> dict[str, list[str]]:
    """slug -> its units: ``[slug]``, or ``[slug@0, slug@1, ...]`` for a matrix of 2+ cells."""
    out: dict[str, list[str]] = {}
    for folder in folders:
        count = len(matrix_cells(folder))
        out[folder.name] = [f"{folder.name}@{i}" for i in range(count)] if count > 1 else [folder.name]
    return out


def unit_durations(folders: Sequence[Path], store: ResultStore) -> dict[str, float]:
    """Each unit's last duration: a cell's from the recorded cell with the same entries, else
    its share of the submission's duration; a whole submission's its own."""
    recorded = store.read_all()
    out: dict[str, float] = {}
    for folder in folders:
        result = recorded.get(folder.name)
        if result is None or not result.duration_s:
            continue
        wanted = matrix_cells(folder)
        if len(wanted) < 2:
            out[folder.name] = result.duration_s
            continue
        ran = {tuple(sorted(c.requested.items())): c.duration_s for c in result.matrix}
        share = result.duration_s / len(wanted)
        for i, cell in enumerate(wanted):
            out[f"{folder.name}@{i}"] = ran.get(tuple(sorted(cell.items()))) or share
    return out


def shares_of(assignment: list[list[str]]) -> list[ShardShare]:
    """What each shard runs: a submission whose units all landed on one shard is whole there."""
    holders: dict[str, set[int]] = {}
    for i, shard in enumerate(assignment):
        for unit in shard:
            holders.setdefault(unit_slug(unit)[0], set()).add(i)
    out = []
    for shard in assignment:
        whole: set[str] = set()
        split: dict[str, set[int]] = {}
        for unit in shard:
            slug, index = unit_slug(unit)
            if index is None or len(holders[slug]) == 1:
                whole.add(slug)
            else:
                split.setdefault(slug, set()).add(index)
        out.append(ShardShare(frozenset(whole), {s: frozenset(c) for s, c in sorted(split.items())}))
    return out


def shard_shares(folders: Sequence[Path], count: int, store: ResultStore) -> list[ShardShare]:
    """The share of each of ``count`` shards, from the submissions and the recorded durations."""
    units = [u for group in shard_units(folders).values() for u in group]
    return shares_of(assign_shards(units, count, unit_durations(folders, store)))


def assignment_of_dirs(
    root: Path, count: int, dirs: Sequence[Path], folders: Sequence[Path] | None = None
) -> dict[Path, ShardShare]:
    """What each shard's folder (named ``...-I``, e.g. ``shard-2``) was assigned.

    Computed as ``run --shard I/N`` computed it: from ``folders`` (default: every submission under
    ``root``; after ``--gpu none``, those without a GPU) and the previous results under ``root``
    (the full run copies them there before merging). ``merge`` accepts from a
    shard only the results of its own submissions and the parts of its own cells, so one shard
    cannot overwrite another's.
    """
    from codeml_repro.model.submission import discover

    shares = shard_shares(discover(root) if folders is None else folders, count, ResultStore(root))
    out: dict[Path, ShardShare] = {}
    for folder in dirs:
        match = _INDEX_OF_DIR.search(folder.resolve().name)
        if match is None or int(match.group(1)) >= count:
            raise ShardError(
                f"{folder}: --shards {count} needs folders named after their shard, shard-0 to "
                f"shard-{count - 1}"
            )
        out[folder] = shares[int(match.group(1))]
    return out

"""Split a run over CI shards: every slug in exactly one of N shards.

:func:`select_shard` balances the shards by each submission's last known
duration (longest first, each to the least loaded shard). It depends only on
its inputs, so N jobs that see the same previous results agree on the split
without talking to each other.
"""

from __future__ import annotations

import re

from codeml_repro.model.errors import ShardError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
DEFAULT_DURATION_S = 60.0
"""Weight of a submission never run before when no duration is known at all."""


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


def _weight(slug: str, durations: dict[str, float], default: float) -> float:
    value = durations.get(slug)
    return value if value is not None and value > 0 else default


def assign_shards(slugs: list[str], count: int, durations: dict[str, float]) -> list[list[str]]:
    """All N shards: longest first, each to the least loaded shard (ties: lowest index).

    A slug without a known duration weighs the median of the known ones, so
    new submissions spread evenly. The input order does not matter.
    """
    if count < 1:
        raise ShardError(f"shard count must be at least 1, not {count}")
    unique = sorted(set(slugs))
    known = sorted(d for s, d in durations.items() if s in unique and d > 0)
    default = known[len(known) // 2] if known else DEFAULT_DURATION_S
    order = sorted(unique, key=lambda s: (-_weight(s, durations, default), s))
    loads = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for slug in order:
        target = min(range(count), key=lambda i: (loads[i], len(shards[i]), i))
        shards[target].append(slug)
        loads[target] += _weight(slug, durations, default)
    return [sorted(shard) for shard in shards]


def select_shard(slugs: list[str], index: int, count: int, durations: dict[str, float]) -> list[str]:
    """The slugs of shard ``index`` of ``count`` (sorted); see :func:`assign_shards`."""
    if not 0 <= index < count:
        raise ShardError(f"--shard {index}/{count}: the index must satisfy 0 <= I < N")
    return assign_shards(slugs, count, durations)[index]

"""A CI shard's share of the work, and the cells it ran of a matrix submission split over shards.

Each matrix cell is a unit of the shard plan, so the cells of one submission may run on
different shards. A :class:`ShardShare` says what one shard was given: whole submissions,
and cells (by their 0-based index in the matrix's order) of the split ones. For a split
submission a shard records only a *part*, ``results/parts/<slug>.json``: a result whose
``matrix`` holds the cells it ran (or read back by key); ``merge`` combines the parts of all
shards into the submission's result. A result of the whole submission that no cell produced
(invalid, its data could not be fetched) is recorded by the shard that holds its first cell.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from codeml_repro.model.result import FORMAT_VERSION, Result
from codeml_repro.results.store import atomic_write

PARTS = "parts"


@dataclass(frozen=True)
class ShardShare:
    """What ``run --shard I/N`` runs: whole submissions, and some cells of split ones."""

    whole: frozenset[str] = frozenset()
    cells: Mapping[str, frozenset[int]] = field(default_factory=dict)
    """Split submission -> the indices of its cells this shard runs."""

    @property
    def slugs(self) -> frozenset[str]:
        """Every submission this shard runs something of."""
        return self.whole | frozenset(self.cells)

    def records(self, slug: str) -> bool:
        """Whether this shard records the whole submission's result (its own, or its first cell)."""
        return slug in self.whole or 0 in self.cells.get(slug, frozenset())


def part_path(results_dir: Path, slug: str) -> Path:
    return results_dir / PARTS / f"{slug}.json"


def write_part(results_dir: Path, part: Result) -> None:
    """Record the cells a shard ran of a split submission (replacing an older part)."""
    body = json.dumps(part.to_json(), indent=2, sort_keys=True) + "\n"
    atomic_write(part_path(results_dir, part.slug), body.encode())


def clear_part(results_dir: Path, slug: str) -> None:
    """Remove an earlier run's part: a shard's folder holds only the parts of its own run."""
    with contextlib.suppress(FileNotFoundError):
        part_path(results_dir, slug).unlink()


def read_parts(results_dir: Path) -> dict[str, tuple[Path, bytes, Result | str]]:
    """slug -> (path, bytes, the part or why it is unreadable), for every part in ``results_dir``."""
    out: dict[str, tuple[Path, bytes, Result | str]] = {}
    folder = results_dir / PARTS
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        if path.is_symlink():
            continue  # never read through a link a shard left: merge warns about it
        body = path.read_bytes()
        try:
            part = Result.model_validate_json(body)
        except ValidationError as exc:
            out[path.stem] = (path, body, f"{path}: not a result ({exc.errors()[0]['msg']})")
            continue
        if part.format_version != FORMAT_VERSION:
            out[path.stem] = (path, body, (
                f"{path}: result format_version {part.format_version}, this codeml-repro writes "
                f"{FORMAT_VERSION}; re-run that shard with this version of the toolkit"
            ))
            continue
        out[path.stem] = (path, body, part)
    return out

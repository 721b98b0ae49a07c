"""``merge``'s half for matrix submissions whose cells ran on several shards.

Each shard left a part (:mod:`codeml_repro.results.parts`) with the cells it ran. Cells are
matched to the matrix in ``ROOT/submissions/<slug>/submission.yml`` by their entries; with
``--shards`` a cell from a shard that was not given it is refused, as a whole result is.
When every cell is there, :func:`~codeml_repro.results.combine.combine_cells` makes the
submission's result, as a single run would; a part missing (a shard that failed) leaves the
submission's recorded result as it was, with a warning.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from codeml_repro.model.errors import MergeError, SubmissionInvalid
from codeml_repro.model.matrix import cells
from codeml_repro.model.result import MatrixCellResult, Result
from codeml_repro.model.submission import SubmissionSpec, discover, load_submission
from codeml_repro.results.combine import combine_cells, describe_versions
from codeml_repro.results.parts import PARTS, ShardShare, read_parts


@dataclass(frozen=True)
class FoundPart:
    """A part as read from one source."""

    path: Path
    results_dir: Path
    part: Result
    share: ShardShare | None


@dataclass(frozen=True)
class Combined:
    """A split submission's merged result, and the notebook it shows (in a source folder)."""

    result: Result
    notebook: Path | None


def link_on_the_way(path: Path, results_dir: Path) -> Path | None:
    """The first symbolic link from ``results_dir`` down to ``path`` (``path`` included), or None.

    A shard's folder is what a run left behind, and a link planted in it (``notebooks/x.ipynb``
    pointing at a host file, or ``notebooks`` pointing at a host folder) would have merge publish
    whatever it points at: merge takes regular files only, never through a link."""
    current = results_dir
    for part in path.relative_to(results_dir).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file, opened without following a final link
    (``OSError`` otherwise), so a link swapped in after the check is not read either."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        return handle.read()


def collect_parts(results_dir: Path, share: ShardShare | None, found: dict[str, list[FoundPart]],
                  warnings: list[str]) -> None:
    """Add the parts in ``results_dir``; raises :class:`MergeError` for an unreadable one.
    A part that is (or is reached through) a link is refused with a warning, never read."""
    folder = results_dir / PARTS
    linked = [p for p in (folder, *sorted(folder.glob("*.json"))) if p.is_symlink()]
    for link in linked:
        warnings.append(f"{link}: refused: a symbolic link; merge copies regular files only")
    if folder in linked:
        return
    for slug, (path, _body, part) in read_parts(results_dir).items():  # it skips links
        if isinstance(part, str):
            raise MergeError(part)
        if part.slug != slug:
            raise MergeError(f"{path}: holds a part of {part.slug!r}, not of {slug!r}")
        found.setdefault(slug, []).append(FoundPart(path, results_dir, part, share))


def _matrix_of(root: Path, slug: str) -> tuple[SubmissionSpec, list[dict[str, str]]] | str:
    """The submission's spec and its cells in order, or why they cannot be read."""
    try:
        (folder,) = discover(root, [slug])
        spec = load_submission(folder).spec
    except SubmissionInvalid as exc:
        return f"parts of {slug} ignored: {exc.message}"
    return spec, cells(spec.artifact.matrix)


def _cells_by_index(slug: str, order: list[dict[str, str]], parts: list[FoundPart], warnings: list[str]
                    ) -> dict[int, tuple[MatrixCellResult, FoundPart]]:
    """Each cell of the parts at its place in the matrix; a cell not assigned to its shard refused."""
    out: dict[int, tuple[MatrixCellResult, FoundPart]] = {}
    for found in parts:
        for cell in found.part.matrix:
            index = order.index(cell.requested) if cell.requested in order else None
            label = describe_versions(cell.requested)
            if index is None:
                warnings.append(f"{found.path}: refused: {label} is not a cell of {slug}'s matrix")
                continue
            if found.share is not None and index not in found.share.cells.get(slug, frozenset()):
                warnings.append(f"{found.path}: refused: cell {label} of {slug} was not assigned to it")
                continue
            other = out.get(index)
            if other is not None and other[0] != cell:
                raise MergeError(
                    f"duplicate cell {label} of {slug!r}: {other[1].path} and {found.path} differ; "
                    "each cell must be run by exactly one shard"
                )
            out[index] = (cell, found)
    return out


def combine_parts(root: Path, slug: str, parts: list[FoundPart], warnings: list[str]) -> Combined | None:
    """The submission's result from all its cells across shards (None: not every cell is there)."""
    matrix = _matrix_of(root, slug)
    if isinstance(matrix, str):
        warnings.append(matrix)
        return None
    spec, order = matrix
    placed = _cells_by_index(slug, order, parts, warnings)
    missing = [describe_versions(order[i]) for i in range(len(order)) if i not in placed]
    if missing:
        warnings.append(f"{slug}: no shard ran {'; '.join(missing)}: its recorded result is kept")
        return None
    used = {id(found): found for _, found in placed.values()}.values()
    if len({found.part.key for found in used}) > 1:
        warnings.append(f"{slug}: its shards ran different versions of the submission: result kept")
        return None
    first = next(iter(used)).part
    cells_in_order = [placed[i][0] for i in range(len(order))]
    result = combine_cells(
        slug, spec, cells_in_order, key=first.key, inputs_key=first.inputs_key,
        finished_at=max(found.part.finished_at or "" for found in used),
    )
    shown = next((f for c, f in placed.values() if result.notebook and c.notebook == result.notebook), None)
    source = shown.results_dir / str(result.notebook) if shown is not None else None
    if source is None or shown is None or link_on_the_way(source, shown.results_dir) or not source.is_file():
        return Combined(result.model_copy(update={"notebook": None}), None)
    return Combined(result.model_copy(update={"notebook": f"notebooks/{slug}.ipynb"}), source)


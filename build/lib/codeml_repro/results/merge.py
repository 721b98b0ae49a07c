"""Combine the results of CI shards (``codeml-repro merge DIR... --root R``).

:func:`merge_results` copies each source's ``<slug>.json`` and
``notebooks/<slug>.ipynb`` into ``R/results`` and replaces
``history/<slug>.jsonl`` by the union of the destination's history (carried
over from earlier runs) and the sources'. A matrix submission whose cells ran on
several shards has no ``<slug>.json`` in any of them, only parts: its result is
combined from the cells of all parts (:mod:`codeml_repro.results.mergeparts`).
Every source is read and checked before anything is written, so a refused merge
leaves the destination as it was; each file is then replaced atomically. Only regular files
are copied: a link in a shard's folder (or a linked folder) is refused with a warning, never
followed (a shard's folder is what a run left behind).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from codeml_repro.model.errors import MergeError
from codeml_repro.model.result import FORMAT_VERSION, Result, RunRecord
from codeml_repro.model.submission import is_slug
from codeml_repro.results.mergeparts import (
    Combined,
    FoundPart,
    collect_parts,
    combine_parts,
    link_on_the_way,
    read_regular,
)
from codeml_repro.results.parts import ShardShare
from codeml_repro.results.store import HISTORY_LIMIT, ResultStore, atomic_write, read_history

_KINDS = ((".", ".json"), ("history", ".jsonl"), ("parts", ".json"))
LINK_REFUSED = "is a symbolic link; merge copies regular files only"


@dataclass(frozen=True)
class MergeReport:
    """What :func:`merge_results` did."""

    dest: Path
    sources: tuple[Path, ...]
    updated: tuple[str, ...] = ()
    """Slugs whose result was replaced by a source's."""
    unchanged: tuple[str, ...] = ()
    """Slugs the sources carried unchanged (byte-identical to the destination's)."""
    history_records: int = 0
    """Records in the merged histories of the slugs the sources touched."""
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [
            f"merged {len(self.sources)} source(s) into {self.dest / 'results'}: "
            f"{len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{self.history_records} history record(s)"
        ]
        if self.updated:
            lines.append("updated: " + ", ".join(self.updated))
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


@dataclass
class _Candidate:
    path: Path
    body: bytes
    result: Result
    notebook: Path | None


@dataclass
class _Plan:
    results: dict[str, _Candidate] = field(default_factory=dict)
    unchanged: set[str] = field(default_factory=set)
    history: dict[str, list[RunRecord]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    parts: dict[str, list[FoundPart]] = field(default_factory=dict)


def results_dir_of(source: Path) -> Path:
    """A source is a root (holding ``results/``) or a results folder itself."""
    if not source.is_dir():
        raise MergeError(f"{source}: not a folder; pass a root or a results folder of a shard")
    nested = source / "results"
    return nested if nested.is_dir() else source


def _check_version(path: Path, body: bytes) -> None:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MergeError(f"{path}: not a JSON result ({exc})") from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise MergeError(
            f"{path}: result format_version {version!r}, this codeml-repro writes {FORMAT_VERSION}; "
            "re-run that shard with this version of the toolkit"
        )


def _read_candidate(path: Path, body: bytes, results_dir: Path, warnings: list[str]) -> _Candidate:
    _check_version(path, body)
    try:
        result = Result.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise MergeError(f"{path}: invalid result: {where}: {first['msg']}") from None
    if result.slug != path.stem:
        raise MergeError(f"{path}: holds the result of {result.slug!r}, not of {path.stem!r}")
    notebook = results_dir / "notebooks" / f"{path.stem}.ipynb"
    link = link_on_the_way(notebook, results_dir)
    if link is not None:
        warnings.append(f"{notebook}: not copied: {link} {LINK_REFUSED}")
        return _Candidate(path, body, result, None)
    return _Candidate(path, body, result, notebook if notebook.is_file() else None)


def _slug_files(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"*{suffix}") if is_slug(p.stem))


def _regular_files(plan: _Plan, results_dir: Path, sub: str, suffix: str) -> list[Path]:
    """A source's files of one kind, links (the file's or its folder's) refused with a warning."""
    found = []
    for path in _slug_files(results_dir / sub, suffix):
        link = link_on_the_way(path, results_dir)
        if link is None:
            found.append(path)
        else:
            plan.warnings.append(f"{path}: refused: {link} {LINK_REFUSED}")
    return found


def _add_result(plan: _Plan, path: Path, results_dir: Path, dest: ResultStore) -> None:
    body = read_regular(path)
    current = dest.result_path(path.stem)
    if current.is_file() and current.read_bytes() == body:
        plan.unchanged.add(path.stem)  # the destination's own file, carried over: adds nothing
        return
    cand = _read_candidate(path, body, results_dir, plan.warnings)
    slug = cand.result.slug
    other = plan.results.get(slug)
    if other is None:
        plan.results[slug] = cand
    elif other.body != cand.body:
        raise MergeError(
            f"duplicate result for {slug!r}: {other.path} and {cand.path} differ; "
            "each submission must be run by exactly one shard"
        )


NOT_ASSIGNED = "was not assigned to this shard"


def _refused(plan: _Plan, path: Path, dest: ResultStore, share: ShardShare | None, why: str) -> bool:
    """A shard's result for a slug it was not assigned: refused (with a warning, ``why``) unless it
    is the destination's own file carried over. One shard cannot overwrite another's submissions."""
    if share is None or share.records(path.stem):
        return False
    current = dest.result_path(path.stem)
    if current.is_file() and current.read_bytes() == path.read_bytes():
        plan.unchanged.add(path.stem)
    else:
        plan.warnings.append(f"{path}: refused: {path.stem} {why}")
    return True


def _plan(sources: list[Path], dest: ResultStore, assigned: Mapping[Path, ShardShare], why: str) -> _Plan:
    plan = _Plan()
    seen: set[Path] = set()
    for source in sources:
        results_dir = results_dir_of(source)
        if results_dir.resolve() in seen:
            raise MergeError(f"{source}: given twice; pass each shard's folder once")
        seen.add(results_dir.resolve())
        if not any(_slug_files(results_dir / sub, suffix) for sub, suffix in _KINDS):
            raise MergeError(
                f"{source}: no results found (expected results/<slug>.json); is this a shard's folder?"
            )
        share = assigned.get(source)
        for path in _regular_files(plan, results_dir, ".", ".json"):
            try:
                if _refused(plan, path, dest, share, why):
                    continue
                _add_result(plan, path, results_dir, dest)
            except OSError as exc:
                raise MergeError(f"{path}: cannot read ({exc})") from None
        try:
            collect_parts(results_dir, share, plan.parts, plan.warnings)
        except OSError as exc:
            raise MergeError(f"{results_dir}: cannot read its parts ({exc})") from None
        for path in _regular_files(plan, results_dir, "history", ".jsonl"):
            if share is not None and not share.records(path.stem):
                continue  # another shard's history (carried over): the destination has it
            try:
                records = read_history(path, plan.warnings)
            except OSError as exc:
                raise MergeError(f"{path}: cannot read ({exc})") from None
            plan.history.setdefault(path.stem, []).extend(records)
    return plan


def union_history(*groups: list[RunRecord]) -> list[RunRecord]:
    """Every distinct record once, oldest first (by ``finished_at``)."""
    seen: dict[str, RunRecord] = {}
    for group in groups:
        for record in group:
            seen.setdefault(record.model_dump_json(), record)
    return [seen[k] for k in sorted(seen, key=lambda k: (seen[k].finished_at, k))]


def _combine_split(plan: _Plan, dest_root: Path) -> None:
    """The result of each matrix submission that ran as parts on several shards."""
    for slug, parts in sorted(plan.parts.items()):
        if slug in plan.results:
            plan.warnings.append(
                f"{slug}: its parts are ignored: {plan.results[slug].path} records the whole submission"
            )
            continue
        combined: Combined | None = combine_parts(dest_root, slug, parts, plan.warnings)
        if combined is None:
            continue
        result = combined.result
        body = (json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n").encode()
        plan.results[slug] = _Candidate(parts[0].path, body, result, combined.notebook)
        plan.history.setdefault(slug, []).append(result.to_record())


def merge_results(
    sources: list[Path], dest_root: Path, assigned: Mapping[Path, ShardShare] | None = None,
    refusal: str = NOT_ASSIGNED,
) -> MergeReport:
    """Combine shard results into ``dest_root/results``; see the module docstring.

    Raises :class:`MergeError` (before writing anything) for a result of
    another format version, an unreadable result, or the same slug (or matrix cell) with
    different results in two sources. With ``assigned`` (source -> what its shard ran),
    a source's result, history or matrix cell for anything else is refused with a warning saying
    it ``refusal``.
    """
    if not sources:
        raise MergeError("merge: no source folder given; pass the shards' results folders")
    dest = ResultStore(dest_root)
    plan = _plan(sources, dest, assigned or {}, refusal)
    _combine_split(plan, dest_root)
    total = 0
    for slug in sorted(set(plan.history) | set(plan.results)):
        past = dest.history(slug)
        merged = union_history(past, plan.history.get(slug, []))
        total += min(len(merged), HISTORY_LIMIT)
        cand = plan.results.get(slug)
        try:
            if cand is not None and cand.notebook is not None:
                atomic_write(dest.notebook_path(slug), read_regular(cand.notebook))
            if merged != past:
                dest.write_history(slug, merged)
            if cand is not None:
                atomic_write(dest.result_path(slug), cand.body)
        except OSError as exc:
            raise MergeError(f"{dest.results_dir}: cannot write the merged results of {slug}: {exc}") from exc
    return MergeReport(
        dest=dest_root,
        sources=tuple(sources),
        updated=tuple(sorted(plan.results)),
        unchanged=tuple(sorted(plan.unchanged - set(plan.results))),
        history_records=total,
        warnings=tuple([*plan.warnings, *dest.problems]),
    )

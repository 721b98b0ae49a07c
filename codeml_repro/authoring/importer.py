"""``codeml-repro import openreview``: accepted papers into ``submissions/<slug>/``.

A paper's folder is found again by its ``openreview_id`` (in any edition), so a re-import
updates the same folder whatever its title became, and slugs never move.
The import owns only what came from OpenReview (title, authors' names and
affiliations, abstract, ``links.openreview``, ``links.pdf``, the session and
the id). Everything else in ``submission.yml`` (artifact, claims, data,
other links, an author's url, comments) belongs to authors and
organizers: the file is edited round-trip with ruamel.yaml, so their keys,
comments and quoting stay byte for byte, and a value that did not change on
OpenReview is not even re-written.
"""

from __future__ import annotations

import difflib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from codeml_repro.authoring.openreview import Export, ImportedPaper
from codeml_repro.model.editions import submission_bases
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.safeyaml import load_bounded
from codeml_repro.model.schema import SCHEMA_FILE
from codeml_repro.model.submission import SUBMISSION_FILE, SubmissionSpec, describe_error
from codeml_repro.results.store import atomic_write

MAX_SLUG_CHARS = 60
_OWNED_ORDER = ("title", "authors", "abstract", "links", "session", "openreview_id")
_HEADER = f"""\
# yaml-language-server: $schema=../../{SCHEMA_FILE}
#
# Imported from OpenReview by 'codeml-repro import openreview'. A re-import
# updates title, authors, abstract, links.openreview, links.pdf, session and
# openreview_id; everything else you add here (artifact, claims, data, other
# links) is kept as you wrote it.
"""


@dataclass(frozen=True)
class FileChange:
    """One submission.yml the import would create or update (old is None when new)."""

    path: Path
    label: str  # the path as the diff shows it: relative to the project root
    openreview_id: str
    old: str | None
    new: str

    @property
    def kind(self) -> str:
        if self.old is None:
            return "created"
        return "unchanged" if self.old == self.new else "updated"

    def diff(self) -> str:
        """A unified diff of this file, as ``git diff`` would show it."""
        old = [] if self.old is None else self.old.splitlines(keepends=True)
        return "".join(difflib.unified_diff(
            old, self.new.splitlines(keepends=True),
            fromfile="/dev/null" if self.old is None else f"a/{self.label}", tofile=f"b/{self.label}",
        ))


@dataclass(frozen=True)
class ImportPlan:
    changes: tuple[FileChange, ...]
    notes: tuple[str, ...]      # not accepted papers, kept folders: information
    problems: tuple[str, ...]   # a note or a file that could not be imported


def slugify(title: str) -> str:
    """A plain ASCII slug from a title ('Über GPUs: α-tests' -> 'uber-gpus-tests')."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = ""
    for word in re.findall(r"[a-z0-9]+", ascii_text.lower()):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > MAX_SLUG_CHARS:
            break
        slug = candidate
    return slug or "paper"


def _unique(base: str, taken: set[str]) -> str:
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def find_imported(root: Path) -> dict[str, Path]:
    """openreview_id -> submission folder, for every folder that has one."""
    found: dict[str, Path] = {}
    paths = [p for _year, base in submission_bases(root) for p in sorted(base.glob(f"*/{SUBMISSION_FILE}"))]
    for path in paths:
        try:
            raw = load_bounded(path)  # author content: no alias bombs, no huge files
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SubmissionInvalid(
                f"{path}: not valid YAML ({' '.join(str(exc).split())}); fix it before importing, "
                "so the import can tell whether it holds an imported paper"
            ) from None
        ident = raw.get("openreview_id") if isinstance(raw, dict) else None
        if isinstance(ident, str):
            if ident in found:
                raise SubmissionInvalid(
                    f"{path}: openreview_id: '{ident}' is also in {found[ident] / SUBMISSION_FILE}; "
                    "keep it in one folder"
                )
            found[ident] = path.parent
    return found


def plan_import(root: Path, export: Export) -> ImportPlan:
    """What the import would write, file by file; nothing is written here."""
    imported = find_imported(root)
    base = root / "submissions"
    taken = {p.name for _year, b in submission_bases(root) if b.is_dir() for p in b.iterdir()}
    changes: list[FileChange] = []
    problems = list(export.problems)
    for paper in sorted(export.papers, key=lambda p: p.openreview_id):
        folder = imported.get(paper.openreview_id) or base / _unique(slugify(paper.title), taken)
        path = folder / SUBMISSION_FILE
        try:
            changes.append(_change(path, path.relative_to(root).as_posix(), paper))
        except SubmissionInvalid as exc:
            problems.append(exc.message)
    notes = []
    for other in export.not_accepted:
        kept = imported.get(other.openreview_id)
        where = f"; {kept} kept (remove it by hand if the paper is gone)" if kept else ""
        notes.append(f"not accepted: {other.openreview_id} '{other.title}' ({other.why}){where}")
    return ImportPlan(tuple(changes), tuple(notes), tuple(problems))


def apply_plan(plan: ImportPlan) -> None:
    """Write every created or updated file atomically."""
    for change in plan.changes:
        if change.kind != "unchanged":
            atomic_write(change.path, change.new.encode("utf-8"))


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.indent(mapping=2, sequence=4, offset=2)  # the layout of the project's own files
    rt.width = 100
    rt.preserve_quotes = True
    return rt


def _change(path: Path, label: str, paper: ImportedPaper) -> FileChange:
    _check_owned(path, paper)
    rt = _yaml()
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old is None:
        data = CommentedMap()
    else:
        try:
            load_bounded(path)  # within bounds first (find_imported checked it), then round-trip
            data = rt.load(old)
        except (RuamelYAMLError, yaml.YAMLError) as exc:
            raise SubmissionInvalid(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
        if not isinstance(data, CommentedMap):
            raise SubmissionInvalid(f"{path}: (top level): must be a mapping of keys to values")
    _merge(data, paper)
    out = io.StringIO()
    rt.dump(data, out)
    new = out.getvalue() if old is not None else _HEADER + "\n" + out.getvalue()
    return FileChange(path, label, paper.openreview_id, old, new)


def _owned(paper: ImportedPaper) -> dict[str, Any]:
    links = {"openreview": paper.forum_url, **({"pdf": paper.pdf_url} if paper.pdf_url else {})}
    authors = [{"name": a.name, **({"affiliation": a.affiliation} if a.affiliation else {})}
               for a in paper.authors]
    owned: dict[str, Any] = {"title": paper.title, "authors": authors, "abstract": paper.abstract,
                             "links": links, "openreview_id": paper.openreview_id}
    if paper.session:
        owned["session"] = paper.session
    return owned


def _check_owned(path: Path, paper: ImportedPaper) -> None:
    """Imported values obey the same rules as an author's (a bad one names the note)."""
    try:
        SubmissionSpec.model_validate(_owned(paper))
    except ValidationError as exc:
        raise SubmissionInvalid(
            f"OpenReview note {paper.openreview_id} -> {describe_error(path, exc)}"
        ) from None


def _same(old: object, new: str) -> bool:
    return isinstance(old, str) and " ".join(old.split()) == " ".join(new.split())


def _put(data: CommentedMap, key: str, value: Any) -> None:
    """Set KEY, keeping its place; a new key goes after the owned key before it."""
    if key in data:
        data[key] = value
        return
    before = [k for k in _OWNED_ORDER[: _OWNED_ORDER.index(key)] if k in data]
    position = list(data).index(before[-1]) + 1 if before else len(data)
    data.insert(position, key, value)


def _merge(data: CommentedMap, paper: ImportedPaper) -> None:
    owned = _owned(paper)
    for key in ("title", "abstract", "session", "openreview_id"):
        if key in owned and not _same(data.get(key), owned[key]):
            value = owned[key]
            _put(data, key, LiteralScalarString(value) if "\n" in value else value)
    _put(data, "authors", _merge_authors(data.get("authors"), paper))
    links = data.get("links")
    if not isinstance(links, CommentedMap):
        links = CommentedMap()
        _put(data, "links", links)
    for key, url in owned["links"].items():
        if links.get(key) != url:
            links[key] = url


def _merge_authors(existing: object, paper: ImportedPaper) -> CommentedSeq:
    """Imported names in OpenReview's order; an entry with the same name keeps its other keys."""
    by_name = {}
    if isinstance(existing, list):
        by_name = {e.get("name"): e for e in existing if isinstance(e, CommentedMap)}
    authors = CommentedSeq()
    for author in paper.authors:
        entry = by_name.get(author.name)
        if entry is None:
            entry = CommentedMap(name=author.name)
            entry.fa.set_flow_style()
        if author.affiliation and entry.get("affiliation") != author.affiliation:
            entry["affiliation"] = author.affiliation
        authors.append(entry)
    if isinstance(existing, CommentedSeq) and len(existing) == len(authors) and all(
        a is b for a, b in zip(existing, authors, strict=True)
    ):
        return existing  # the same people in the same order: keep the list and its comments
    return authors

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

Every file the import writes is one the toolkit's loader reads (:mod:`codeml_repro.model.safeyaml`):
a title, name or abstract past :data:`FIELD_LIMITS` is cut with a note, and a paper whose file
would still be over the loader's bounds is reported and skipped. An existing file that cannot
be read is one problem line for that file (and the paper whose ``openreview_id`` it names), never
the end of the import: one paper never blocks the others.
"""

from __future__ import annotations

import dataclasses
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

from codeml_repro.model.editions import submission_bases
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.safeyaml import MAX_BYTES, BoundedLoader, load_bounded
from codeml_repro.model.schema import SCHEMA_FILE
from codeml_repro.model.submission import SUBMISSION_FILE, SubmissionSpec, describe_error
from codeml_repro.organizers.openreview import Export, ImportedPaper
from codeml_repro.results.store import atomic_write

MAX_SLUG_CHARS = 60
FIELD_LIMITS = {"title": 500, "name": 300, "affiliation": 300, "abstract": 20_000}
"""Characters kept of each imported text: far above any real paper's, and together well under
the loader's 256 KiB for a paper with a few hundred authors."""
_ID_LINE = re.compile(rb"^openreview_id:\s*['\"]?([A-Za-z0-9_-]{1,64})['\"]?\s*$")
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


@dataclass
class _Existing:
    """The submission files already there: by openreview_id, and what could not be read."""

    folders: dict[str, Path] = dataclasses.field(default_factory=dict)
    blocked: dict[str, str] = dataclasses.field(default_factory=dict)  # id -> why its file is unreadable
    problems: list[str] = dataclasses.field(default_factory=list)


def _id_in_text(path: Path) -> str | None:
    """The ``openreview_id`` of a file the loader refuses, from its lines (read a line at a time):
    so its paper is reported, not imported a second time into a new folder."""
    try:
        with path.open("rb") as handle:
            for line in handle:
                match = _ID_LINE.match(line[:200])
                if match:
                    return match.group(1).decode()
    except OSError:
        return None
    return None


def find_imported(root: Path) -> _Existing:
    """openreview_id -> submission folder, for every folder that has one; a file that cannot be
    read is a problem (and blocks only the paper it names)."""
    existing = _Existing()
    paths = [p for _year, base in submission_bases(root) for p in sorted(base.glob(f"*/{SUBMISSION_FILE}"))]
    for path in paths:
        try:
            raw = load_bounded(path)  # author content: no alias bombs, no huge files
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            why = f"{path}: not readable ({' '.join(str(exc).split())[:200]})"
            ident = _id_in_text(path)
            if ident is None:
                existing.problems.append(f"{why}; fix it, then import again (the other papers are imported)")
            else:
                existing.blocked[ident] = why
            continue
        ident = raw.get("openreview_id") if isinstance(raw, dict) else None
        if isinstance(ident, str):
            if ident in existing.folders:
                raise SubmissionInvalid(
                    f"{path}: openreview_id: '{ident}' is also in "
                    f"{existing.folders[ident] / SUBMISSION_FILE}; keep it in one folder"
                )
            existing.folders[ident] = path.parent
    return existing


def plan_import(root: Path, export: Export) -> ImportPlan:
    """What the import would write, file by file; nothing is written here."""
    existing = find_imported(root)
    imported = existing.folders
    base = root / "submissions"
    taken = {p.name for _year, b in submission_bases(root) if b.is_dir() for p in b.iterdir()}
    changes: list[FileChange] = []
    problems = [*export.problems, *existing.problems]
    notes: list[str] = []
    for paper in sorted(export.papers, key=lambda p: p.openreview_id):
        if paper.openreview_id in existing.blocked:
            problems.append(f"{existing.blocked[paper.openreview_id]}: OpenReview note "
                            f"{paper.openreview_id} not imported; fix or remove that file")
            continue
        paper, cut = fit_paper(paper)
        notes.extend(f"OpenReview note {paper.openreview_id}: {what}" for what in cut)
        folder = imported.get(paper.openreview_id) or base / _unique(slugify(paper.title), taken)
        path = folder / SUBMISSION_FILE
        try:
            changes.append(_change(path, path.relative_to(root).as_posix(), paper))
        except SubmissionInvalid as exc:
            problems.append(exc.message)
    for other in export.not_accepted:
        kept = imported.get(other.openreview_id)
        where = f"; {kept} kept (remove it by hand if the paper is gone)" if kept else ""
        notes.append(f"not accepted: {other.openreview_id} '{other.title}' ({other.why}){where}")
    return ImportPlan(tuple(changes), tuple(notes), tuple(problems))


def _cut(text: str, field: str, cut: list[str]) -> str:
    limit = FIELD_LIMITS[field]
    if len(text) <= limit:
        return text
    cut.append(f"{field} cut to {limit:,} characters (it has {len(text):,}) to fit submission.yml")
    return text[: limit - 1].rstrip() + "\u2026"


def fit_paper(paper: ImportedPaper) -> tuple[ImportedPaper, list[str]]:
    """``paper`` with each text cut to :data:`FIELD_LIMITS`, and a note per cut."""
    cut: list[str] = []
    authors = tuple(
        dataclasses.replace(
            a, name=_cut(a.name, "name", cut),
            affiliation=_cut(a.affiliation, "affiliation", cut) if a.affiliation else a.affiliation,
        )
        for a in paper.authors
    )
    fitted = dataclasses.replace(paper, title=_cut(paper.title, "title", cut), authors=authors,
                                 abstract=_cut(paper.abstract, "abstract", cut))
    return fitted, cut


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
    _check_loadable(path, paper, new)
    return FileChange(path, label, paper.openreview_id, old, new)


def _check_loadable(path: Path, paper: ImportedPaper, text: str) -> None:
    """The file as written must be one the toolkit's loader reads, or the paper is skipped:
    a file it refuses would stop every later import and leave the folder out of the book."""
    size = len(text.encode("utf-8"))
    try:
        if size > MAX_BYTES:
            raise yaml.YAMLError(f"{size:,} bytes, over the loader's {MAX_BYTES // 1024} KiB")
        yaml.load(text, Loader=BoundedLoader)  # a SafeLoader: no objects built
    except yaml.YAMLError as exc:
        raise SubmissionInvalid(
            f"OpenReview note {paper.openreview_id} -> {path}: not written: it would not load "
            f"({' '.join(str(exc).split())[:200]}); the other papers are imported"
        ) from None


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

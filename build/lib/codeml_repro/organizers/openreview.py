"""Read an OpenReview export of accepted papers into plain, validated records.

OpenReview's notes come in two shapes: API v2 (what ``openreview-py``'s
``get_all_notes`` returns today) wraps every content field as
``{"value": ...}``; API v1 stores plain values. Both are read here, from a
file (what tests and offline organizers use) or, with the optional
``[openreview]`` extra, straight from the venue. Nothing here writes files:
``organizers.importer`` turns the records into ``submission.yml`` folders.

The export is untrusted data like any author content: every field is checked
for type, ids must be plain, links are built from the id rather than taken
from the note, and each problem is one line naming the file and the note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import InputError, ReproError
from codeml_repro.model.notebookfile import parse_bounded

OPENREVIEW_SITE = "https://openreview.net"
OPENREVIEW_API = "https://api2.openreview.net"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_EXPORT_BYTES = 64 * 1024**2
"""Largest export read: a venue's notes are a few MB; nothing past this is read into memory."""
MAX_EXPORT_DEPTH = 32
"""Deepest JSON nesting: a note is about 6 levels deep (list, note, content, field, value, author)."""
_NOT_ACCEPTED = re.compile(r"withdrawn|rejected|submitted to", re.IGNORECASE)
_SESSION_RE = re.compile(r"\b(oral|spotlight|poster)(?:\s+session)?(?:\s+(\d+))?", re.IGNORECASE)
_POSTER_NUMBER_RE = re.compile(r"(?:#|\bposter\s+(?:number|no\.?)\s*)\s*(\d+)", re.IGNORECASE)


class ExportInvalid(InputError):
    """An OpenReview export (or one of its notes) cannot be read."""


@dataclass(frozen=True)
class ImportedAuthor:
    name: str
    affiliation: str | None = None


@dataclass(frozen=True)
class ImportedPaper:
    """What the import owns in a submission.yml: everything else is the authors'."""

    openreview_id: str
    title: str
    authors: tuple[ImportedAuthor, ...]
    abstract: str
    forum_url: str
    pdf_url: str | None
    session: str | None


@dataclass(frozen=True)
class NotAccepted:
    """A withdrawn or rejected paper in the export: reported, never deleted."""

    openreview_id: str
    title: str
    why: str


@dataclass(frozen=True)
class Export:
    papers: tuple[ImportedPaper, ...]
    not_accepted: tuple[NotAccepted, ...]
    problems: tuple[str, ...]


def read_export(path: Path) -> Export:
    """Parse a saved export within bounds (size, then nesting: the parse and every walk after it
    stay shallow); a bad file raises one line, a bad note becomes one problem line."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_EXPORT_BYTES + 1)
    except FileNotFoundError:
        raise ExportInvalid(f"{path}: file not found") from None
    except OSError as exc:
        raise ExportInvalid(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_EXPORT_BYTES:
        raise ExportInvalid(f"{path}: larger than {MAX_EXPORT_BYTES // 1024**2} MiB; not an export of notes")
    try:
        raw = parse_bounded(data.decode("utf-8"), MAX_EXPORT_DEPTH)
    except UnicodeDecodeError as exc:
        raise ExportInvalid(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise ExportInvalid(f"{path}: {exc}; save the notes with json.dump") from None
    return parse_notes(raw, str(path))


def parse_notes(raw: object, source: str) -> Export:
    """Sort the notes of an export into accepted papers, the others, and problems."""
    notes = raw.get("notes") if isinstance(raw, dict) else raw
    if not isinstance(notes, list):
        raise ExportInvalid(
            f"{source}: (top level): expected a JSON list of notes or {{\"notes\": [...]}}, "
            f"got {type(raw).__name__}"
        )
    papers: list[ImportedPaper] = []
    others: list[NotAccepted] = []
    problems: list[str] = []
    for index, note in enumerate(notes):
        try:
            paper = _read_note(note)
        except ValueError as exc:
            problems.append(f"{source}: {_note_label(note, index)}: {exc}")
            continue
        if isinstance(paper, NotAccepted):
            others.append(paper)
        else:
            papers.append(paper)
    return Export(tuple(papers), tuple(others), tuple(problems))


def _note_label(note: object, index: int) -> str:
    note_id = note.get("id") if isinstance(note, dict) else None
    return f"note {index} (id {note_id})" if isinstance(note_id, str) else f"note {index}"


def _value(content: dict[str, Any], key: str) -> Any:
    """A content field in either shape: v2 ``{"value": x}`` or v1 plain ``x``."""
    field = content.get(key)
    if isinstance(field, dict) and set(field) >= {"value"}:
        return field["value"]
    return field


def _text(content: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = _value(content, key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"content.{key}: missing")
        return None
    if not isinstance(value, str):
        raise ValueError(f"content.{key}: must be text, got {type(value).__name__}")
    return " ".join(value.split()) if key != "abstract" else value.strip()


def _read_note(note: object) -> ImportedPaper | NotAccepted:
    if not isinstance(note, dict):
        raise ValueError(f"must be a JSON object, got {type(note).__name__}")
    note_id = note.get("id")
    if not isinstance(note_id, str) or not ID_RE.match(note_id):
        raise ValueError("id: missing or not an OpenReview id (letters, digits, '_' and '-')")
    content = note.get("content")
    if not isinstance(content, dict):
        raise ValueError("content: missing or not an object")
    title = _text(content, "title", required=True)
    assert title is not None
    why = _rejection(note, content)
    if why:
        return NotAccepted(note_id, title, why)
    forum = note.get("forum", note_id)
    if not isinstance(forum, str) or not ID_RE.match(forum):
        raise ValueError("forum: not an OpenReview id")
    return ImportedPaper(
        openreview_id=note_id,
        title=title,
        authors=_authors(content),
        abstract=_text(content, "abstract") or "",
        forum_url=f"{OPENREVIEW_SITE}/forum?id={forum}",
        pdf_url=f"{OPENREVIEW_SITE}/pdf?id={note_id}" if _value(content, "pdf") else None,
        session=_session(content),
    )


def _rejection(note: dict[str, Any], content: dict[str, Any]) -> str | None:
    """Why the note is not an accepted paper (its venue, venueid or invitation say so), or None."""
    invitations = note.get("invitations") or [note.get("invitation")]
    fields = [("venueid", _value(content, "venueid")), ("venue", _value(content, "venue"))]
    for key, value in [*fields, *(("invitation", i) for i in invitations)]:
        if isinstance(value, str) and _NOT_ACCEPTED.search(value.replace("_", " ")):
            return f"{key} is '{value}'"
    return None


def _authors(content: dict[str, Any]) -> tuple[ImportedAuthor, ...]:
    """Names in order; affiliations from author objects or a parallel ``affiliations`` list."""
    names = _value(content, "authors")
    if not isinstance(names, list) or not names:
        raise ValueError("content.authors: missing or not a list of names")
    affiliations = _value(content, "affiliations")
    if not isinstance(affiliations, list) or len(affiliations) != len(names):
        affiliations = [None] * len(names)
    authors = []
    for n, (raw, listed) in enumerate(zip(names, affiliations, strict=True)):
        entry, affiliation = raw, listed
        if isinstance(raw, dict):  # some exports carry {name, affiliation} objects
            entry, affiliation = raw.get("name"), raw.get("affiliation", listed)
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(f"content.authors[{n}]: must be a name")
        if affiliation is not None and not isinstance(affiliation, str):
            raise ValueError(f"content.affiliations[{n}]: must be text")
        clean = " ".join(affiliation.split()) if affiliation else None
        authors.append(ImportedAuthor(" ".join(entry.split()), clean or None))
    return tuple(authors)


def _session(content: dict[str, Any]) -> str | None:
    """'Oral', 'Poster session 2', 'Poster session, #14' from the venue field, when it says so."""
    venue = _value(content, "venue")
    if not isinstance(venue, str):
        return None
    kind = _SESSION_RE.search(venue)
    number = _POSTER_NUMBER_RE.search(venue)
    if not kind and not number:
        return None
    if kind and kind.group(1).lower() != "poster":
        session = kind.group(1).capitalize()
    else:
        session = "Poster session" + (f" {kind.group(2)}" if kind and kind.group(2) else "")
    return f"{session}, #{number.group(1)}" if number else session


def fetch_venue(venue: str) -> Export:
    """Accepted papers of VENUE (e.g. ``ICML.cc/2025/Workshop/CODEML``) via openreview-py.

    The API is ``https://api2.openreview.net`` unless ``OPENREVIEW_API_BASEURL_V2`` (the
    client's own variable) names another; no login: accepted papers are public.
    """
    try:
        import openreview
    except ImportError:
        raise ReproError(
            "--venue needs openreview-py: pip install 'codeml_repro[openreview]' "
            "(or save the notes to a file and pass FILE)"
        ) from None
    import os

    baseurl = os.environ.get("OPENREVIEW_API_BASEURL_V2") or OPENREVIEW_API
    try:
        client = openreview.api.OpenReviewClient(baseurl=baseurl)
        notes = client.get_all_notes(content={"venueid": venue})
        raw = [note.to_json() for note in notes]
    except Exception as exc:  # network, HTTP or API errors: whatever the client raises
        problem = " ".join(str(exc).split())[:200]
        raise ReproError(f"{venue}: could not fetch the notes from {baseurl}: {problem}") from None
    return parse_notes(raw, f"OpenReview venue {venue}")

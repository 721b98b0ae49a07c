"""An author's ``requirements.txt`` is data: requirement lines only, never options.

pip and uv read option lines in a requirements file as if given on the
command line: ``--index-url`` or ``--extra-index-url`` pick where packages come
from, ``-r``/``-c`` pull in other files from the host, ``-e`` and
``--trusted-host`` change what is trusted. The index is the toolkit's setting
(the maintainer's), never the author's. So a line must be a requirement (a
name with extras, versions, markers, and ``--hash`` options), or a path to a
local wheel or folder inside the submission. Anything else makes the
submission invalid, with one line naming the file and the line. Nothing of the
host reaches the message: only the author's own text, shortened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.text import shorten

_HASH = re.compile(r"\s--hash[=\s]\s*\S+")
_LOCAL_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^[a-z]+\+")


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, content) of each logical line: continuations joined, comments gone."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


def _local_path(spec: str, folder: Path) -> Path | None:
    """The file a local requirement names, if ``spec`` is one; refused when outside ``folder``."""
    target = spec.split(" @ ", 1)[1].strip() if " @ " in spec else spec
    target = target.removeprefix("file:").lstrip()
    looks_local = target.startswith((".", "/")) or target.endswith(_LOCAL_SUFFIXES) or "/" in target
    if not looks_local or _URL.match(target):
        return None
    pure = PurePosixPath(target)
    if pure.is_absolute() or ".." in pure.parts:
        raise ValueError("a local path must be relative and inside the submission folder")
    return folder / pure


def _problem(spec: str, folder: Path) -> str | None:
    """Why one logical line is not allowed, or None."""
    from packaging.requirements import InvalidRequirement, Requirement

    bare = _HASH.sub("", " " + spec).strip()
    if bare.startswith("-"):
        option = bare.split()[0].split("=", 1)[0]
        return f"option {option!r} is not allowed: the package index is the toolkit's, list requirements only"
    if re.search(r"\s-", bare):
        return "per-requirement options other than --hash are not allowed"
    try:
        local = _local_path(bare, folder)
    except ValueError as exc:
        return str(exc)
    if local is not None:
        return None if local.exists() else "the local file it names is not in the submission folder"
    try:
        requirement = Requirement(bare)
    except InvalidRequirement:
        return "not a requirement (name, extras, version, marker)"
    if requirement.url:
        return "a URL requirement is not allowed: name the package, or ship the wheel in the folder"
    return None


def check_requirements(path: Path) -> None:
    """Raise :class:`SubmissionInvalid` at the first line that is not a plain requirement."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise SubmissionInvalid(f"{_label(path)}: cannot be read as UTF-8 text") from None
    for number, spec in logical_lines(text):
        problem = _problem(spec, path.parent)
        if problem is not None:
            shown = log_line(shorten(spec, 80))
            raise SubmissionInvalid(f"{_label(path)}:{number}: {shown!r}: {problem}")


def local_files_digest(path: Path) -> str:
    """sha256 over the bytes of every local file (or folder) the requirements name ('' if none).

    Part of the environment's cache key: a rebuilt local wheel builds a new environment.
    """
    digest = hashlib.sha256()
    found = False
    for _number, spec in logical_lines(path.read_text(encoding="utf-8", errors="replace")):
        try:
            local = _local_path(_HASH.sub("", " " + spec).strip(), path.parent)
        except ValueError:
            continue
        if local is None or not local.exists():
            continue
        found = True
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        for file in files:
            digest.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest() if found else ""


def _label(path: Path) -> str:
    """``<slug>/requirements.txt``: no host path in a message."""
    return f"{path.parent.name}/{path.name}"

"""An author's notebook file read within bounds: size first, then JSON, then nesting.

``nbformat`` (its validation, its conversions) and every walker of a notebook recurse once
per nesting level, so 100,000 brackets in ``cells`` or ``metadata`` ended in a
``RecursionError`` wherever the notebook was read (the checks, the skip key, the book),
and a huge file was read whole before anything looked at it. Every reader of a
submission's notebook goes through :func:`load_notebook_json` or :func:`read_notebook`:
a file over :data:`MAX_BYTES` is refused before it is read in full; ``json.loads`` raises
``RecursionError`` safely (in C) past about 1,000 levels, and a document that parses is
refused past :data:`MAX_DEPTH` levels (counted without recursion) before anything else
walks it. Each refusal is :class:`SubmissionInvalid` with one line naming the file.
:func:`check_nbformat` then checks the shape nbformat itself assumes (cells are objects in a
list) before its validator, which edits cells in place, sees them.
(Scanning the text's brackets first, strings aside, was measured 5x slower than the parse
on an 11 MB notebook with images.)
A notebook of nbformat 3 (or older) is upgraded to version 4 as papermill reads it
(``nbformat.reads(..., as_version=4)``) and runs with a note (:func:`format_note`). A 4.5
notebook without cell ids gets them before nbformat sees it, which would warn on each read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.text import nesting_depth

MAX_BYTES = 32 * 1024**2
"""Largest notebook read: code and its saved outputs; data belongs in ``artifact.data``."""
MAX_DEPTH = 64
"""Deepest JSON nesting: a notebook's own structure is about 8 levels deep."""
_NBFORMAT_CRASHES = (TypeError, AttributeError, KeyError, IndexError)
"""What nbformat raises of its own on shapes its validator never sees (it normalizes first)."""


def notebook_text(path: Path) -> str:
    """The text of the notebook at ``path``, refused past :data:`MAX_BYTES` or when not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SubmissionInvalid(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise SubmissionInvalid(
            f"{path}: larger than {MAX_BYTES // 1024**2} MiB; clear large outputs and move data "
            "to artifact.data"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionInvalid(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def parse_bounded(text: str, limit: int = MAX_DEPTH) -> Any:
    """JSON ``text`` parsed, or ``ValueError`` (one line) when it is not JSON or nests past ``limit``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested more than {limit} levels deep") from None
    except ValueError as exc:
        raise ValueError(f"not JSON ({next(iter(str(exc).splitlines()), '')})") from None
    if nesting_depth(value, limit) > limit:
        raise ValueError(f"nested more than {limit} levels deep")
    return value


def _load(path: Path) -> tuple[str, Any]:
    text = notebook_text(path)
    try:
        return text, parse_bounded(text)
    except ValueError as exc:
        raise SubmissionInvalid(f"{path}: {exc}; save it again from Jupyter") from None


def load_notebook_json(path: Path) -> Any:
    """The notebook's JSON document (any JSON value), within bounds; never a traceback."""
    return _load(path)[1]


def notebook_cells(path: Path) -> list[Any]:
    """The notebook's ``cells`` list as JSON values (empty when it has none); raises like
    :func:`load_notebook_json`."""
    nb = load_notebook_json(path)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return cells if isinstance(cells, list) else []


def _major(raw: Any) -> Any:
    return raw.get("nbformat") if isinstance(raw, dict) else None


def _older(raw: Any) -> bool:
    """nbformat 1 to 3: upgraded to 4 as papermill reads them."""
    major = _major(raw)
    return isinstance(major, int) and not isinstance(major, bool) and 1 <= major < 4


def _upgraded(path: Path, text: str) -> Any:
    """An nbformat 1-3 notebook as version 4, the way papermill reads it, or one line saying why not."""
    import nbformat
    from nbformat.validator import ValidationError as NbValidationError

    try:
        return nbformat.reads(text, as_version=4)
    except (ValueError, NbValidationError, *_NBFORMAT_CRASHES) as exc:
        message = next(iter(str(exc).splitlines()), "") or type(exc).__name__
        raise SubmissionInvalid(
            f"{path}: nbformat: an older notebook nbformat cannot upgrade to version 4 "
            f"({message[:160]}); open it in Jupyter and save it again"
        ) from None


def format_note(raw: Any) -> str | None:
    """The note a run of an upgraded notebook carries (None for a version 4 notebook)."""
    if isinstance(raw, dict) and isinstance(raw.get("metadata"), dict):
        original = raw["metadata"].get("orig_nbformat")
        if _major(raw) == 4 and isinstance(original, int) and original < 4:
            raw = {"nbformat": original, "nbformat_minor": raw["metadata"].get("orig_nbformat_minor")}
    if not _older(raw):
        return None
    minor = raw.get("nbformat_minor")
    version = f"{raw['nbformat']}.{minor}" if isinstance(minor, int) else str(raw["nbformat"])
    return (
        f"the notebook is nbformat {version}: it ran upgraded to nbformat 4, as papermill and Jupyter "
        "read it; open and save it in Jupyter to keep it so"
    )


def read_notebook(path: Path) -> Any:
    """The notebook as an ``nbformat`` v4 node, within bounds (``nbformat.read``'s stand-in)."""
    import nbformat
    from nbformat.validator import ValidationError as NbValidationError

    text, raw = _load(path)  # bounded first: nbformat parses it again, known to be shallow
    if _older(raw):
        return _upgraded(path, text)
    _check_shape(path, raw)  # nbformat.reads normalizes cells in place before it validates
    if _give_cell_ids(raw):
        text = json.dumps(raw)
    try:
        return nbformat.reads(text, as_version=4)
    except (ValueError, NbValidationError, *_NBFORMAT_CRASHES) as exc:  # NotJSONError, versions
        message = next(iter(str(exc).splitlines()), "") or type(exc).__name__
        raise SubmissionInvalid(f"{path}: not a notebook ({message[:200]})") from None


def _check_shape(path: Path, raw: Any) -> None:
    """The containers nbformat's validator walks before it validates: it normalizes cells in place
    (``cell["id"] = ...``), so a cell that is ``1``, ``null`` or ``"x"``, or ``cells`` that is an
    object, ended in a ``TypeError`` and took the whole batch with it."""
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        raise SubmissionInvalid(f"{path}: nbformat: must be a version 4 notebook")
    for key in ("cells", "metadata"):
        want = list if key == "cells" else dict
        if key in raw and not isinstance(raw[key], want):
            kind = "a list of cells" if want is list else "an object"
            raise SubmissionInvalid(f"{path}: {key}: must be {kind}, not {_json_type(raw[key])}")
    for index, cell in enumerate(raw.get("cells", [])):
        if not isinstance(cell, dict):
            raise SubmissionInvalid(f"{path}: cells/{index}: must be an object, not {_json_type(cell)}")


def _give_cell_ids(raw: Any) -> bool:
    """Give each cell of an nbformat 4.5+ notebook that has no ``id`` a fresh one, in place; True if
    any cell got one. (Cells are objects: :func:`_check_shape` has looked.)

    Notebooks written by hand or by older tools often lack them. nbformat gives the same ids while it
    validates, but warns each time (``MissingIDFieldWarning``, a paragraph headed by the path of
    the toolkit's own install) on every command that reads the notebook, and says it will refuse
    such notebooks one day. Given here, the ids are made before nbformat looks."""
    from nbformat.corpus.words import generate_corpus_id

    minor = raw.get("nbformat_minor")
    if _major(raw) != 4 or not isinstance(minor, int) or minor < 5:
        return False
    missing = [cell for cell in raw.get("cells", []) if "id" not in cell]
    for cell in missing:
        cell["id"] = generate_corpus_id()
    return bool(missing)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _valid_once_upgraded(raw: Any) -> bool:
    """A 4.0-4.4 notebook that is valid as nbformat 4.5 (``nbformat.v4.upgrade``), e.g. one with
    cell ids written under an older minor version: papermill and Jupyter run it."""
    import copy

    import nbformat
    from nbformat.validator import ValidationError as NbValidationError

    minor = raw.get("nbformat_minor")
    if not isinstance(minor, int) or isinstance(minor, bool) or not 0 <= minor < 5:
        return False
    try:
        nb = nbformat.v4.upgrade(nbformat.from_dict(copy.deepcopy(raw)), 4, minor)
        nbformat.validate(nb)
    except (NbValidationError, ValueError, *_NBFORMAT_CRASHES):
        return False
    return True


def check_nbformat(path: Path, raw: Any) -> Any:
    """``raw`` (the bounded JSON of ``path``) is an nbformat v4 notebook, or one line saying where not;
    returned as version 4 (an nbformat 1-3 notebook upgraded as papermill reads it).

    Any shape the validator still cannot take (it raises its own ``TypeError`` or ``KeyError``
    on some malformed cells) is refused the same way: this folder is invalid, the batch goes on."""
    import nbformat
    from nbformat.validator import ValidationError as NbValidationError

    if _older(raw):
        raw = json.loads(nbformat.writes(_upgraded(path, notebook_text(path))))
    _check_shape(path, raw)
    checked = nbformat.from_dict(raw)  # a copy: ``raw`` keeps no ids made up for the check
    _give_cell_ids(checked)
    try:
        nbformat.validate(checked)
    except NbValidationError as exc:
        if _valid_once_upgraded(raw):
            return raw  # e.g. 4.4 with 4.5's cell ids: papermill runs it, nbformat only warns
        steps = list(getattr(exc, "absolute_path", None) or getattr(exc, "path", None) or [])
        where = "/".join(str(p) for p in steps) or "(notebook)"
        message = next(iter(str(exc.message).splitlines()), "")[:200]
        raise SubmissionInvalid(f"{path}: {where}: not a valid notebook: {message}") from None
    except (*_NBFORMAT_CRASHES, ValueError) as exc:
        raise SubmissionInvalid(
            f"{path}: not a valid notebook (nbformat cannot read it: {type(exc).__name__}); "
            "save it again from Jupyter"
        ) from None
    return raw

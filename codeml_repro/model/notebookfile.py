"""An author's notebook file read within bounds: size first, then nesting, then JSON.

``json.loads`` and ``nbformat`` recurse once per nesting level, so 100,000
brackets in ``cells`` or ``metadata`` end in a ``RecursionError`` wherever the
notebook is read (the checks, the skip key, the book), and a huge file is read
whole before anything looks at it. Every reader of a submission's notebook goes
through :func:`notebook_text`: a file over :data:`MAX_BYTES` is refused before
it is read in full, a document nested deeper than :data:`MAX_DEPTH` before a
parser sees it, each with :class:`SubmissionInvalid` and one line naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.text import bracket_depth

MAX_BYTES = 32 * 1024**2
"""Largest notebook read: code and its saved outputs; data belongs in ``artifact.data``."""
MAX_DEPTH = 64
"""Deepest JSON nesting, strings aside: a notebook's own structure is about 8 levels deep."""

# A JSON string, escapes included (unrolled so the C engine runs it without backtracking).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests deeper than ``limit``, brackets inside strings aside.

    Strings are removed first (in C, fast), so the count walks only the document's
    structure and a cell that prints ``[[[`` is not held against it.
    """
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return False
    return bracket_depth(_JSON_STRING.sub("", text)) > limit


def notebook_text(path: Path) -> str:
    """The text of the notebook at ``path``, refused past a bound or when it is not UTF-8."""
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
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionInvalid(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if too_deep(text):
        raise SubmissionInvalid(
            f"{path}: nested more than {MAX_DEPTH} levels deep; save it again from Jupyter"
        )
    return text


def load_notebook_json(path: Path) -> Any:
    """The notebook's JSON document (any JSON value), within bounds; never a traceback."""
    text = notebook_text(path)
    try:
        return json.loads(text)
    except ValueError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SubmissionInvalid(f"{path}: not JSON ({message}); save it again from Jupyter") from None
    except RecursionError:  # the depth bound comes first; never a traceback regardless
        raise SubmissionInvalid(f"{path}: nested more than {MAX_DEPTH} levels deep") from None


def notebook_cells(path: Path) -> list[Any]:
    """The notebook's ``cells`` list as JSON values (empty when it has none); raises like
    :func:`load_notebook_json`."""
    nb = load_notebook_json(path)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return cells if isinstance(cells, list) else []


def read_notebook(path: Path) -> Any:
    """The notebook as an ``nbformat`` v4 node, within bounds (``nbformat.read``'s stand-in)."""
    import nbformat

    text = notebook_text(path)
    try:
        return nbformat.reads(text, as_version=4)
    except RecursionError:
        raise SubmissionInvalid(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # json's, nbformat's NotJSONError and its version errors
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SubmissionInvalid(f"{path}: not a notebook ({message[:200]})") from None

"""Safe HTML from an executed notebook's JSON.

Notebook cells and outputs are written by authors, so nothing in them is ever
trusted: sources and text outputs are escaped, tracebacks lose their ANSI
codes, and of the rich outputs only PNG and JPEG images are kept (as ``data:``
URIs of validated base64). HTML, JavaScript, SVG, widgets and every other MIME
type are dropped with a visible note. The notebook is read as JSON and never
executed, whatever its metadata says.
"""

from __future__ import annotations

import re
from typing import Any

from codeml_repro.model.notebookfile import parse_bounded
from codeml_repro.model.text import cell_source
from codeml_repro.sphinx.html import Markup, tag, void

MAX_TEXT_CHARS = 20_000
MAX_IMAGE_CHARS = 4_000_000
SAFE_IMAGES = ("image/png", "image/jpeg")

_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def clean_text(text: str) -> str:
    """Strip ANSI escape sequences and control characters (keeps tab and newline)."""
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", text))


def _truncate(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n… [{len(text) - MAX_TEXT_CHARS} more characters not shown]"


def _pre(text: str, cls: str) -> Markup:
    return tag("pre", {"class": cls}, _truncate(clean_text(text)))


def _note(text: str) -> Markup:
    return tag("p", {"class": "codeml-nb-dropped"}, text)


def _image(mime: str, value: Any) -> Markup | None:
    data = "".join(cell_source(value).split())
    if not data or len(data) > MAX_IMAGE_CHARS or not _BASE64_RE.match(data):
        return None
    return void(
        "img",
        {
            "src": f"data:{mime};base64,{data}",
            "alt": "notebook output image",
            "class": "codeml-nb-image",
            "loading": "lazy",
        },
    )


def _rich(output: dict[str, Any]) -> Markup:
    data = output.get("data")
    if not isinstance(data, dict):
        return _note("[output without data]")
    for mime in SAFE_IMAGES:
        if mime in data:
            image = _image(mime, data[mime])
            if image is not None:
                return image
    if "text/plain" in data:
        return _pre(cell_source(data["text/plain"]), "codeml-nb-text")
    scrap = output.get("metadata", {}).get("scrapbook") if isinstance(output.get("metadata"), dict) else None
    if isinstance(scrap, dict) and "name" in scrap:
        return _note(f"[recorded value: {scrap['name']}]")
    dropped = ", ".join(sorted(str(k) for k in data))
    return _note(f"[output not shown: {dropped}]")


def render_output(output: Any) -> Markup:
    """One output of a code cell, safe types only."""
    if not isinstance(output, dict):
        return _note("[unreadable output]")
    kind = output.get("output_type")
    if kind == "stream":
        cls = "codeml-nb-stderr" if output.get("name") == "stderr" else "codeml-nb-stream"
        return _pre(cell_source(output.get("text")), cls)
    if kind == "error":
        trace = output.get("traceback")
        text = "\n".join(cell_source(t) for t in trace) if isinstance(trace, list) else ""
        if not text:
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return _pre(text, "codeml-nb-error")
    if kind in ("execute_result", "display_data"):
        return _rich(output)
    return _note("[output not shown]")


def _highlight(code: str) -> Markup:
    """Python source as Pygments spans (Pygments escapes the text)."""
    try:
        from pygments import highlight  # type: ignore[import-untyped]
        from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
        from pygments.lexers import PythonLexer  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - Sphinx depends on Pygments
        return tag("pre", None, code)
    body = highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))
    return Markup(f'<div class="highlight"><pre>{body}</pre></div>')


def _injected(cell: Any) -> bool:
    """A cell papermill injected (not the author's: not counted in cell numbers)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return isinstance(tags, list) and "injected-parameters" in tags


def _noted_index(cell: Any) -> int | None:
    """The index in the author's notebook the runner noted on a cell (``codeml.author_index``)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    noted = meta.get("codeml") if isinstance(meta, dict) else None
    value = noted.get("author_index") if isinstance(noted, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def author_indices(cells: list[Any]) -> list[int | None]:
    """Each cell's 0-based index in the author's notebook, as ``error.cell`` counts it.

    The runner notes it on every cell of the notebooks it saves; a cell without it there was
    injected by papermill. A notebook without any (saved by an older runner) is counted here,
    skipping the cells tagged ``injected-parameters``.
    """
    noted = [_noted_index(cell) for cell in cells]
    if any(index is not None for index in noted):
        seen: set[int] = set()
        for pos, index in enumerate(noted):
            if index is not None and index in seen:
                noted[pos] = None  # one anchor per number, whatever the file says
            elif index is not None:
                seen.add(index)
        return noted
    out: list[int | None] = []
    number = 0
    for cell in cells:
        out.append(None if _injected(cell) else number)
        number += 0 if _injected(cell) else 1
    return out


def _cell_id(index: int | None) -> str | None:
    return None if index is None else f"nb-cell-{index}"


def _code_cell(cell: dict[str, Any], index: int | None) -> Markup:
    injected = index is None or _injected(cell)
    count = cell.get("execution_count")
    label = "injected parameters" if injected else f"In [{count if isinstance(count, int) else ' '}]"
    outputs = cell.get("outputs")
    rendered = [render_output(o) for o in outputs] if isinstance(outputs, list) else []
    return tag(
        "div",
        {"class": "codeml-nb-cell codeml-nb-code", "id": _cell_id(index)},
        tag("div", {"class": "codeml-nb-prompt"}, label),
        _highlight(_truncate(cell_source(cell.get("source")))),
        tag("div", {"class": "codeml-nb-outputs"}, rendered) if rendered else None,
    )


def render_cell(cell: Any, index: int | None) -> Markup:
    """Code cells highlighted with their outputs; Markdown and raw cells as plain text.

    ``index`` is the cell's 0-based number in the author's notebook (what
    ``error.cell`` refers to), None for a cell papermill injected.
    """
    if not isinstance(cell, dict):
        return _note("[unreadable cell]")
    if cell.get("cell_type") == "code":
        return _code_cell(cell, index)
    # Markdown is shown as text on purpose: it is author data, not book source.
    return tag(
        "div",
        {"class": "codeml-nb-cell codeml-nb-markdown", "id": _cell_id(index)},
        _pre(cell_source(cell.get("source")), "codeml-nb-md"),
    )


def render_notebook(text: str) -> Markup:
    """The whole notebook from its JSON text; a broken file gives a note, not an error."""
    try:
        nb = parse_bounded(text)  # never a RecursionError, never a value nested past 64 levels
    except ValueError as exc:
        deep = str(exc).startswith("nested")
        return _note("[the executed notebook is nested too deeply to show]" if deep
                     else "[the executed notebook is not valid JSON]")
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return _note("[the executed notebook has no cells]")
    rendered = [render_cell(cell, index) for cell, index in zip(cells, author_indices(cells), strict=True)]
    return tag("div", {"class": "codeml-notebook"}, rendered)

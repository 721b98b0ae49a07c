"""Author text and notebook outputs are data: escaped, never live, never executed.

Uses the session build of ``test_listing``: a submission whose title, author,
session, abstract, claim and error hold script tags, an ``onerror`` image and
MyST directives, and whose executed notebook has HTML, JavaScript, SVG and
widget outputs, forced-execution metadata and a cell that would write a marker.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tests.test_listing import read

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;"
PAGES = ("book/posters.html", "book/posters/xss.html", "book/dashboard.html")


class _Live(HTMLParser):
    """Everything a browser would act on: script bodies and sources, event handlers, elements."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.handlers: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        self.handlers += [f"{k}={v}" for k, v in attrs if k.startswith("on")]
        if tag == "script":
            self._in_script = True
            self.scripts.append(found.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def live(text: str) -> _Live:
    parser = _Live()
    parser.feed(text)
    return parser


def test_no_author_script_or_handler_is_live(book: dict[str, Path]) -> None:
    for rel in PAGES:
        found = live(read(book["html"], rel))
        assert not [s for s in found.scripts if "alert" in s], rel
        assert not [h for h in found.handlers if "alert" in h], rel
        assert not [a for t, a in found.tags if t == "img" and a.get("src") == "x"], rel
        assert not [a for t, a in found.tags if a.get("id") == "live-html"], rel
        assert "svg-out" not in read(book["html"], rel)


def test_author_text_shows_escaped(book: dict[str, Path]) -> None:
    listing = read(book["html"], "book/posters.html")
    card = listing.split('id="poster-xss"', 1)[1].split('id="poster-', 1)[0]
    assert card.count(ESCAPED) >= 3  # title, author, session
    page = read(book["html"], "book/posters/xss.html")
    assert page.count(ESCAPED) >= 5  # title, author, session, abstract, claim, error, environment
    assert "<title>Attack &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert ESCAPED in read(book["html"], "book/dashboard.html")


def test_myst_syntax_stays_text(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/xss.html")
    assert "```{raw} html" in page and "```{eval-rst}" in page
    assert "<b>rst</b>" not in page and "alert('raw')</script>" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_notebook_keeps_only_safe_outputs(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/xss.html")
    notebook = page.split('id="notebook"', 1)[1]
    for dropped in ("html-out", "js-out", "svg-out", "<svg", "widget-view+json</", "<b id="):
        assert dropped not in notebook, dropped
    assert "[output not shown: application/javascript" in notebook
    assert "&lt;script&gt;alert(&#x27;stream&#x27;)&lt;/script&gt;" in notebook or (
        "&lt;script&gt;alert('stream')&lt;/script&gt;" in notebook
    )
    assert "ValueError: &lt;script&gt;alert('tb')&lt;/script&gt;" in notebook  # ANSI codes stripped
    assert "\x1b" not in notebook and "[0;31m" not in notebook
    assert 'src="data:image/png;base64,' in notebook
    assert "&lt;script&gt;alert('md')&lt;/script&gt;" in notebook  # markdown cell shown as text


def test_build_executes_no_notebook(book: dict[str, Path]) -> None:
    assert not book["marker"].exists(), "a notebook cell ran during the book build"
    assert not (book["html"] / "book" / "posters" / "xss.ipynb").exists()
    sources = book["html"] / "_sources"
    assert not list(sources.rglob("*.ipynb")), "a notebook was read as a book source"
    assert not (book["root"] / "_build" / ".jupyter_cache").exists()


def test_nbrender_drops_unsafe_mime_types_and_bad_images() -> None:
    from codeml_repro.sphinx.posters.nbrender import render_output

    html_only = {"output_type": "display_data", "data": {"text/html": "<script>x()</script>"}}
    assert "<script" not in render_output(html_only) and "output not shown: text/html" in render_output(
        html_only
    )
    svg = {
        "output_type": "display_data",
        "data": {"image/svg+xml": "<svg onload=x()>", "text/plain": "<svg>"},
    }
    assert render_output(svg) == '<pre class="codeml-nb-text">&lt;svg&gt;</pre>'
    bad_png = {
        "output_type": "display_data",
        "data": {"image/png": '"><script>x()</script>', "text/plain": "p"},
    }
    assert "<img" not in render_output(bad_png)
    assert render_output("not a dict") == '<p class="codeml-nb-dropped">[unreadable output]</p>'


def test_nbrender_strips_ansi_and_escapes_tracebacks() -> None:
    from codeml_repro.sphinx.posters.nbrender import clean_text, render_notebook

    assert clean_text("\x1b[0;31mError\x1b[0m\x07: \x1b]8;;http://x\x1b\\link") == "Error: link"
    out = render_notebook(
        '{"cells": [{"cell_type": "code", "source": "1", "outputs": [{"output_type": '
        '"error", "ename": "E", "evalue": "v", "traceback": ["\\u001b[31m<b>E</b>"]}]}]}'
    )
    assert "&lt;b&gt;E&lt;/b&gt;" in out and "\x1b" not in out
    assert "not valid JSON" in render_notebook("{")


def test_register_csv_guards_every_cell_list_items_included() -> None:
    """An author named like a formula was written raw: list cells skipped the guard."""
    import csv
    import io

    from codeml_repro.model.result import Result, Status
    from codeml_repro.model.submission import SubmissionSpec
    from codeml_repro.sphinx.posters.entries import Entry
    from codeml_repro.sphinx.posters.register import guard, register_csv, register_json, row

    hostile_names = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", "Ada", "|x", "%y"]
    specs = {
        "a-hostile": {"title": "=HYPERLINK(\"x\")", "authors": [{"name": n} for n in hostile_names]},
        "z-neighbour": {"title": "Plain title", "authors": [{"name": "Ada Lovelace"}, {"name": "Plato"}],
                        "links": {"code": "https://github.com/example/fast"}},
    }
    rows = []
    for slug, data in specs.items():
        result = Result(slug=slug, status=Status.REPRODUCED, finished_at="2026-01-01T00:00:00Z")
        entry = Entry(slug, SubmissionSpec.model_validate(data), Status.REPRODUCED, result)
        rows.append(row(entry, f"{slug}.html"))
    table = {r["slug"]: r for r in csv.DictReader(io.StringIO(register_csv(rows), newline=""))}
    hostile, neighbour = table["a-hostile"], table["z-neighbour"]
    stored = [n.strip() for n in hostile_names]  # the model strips names and titles
    assert hostile["authors"].split("; ") == [n if n == "Ada" else "'" + n for n in stored]
    assert hostile["authors"].startswith("'=cmd") and hostile["title"] == "'=HYPERLINK(\"x\")"
    for cell in (*hostile.values(), *neighbour.values()):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "|", "%")), cell
        assert all(not item.startswith(("=", "+", "-", "@", "\t", "\r")) for item in cell.split("; "))
    assert neighbour["authors"] == "Ada Lovelace; Plato" and neighbour["title"] == "Plain title"
    assert neighbour["links"] == "code=https://github.com/example/fast"
    assert neighbour["status"] == "reproduced"
    assert [guard(t) for t in ("\t=1", "\r=1", "-1", "a=b")] == ["'\t=1", "'\r=1", "'-1", "a=b"]
    assert '"=cmd|' in register_json(rows)  # the JSON keeps author text as written: it runs nothing

"""The poster listing, per-submission pages and dashboard, from a real book build.

One session-scoped build (``jupyter-book build -W``) of a temporary root holding
the repository's ``_config.yml``, ``_toc.yml`` and ``book/`` plus generated
submissions whose results are written by ``codeml-repro run``. The security
and browser tests use the same build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
MYST = (
    "```{raw} html\n<script>alert('raw')</script>\n```\n\n```{eval-rst}\n.. raw:: html\n\n   <b>rst</b>\n```"
)
MARKER_NAME = "executed-by-build.marker"

# slug -> (title, cells, claims, session)
CASES: dict[str, tuple[str, list[str], list[dict[str, Any]], str | None]] = {
    "alpha": (
        "Alpha: a reproduced paper",
        [
            "from codeml_repro.record import record\nprint('hello from alpha')\nrecord('accuracy', 0.95)",
            "from IPython.display import Image\nimport base64\n"
            f"Image(data=base64.b64decode('{PNG_1PX}'), format='png')",
        ],
        [{"name": "accuracy", "expected": 0.95, "rel_tol": 0.01, "description": "Table 2"}],
        "Poster session A",
    ),
    "beta": ("Beta: runs, claims nothing", ["x = 1 + 1\nx"], [], "Poster session B"),
    "gamma": ("Gamma: raises", ["y = 2", "1 / 0"], [], None),
    "delta": (
        "Delta: numbers differ",
        ["from codeml_repro.record import record\nrecord('loss', 0.5)"],
        [{"name": "loss", "expected": 0.9, "abs_tol": 0.01, "description": "Figure 3"}],
        None,
    ),
    "epsilon": (
        "Epsilon: used to reproduce",
        ["from codeml_repro.record import record\nrecord('score', 1.0)"],
        [{"name": "score", "expected": 1.0, "abs_tol": 0.001, "description": "Section 4"}],
        None,
    ),
}


def write_submission(
    root: Path,
    slug: str,
    title: str,
    cells: list[str],
    claims: list[dict[str, Any]] | None = None,
    session: str | None = None,
    extra: dict[str, Any] | None = None,
    notebook: Any = None,
) -> Path:
    """submissions/<slug>/ with a submission.yml and an artifact notebook."""
    folder = root / "submissions" / slug
    folder.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "title": title,
        "authors": [
            {
                "name": f"Ada {slug.title()}",
                "affiliation": f"{slug.title()} University",
                "url": "https://example.org/ada",
            },
            {"name": "Grace Coauthor"},
        ],
        "abstract": f"We study {slug}.\n\nSecond paragraph of {slug}.",
        "links": {
            "openreview": f"https://openreview.net/forum?id={slug}",
            "code": "https://example.org/code",
        },
        "claims": claims or [],
    }
    if session:
        spec["session"] = session
    spec.update(extra or {})
    (folder / "submission.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    nb = notebook or new_notebook(cells=[new_code_cell(c) for c in cells])
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("kernelspec", kernel)
    nbformat.write(nb, folder / "artifact.ipynb")
    return folder


def copy_book(root: Path) -> None:
    """The repository's book sources into ``root`` (missing toc files get a stub)."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_build", "generated"))
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    for doc in re.findall(r"(?:root|file):\s*(\S+)", toc):
        if not any((root / f"{doc}{ext}").exists() for ext in (".md", ".ipynb", ".rst")):
            (root / f"{doc}.md").parent.mkdir(parents=True, exist_ok=True)
            (root / f"{doc}.md").write_text(f"# {Path(doc).name}\n\nNot written yet.\n", encoding="utf-8")


def run_cli(root: Path, *slugs: str) -> None:
    exe = shutil.which("codeml-repro")
    cmd = [exe] if exe else [sys.executable, "-m", "codeml_repro.cli"]
    args = [*cmd, "run", *slugs, "--root", str(root), "--sandbox", "off", "--env", "current", "--jobs", "2"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"codeml-repro run failed:\n{proc.stdout}\n{proc.stderr}"


def build_book(root: Path, out: Path | None = None) -> Path:
    """``jupyter-book build root -W``; returns the HTML directory."""
    args = ["jupyter-book", "build", str(root), "-W", "--keep-going"]
    if out is not None:
        args += ["--path-output", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    return (out or root) / "_build" / "html"


GITHUB_CODE = "https://github.com/example-org/alpha-code"
SWHID = "swh:1:dir:" + "0123456789abcdef" * 2 + "01234567"
# slug -> links beyond openreview and code: alpha archived on Zenodo, gamma on Software Heritage
ARCHIVES: dict[str, dict[str, str]] = {
    "alpha": {"code": GITHUB_CODE, "doi": "https://doi.org/10.5281/zenodo.1234567"},
    "gamma": {"swh": SWHID},
}


def links_of(slug: str) -> dict[str, str]:
    return {
        "openreview": f"https://openreview.net/forum?id={slug}",
        "code": "https://example.org/code",
        **ARCHIVES.get(slug, {}),
    }


def add_reviews(root: Path) -> None:
    """beta reviewed as it is (current); delta reviewed at another version (stale)."""
    from codeml_repro.model.submission import load_submission
    from codeml_repro.organizers.review import write_review

    for slug, when in (("beta", date(2025, 7, 1)), ("delta", date(2025, 6, 1))):
        sub = load_submission(root / "submissions" / slug)
        path = write_review(root, sub, "Artifact Evaluation Committee", True, "Well documented.", when)
        if slug == "delta":
            path.write_text(re.sub(r"inputs: \w+", "inputs: " + "f" * 32, path.read_text()))


def make_runs(root: Path) -> None:
    """Real results: all cases once; epsilon changed and run again (regressed)."""
    for slug, (title, cells, claims, session) in CASES.items():
        write_submission(root, slug, title, cells, claims, session, extra={"links": links_of(slug)})
    gpu = {"artifact": {"resources": {"gpu": 1}}}
    write_submission(root, "eta", "Eta: needs a GPU", ["x = 1"], extra=gpu)
    run_cli(root)
    add_reviews(root)
    title, _, claims, _ = CASES["epsilon"]
    write_submission(
        root, "epsilon", title, ["from codeml_repro.record import record\nrecord('score', 0.2)"], claims
    )
    run_cli(root, "epsilon")
    write_submission(root, "zeta", "Zeta: never run", ["print('never')"])


def attack_notebook(marker: Path) -> Any:
    """An executed-looking notebook with unsafe outputs and forced-execution metadata."""
    code = new_code_cell(f"open({str(marker)!r}, 'w').write('ran')")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<script>alert('html-out')</script><b id='live-html'>bold</b>",
                "application/javascript": "alert('js-out')",
                "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'><script>alert('svg-out')</script></svg>",
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
            },
        ),
        nbformat.v4.new_output("stream", name="stdout", text="<script>alert('stream')</script>\n"),
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="bad <b>",
            traceback=["\x1b[0;31mValueError\x1b[0m: <script>alert('tb')</script>"],
        ),
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"}),
    ]
    code.execution_count = 1
    nb = new_notebook(cells=[new_markdown_cell("<script>alert('md')</script>\n" + MYST), code])
    nb.metadata["mystnb"] = {"execution_mode": "force"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def add_attack(root: Path) -> Path:
    """The malicious submission and a recorded result for it (not run: its outputs are crafted)."""
    from codeml_repro.model.result import ErrorInfo, Result, Status
    from codeml_repro.results.store import ResultStore

    marker = root / MARKER_NAME
    nb = attack_notebook(marker)
    write_submission(
        root,
        "xss",
        f"Attack {XSS}",
        [],
        session=XSS,
        notebook=nb,
        extra={
            "authors": [{"name": XSS, "affiliation": "```{raw} html\n<script>alert(2)</script>\n```"}],
            "abstract": f"{XSS}\n\n{MYST}",
            "claims": [{"name": "acc", "expected": 1.0, "description": XSS}],
            "artifact": {"data": [
                {"url": "https://example.org/d.csv?a=1&b=2", "sha256": "d1a204d0" + "5" * 56,
                 "path": "data/d.csv", "size": 1_500_000, "license": XSS, "description": XSS},
                {"hf": {"repo": "org/model", "revision": "0123456789abcdef0123456789abcdef01234567"}},
            ]},
        },
    )
    result = Result(
        slug="xss",
        status=Status.FAILED,
        badges=["available"],
        duration_s=1.0,
        error=ErrorInfo(type="ValueError", message=XSS, cell=1),
        finished_at="2025-01-01T00:00:00Z",
        environment={"python": XSS},
        notebook="results/notebooks/xss.ipynb",
    )
    ResultStore(root).write(result, notebook=nbformat.writes(nb).encode())
    return marker


def build_listing_book(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The listing's book, built by the session fixture ``book`` (conftest.py) once for every module
    that uses it: {"root": ..., "html": ..., "marker": ...}."""
    if shutil.which("jupyter-book") is None:
        pytest.skip("jupyter-book is not installed")
    root = tmp_path_factory.mktemp("book")
    copy_book(root)
    make_runs(root)
    marker = add_attack(root)
    return {"root": root, "html": build_book(root), "marker": marker}


class _Cards(HTMLParser):
    """Collects the ids and classes of the poster cards, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "div" and "codeml-card" in classes:
            self.cards.append(((found.get("id") or "").removeprefix("poster-"), classes))


def read(html: Path, rel: str) -> str:
    return (html / rel).read_text(encoding="utf-8")


def cards(text: str) -> list[tuple[str, list[str]]]:
    parser = _Cards()
    parser.feed(text)
    return parser.cards


def test_listing_has_one_card_per_submission_sorted_by_title(book: dict[str, Path]) -> None:
    found = cards(read(book["html"], "book/posters.html"))
    slugs = [slug for slug, _ in found]
    assert sorted(slugs) == sorted([*CASES, "zeta", "xss", "eta"])
    titles = {**{k: v[0] for k, v in CASES.items()}, "zeta": "Zeta: never run", "xss": f"Attack {XSS}",
              "eta": "Eta: needs a GPU"}
    assert slugs == sorted(slugs, key=lambda s: titles[s].casefold())


def test_cards_carry_status_and_tiers_from_real_results(book: dict[str, Path]) -> None:
    found = dict(cards(read(book["html"], "book/posters.html")))
    expected = {
        "alpha": ("reproduced", "reproduced"),
        "beta": ("functional", "reusable"),
        "gamma": ("failed", "available"),
        "delta": ("not_reproduced", "functional"),
        "epsilon": ("not_reproduced", "functional"),
        "zeta": ("pending", "none"),
        "eta": ("skipped", "none"),
    }
    for slug, (status, top) in expected.items():
        assert f"codeml-status-{status}" in found[slug], slug
        assert f"codeml-top-{top}" in found[slug], slug


def test_card_content(book: dict[str, Path]) -> None:
    text = read(book["html"], "book/posters.html")
    card = text.split('id="poster-alpha"', 1)[1].split('id="poster-', 1)[0]
    for piece in (
        "Alpha: a reproduced paper",
        "Ada Alpha",
        "(Alpha University)",
        "Grace Coauthor",
        "Poster session A",
        "https://openreview.net/forum?id=alpha",
        ">OpenReview<",
        "Reproduced (automated re-run)",
        'href="posters/alpha.html"',
        'href="authors.html#badge-reproduced"',
    ):
        assert piece in card, piece
    assert "codeml-listing.js" in text and "codeml-listing.css" in text


def test_no_external_requests_from_listing_assets(book: dict[str, Path]) -> None:
    js = read(book["html"], "_static/codeml-listing.js")
    css = read(book["html"], "_static/codeml-listing.css")
    assert "http" not in js and "http" not in css
    assert "innerHTML" not in js


def test_submission_page_reproduced(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/alpha.html")
    for piece in (
        "<h1>Alpha: a reproduced paper</h1>",
        "We study alpha.",
        "Second paragraph of alpha.",
        "<code>accuracy</code>",
        "Table 2",
        "0.95",
        "rel_tol 0.01",
        "codeml-claim-pass",
        "hello from alpha",
        "data:image/png;base64,",
        "Download the executed notebook",
        "All posters",
    ):
        assert piece in page, piece
    assert "&lt;span" not in page and "&amp;" not in page  # no double escaping
    assert 'href="../../notebooks/alpha.ipynb"' in page
    # No site URL in _config.yml (html.baseurl): no badge snippets, and never a placeholder URL.
    assert 'id="embed"' not in page and "YOUR-BOOK-URL" not in page
    nb = json.loads(read(book["html"], "notebooks/alpha.ipynb"))
    assert nb["cells"][0]["outputs"], "the copied notebook is the executed one"


def test_submission_page_failed_shows_error_cell(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/gamma.html")
    assert "<code>ZeroDivisionError</code>" in page
    assert 'href="#nb-cell-1"' in page and 'id="nb-cell-1"' in page
    assert "codeml-nb-error" in page
    assert "\x1b" not in page and "[0;31m" not in page


def test_submission_page_history_marks_regression(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/epsilon.html")
    history = page.split('id="history"', 1)[1].split("</details>", 1)[0]
    assert history.count("<tr>") == 3  # header + two runs
    assert "regressed" in history and "codeml-regressed-note" in history
    assert "codeml-claim-fail" in page
    listing = read(book["html"], "book/posters.html")
    assert "regressed" in listing.split('id="poster-epsilon"', 1)[1].split('id="poster-', 1)[0]


def test_a_gpu_submission_is_not_checked_here_never_failed(book: dict[str, Path]) -> None:
    listing = read(book["html"], "book/posters.html")
    card = listing.split('id="poster-eta"', 1)[1].split("</div>", 1)[0]
    assert "not checked here: needs a GPU" in card
    assert "regressed" not in card and "failed" not in card
    page = read(book["html"], "book/posters/eta.html")
    assert "not checked here: needs a GPU" in page
    assert "needs a GPU; this runner has none" in page  # the run section gives the whole reason
    dashboard = read(book["html"], "book/dashboard.html")
    table = dashboard.split("codeml-status-counts", 1)[1].split("</table>", 1)[0]
    assert re.search(r"<p>skipped</p></td>\s*<td><p>1</p>", table), table


def test_submission_page_shows_what_the_run_cost(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/alpha.html")
    cost = page.split('class="codeml-cost"', 1)[1].split("</p>", 1)[0]
    assert re.search(r"runs in \d+\.\d s, peak memory \d+ MB, no GPU", cost), cost
    assert "<details" in page.split('class="codeml-cost"', 1)[0].rsplit('id="run"', 1)[1]  # folded
    parts = page.split('class="codeml-cell-times"', 1)
    times = parts[1].split("</table>", 1)[0] if len(parts) == 2 else ""
    assert "0.0 s" not in times  # a cell that took no time is not a cost
    assert "codeml-cost" not in read(book["html"], "book/posters/eta.html")  # skipped: nothing ran


def test_pending_submission_page(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/zeta.html")
    assert "has not been run yet" in page and 'id="history"' not in page
    assert "No executed notebook recorded yet" in page


def test_badges_published_beside_html(book: dict[str, Path]) -> None:
    badges = book["html"] / "badges"
    for slug, status in (
        ("alpha", "reproduced (automated re-run)"),
        ("zeta", "pending"),
        ("delta", "not reproduced (automated re-run)"),
    ):
        endpoint = json.loads((badges / f"{slug}.json").read_text(encoding="utf-8"))
        assert endpoint["schemaVersion"] == 1 and endpoint["message"] == status
        assert (badges / f"{slug}.svg").read_text(encoding="utf-8").startswith("<svg")


def test_dashboard(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/dashboard.html")
    assert "Last run: 20" in page
    assert "<svg" in page and "codeml-chart" in page
    for piece in (
        "Alpha: a reproduced paper",
        "Zeta: never run",
        "not reproduced",
        "regressed",
        'href="posters/alpha.html"',
        "Reproduced (automated re-run)",
    ):
        assert piece in page, piece
    table = page.split("codeml-status-counts", 1)[1].split("</table>", 1)[0]
    assert re.search(r"<p>reproduced</p></td>\s*<td><p>1</p>", table), table


def test_build_without_results_is_all_pending(tmp_path: Path) -> None:
    """No results/: every card is pending and the -W build passes (built in a fresh root)."""
    if os.environ.get("CODEML_SKIP_SECOND_BUILD"):
        pytest.skip("CODEML_SKIP_SECOND_BUILD is set")
    copy_book(tmp_path)
    write_submission(tmp_path, "only", "Only paper", ["print(1)"])
    html = build_book(tmp_path)
    found = cards(read(html, "book/posters.html"))
    assert [(s, "codeml-status-pending" in c) for s, c in found] == [("only", True)]
    assert "Last run: never" in read(html, "book/dashboard.html")
    assert json.loads(read(html, "badges/only.json"))["message"] == "pending"
    assert "codeml-badge-link" not in read(html, "book/posters.html")  # no badge earned: none on its card
    assert 'href="../authors.html#badge-available"' in read(html, "book/posters/only.html")  # the page: why


def test_build_with_hostile_input_passes_and_the_dashboard_notes_it(tmp_path: Path) -> None:
    """An invalid submission.yml, a notebook nested 100,000 deep, a bad history line and a corrupt
    result: the -W build passes, the others show, and the dashboard lists each problem."""
    if os.environ.get("CODEML_SKIP_SECOND_BUILD"):
        pytest.skip("CODEML_SKIP_SECOND_BUILD is set")
    copy_book(tmp_path)
    write_submission(tmp_path, "only", "Only paper", ["print(1)"])
    bad = write_submission(tmp_path, "bad-yml", "Bad", ["print(1)"])
    (bad / "submission.yml").write_text("title: Bad\nauthors: [{name: A}]\nunknown_key: 1\n")
    deep = write_submission(tmp_path, "deep-nb", "Deep paper", ["print(1)"])
    (deep / "artifact.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + ', "nbformat": 4}')
    results = tmp_path / "results"
    (results / "history").mkdir(parents=True)
    good = '{"status": "functional", "finished_at": "2026-01-01T00:00:00Z", "duration_s": 1.0}'
    (results / "history" / "only.jsonl").write_text(good + "\n::error::not json\n")
    (results / "deep-nb.json").write_text("{not json")
    html = build_book(tmp_path)
    assert sorted(s for s, _ in cards(read(html, "book/posters.html"))) == ["deep-nb", "only"]
    dashboard = read(html, "book/dashboard.html")
    assert "3 problem(s)" in dashboard
    for note in ("submission left out of the book: submissions/bad-yml/submission.yml: ",
                 "results/history/only.jsonl:2: unreadable history line skipped",
                 "results/deep-nb.json: corrupt result"):
        assert note in dashboard, note
    assert str(tmp_path) not in dashboard


def test_changed_inputs_make_a_result_pending(tmp_path: Path) -> None:
    """The book shows ``pending`` once a submission's files change after its last run."""
    from codeml_repro.model.result import Result, Status
    from codeml_repro.model.skipkey import submission_inputs
    from codeml_repro.model.submission import load_submission
    from codeml_repro.results.store import ResultStore
    from codeml_repro.sphinx.posters.entries import load_entries

    folder = write_submission(tmp_path, "paper", "Paper", ["print(1)"])
    key = submission_inputs(folder, load_submission(folder))
    ResultStore(tmp_path).write(Result(slug="paper", status=Status.FUNCTIONAL, inputs_key=key))
    (entry,) = load_entries(tmp_path)
    assert (entry.status, entry.stale) == (Status.FUNCTIONAL, False)
    write_submission(tmp_path, "paper", "Paper", ["print(2)"])
    (entry,) = load_entries(tmp_path)
    assert (entry.status, entry.stale, entry.result is not None) == (Status.PENDING, True, True)


def test_a_build_reads_the_submissions_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listings, dashboard, chart and pages of one build (one Sphinx app) share one read;
    each edition still sees its own submissions, and the next build reads afresh."""
    from types import SimpleNamespace

    import codeml_repro.model.submission as submission
    from codeml_repro.sphinx.posters.entries import build_entries, read_entries

    write_submission(tmp_path, "paper", "Paper", ["print(1)"])
    past = tmp_path / "editions" / "2024" / "submissions"
    past.mkdir(parents=True)
    shutil.move(write_submission(tmp_path, "old", "Old paper", ["print(0)"]), past / "old")
    (tmp_path / "submissions" / "broken").mkdir()  # no submission.yml: left out, and said so
    reads: list[Path] = []
    real_discover = submission.discover

    def counted(root: Path, slugs: list[str] | None = None) -> list[Path]:
        reads.append(root)
        return real_discover(root, slugs)

    monkeypatch.setattr(submission, "discover", counted)

    def new_build() -> Any:
        return SimpleNamespace(srcdir=str(tmp_path), config=SimpleNamespace(codeml_root="."))

    app = new_build()
    current, problems = build_entries(app)
    assert [e.slug for e in current] == ["paper"] and len(problems) == 1 and "broken" in problems[0]
    assert [e.slug for e in build_entries(app, edition=2024)[0]] == ["old"]
    write_submission(tmp_path, "added", "Added later", ["print(2)"])
    assert [e.slug for e in build_entries(app, every_edition=True)[0]] == ["old", "paper"]
    assert len(reads) == 1
    for edition, every in ((None, False), (2024, False), (None, True)):
        assert build_entries(new_build(), edition, every) == read_entries(tmp_path, edition, every)
    assert [e.slug for e in build_entries(new_build(), every_edition=True)[0]] == ["added", "old", "paper"]


def test_the_site_url_comes_from_html_baseurl_and_is_cited(tmp_path: Path) -> None:
    """``html.baseurl`` in _config.yml (no environment variable) puts the page's URL in the BibTeX,
    CITATION.cff and the badge snippets."""
    root = tmp_path / "site"
    root.mkdir()
    copy_book(root)
    config = root / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'baseurl: ""', 'baseurl: "https://codeml.example.org/site/"'), encoding="utf-8")
    write_submission(root, "alpha", "Alpha", ["x = 1"], extra={"links": links_of("alpha")})
    html = build_book(root)
    bib = read(html, "cite/alpha.bib")
    assert "https://codeml.example.org/site/book/posters/alpha.html" in bib
    assert "10.5281/zenodo.1234567" in bib
    cff = read(html, "cite/alpha.cff")
    assert "url: https://codeml.example.org/site/book/posters/alpha.html" in cff and "&id" not in cff
    assert "https://codeml.example.org/site/badges/alpha.json" in read(html, "book/posters/alpha.html")


def badge_texts(html: str) -> list[str]:
    """The text of each tier badge in ``html``, screen-reader text included."""
    pieces = html.split('<span class="codeml-badge ')[1:]
    return [re.sub(r"<[^>]+>", "", "<x " + p.split("</a>", 1)[0]).strip() for p in pieces]


def test_cards_show_each_earned_badge_once_and_pages_say_what_is_missing(book: dict[str, Path]) -> None:
    listing = read(book["html"], "book/posters.html")
    card = listing.split('id="poster-gamma"', 1)[1].split('id="poster-', 1)[0]
    assert badge_texts(card) == ["Available"] and ">failed<" in card
    alpha = listing.split('id="poster-alpha"', 1)[1].split('id="poster-', 1)[0]
    assert badge_texts(alpha) == ["Available", "Reproduced (automated re-run)"]  # Functional is implied
    page = read(book["html"], "book/posters/gamma.html").split("codeml-badge-meanings", 1)[1]
    assert badge_texts(page)[1:3] == ["Functional (automated run) (not earned)",
                                      "Reproduced (automated re-run) (not earned)"]


def test_available_needs_an_archival_id_and_the_page_says_why(book: dict[str, Path]) -> None:
    zeta = read(book["html"], "book/posters/zeta.html")
    assert "Not earned: no DOI or Software Heritage id of the code is given." in zeta
    assert "Zenodo DOI" not in zeta  # advice to authors is for check and the dashboard, not readers
    dashboard = read(book["html"], "book/dashboard.html")
    row = dashboard.split('href="posters/zeta.html"', 1)[1].split("</tr>", 1)[0]
    assert "add a Zenodo DOI of your code to earn Available" in row  # the authors' advice is here
    alpha_row = dashboard.split('href="posters/alpha.html"', 1)[1].split("</tr>", 1)[0]
    assert "Zenodo" not in alpha_row
    alpha = read(book["html"], "book/posters/alpha.html")
    assert "Not earned: no DOI" not in alpha
    assert badge_texts(alpha.split("codeml-badge-meanings", 1)[1])[0] == "Available"
    assert 'href="../authors.html#badge-available"' in alpha
    svg = read(book["html"], "badges/alpha-tiers.svg")
    assert "badges: Available, Functional (automated run), Reproduced (automated re-run)" in svg


def test_reviews_show_who_and_when_and_go_stale(book: dict[str, Path]) -> None:
    beta = read(book["html"], "book/posters/beta.html")
    assert "Reviewed by Artifact Evaluation Committee on 2025-07-01: reusable. Well documented." in beta
    assert badge_texts(beta.split("codeml-badge-meanings", 1)[1])[-1] == "Reusable (reviewed)"
    assert "Reusable (reviewed)" in read(book["html"], "badges/beta-tiers.svg")
    delta = read(book["html"], "book/posters/delta.html")
    assert "(of an earlier version: the artifact changed since)" in delta
    assert "Reusable (reviewed) (not earned)" in badge_texts(delta.split("codeml-badge-meanings", 1)[1])
    assert "Reusable" not in " ".join(badge_texts(read(book["html"], "book/posters/alpha.html")))


def test_submission_page_lists_declared_inputs(book: dict[str, Path]) -> None:
    page = read(book["html"], "book/posters/xss.html")
    inputs = page.split('<details class="codeml-more" id="inputs">')[1].split("</details>")[0]
    assert "<code>data/d.csv</code>" in inputs and 'href="https://example.org/d.csv?a=1&amp;b=2"' in inputs
    assert "1.5 MB" in inputs and ">d1a204d05555<" in inputs
    assert 'href="https://huggingface.co/org/model/tree/0123456789abcdef0123456789abcdef01234567"' in inputs
    assert "<script" not in inputs and "&lt;script&gt;" in inputs


def test_cite_this_and_open_the_artifact(book: dict[str, Path]) -> None:
    from pybtex.database import parse_string

    alpha = read(book["html"], "book/posters/alpha.html")
    cite = alpha.split('<section id="cite">', 1)[1].split("</section>", 1)[0]
    assert "Copy BibTeX" in cite and 'data-copy="codeml-bibtex-alpha"' in cite
    assert 'href="../../cite/alpha.cff" download="CITATION.cff"' in cite
    on_page = parse_string(read(book["html"], "cite/alpha.bib"), "bibtex").entries["codeml2025-alpha"]
    assert on_page.fields["doi"] == "10.5281/zenodo.1234567"
    assert on_page.fields["title"] == "Alpha: a reproduced paper"
    workshop = parse_string(read(book["html"], "cite/codeml-2025.bib"), "bibtex").entries
    listed = [slug for slug, _ in cards(read(book["html"], "book/posters.html"))]
    assert sorted(workshop) == sorted(f"codeml2025-{s}" for s in listed)
    cff = yaml.safe_load(read(book["html"], "cite/alpha.cff"))
    assert cff["doi"] == "10.5281/zenodo.1234567" and cff["repository-code"] == GITHUB_CODE
    opener = alpha.split('<section id="open">', 1)[1].split("</section>", 1)[0]
    assert 'href="https://mybinder.org/v2/gh/example-org/alpha-code/HEAD"' in opener
    assert "Colab" not in opener  # the code link names no notebook
    assert 'href="../../downloads/alpha.zip"' in opener
    import zipfile

    with zipfile.ZipFile(book["html"] / "downloads" / "alpha.zip") as archive:
        assert sorted(archive.namelist()) == ["alpha/artifact.ipynb", "alpha/submission.yml"]
    beta = read(book["html"], "book/posters/beta.html")
    assert "mybinder.org" not in beta and "Download this folder" in beta  # example.org is not GitHub


def test_register_beside_the_html(book: dict[str, Path]) -> None:
    import csv
    import io

    from codeml_repro import __version__
    from codeml_repro.sphinx.posters.register import COLUMNS

    rows = {r["slug"]: r for r in json.loads(read(book["html"], "register.json"))}
    assert sorted(rows) == sorted(slug for slug, _ in cards(read(book["html"], "book/posters.html")))
    alpha = rows["alpha"]
    assert tuple(alpha) == COLUMNS
    assert alpha["status"] == "reproduced" and alpha["tiers"] == ["available", "functional", "reproduced"]
    assert alpha["archival_id"] == "10.5281/zenodo.1234567" and alpha["toolkit_version"] == __version__
    assert alpha["last_run"].startswith("20") and alpha["page"] == "book/posters/alpha.html"
    assert rows["gamma"]["archival_id"] == SWHID and rows["zeta"]["last_run"] is None
    assert rows["beta"]["tiers"][-1] == "reusable"
    table = list(csv.DictReader(io.StringIO(read(book["html"], "register.csv"))))
    assert [r["slug"] for r in table] == [r["slug"] for r in json.loads(read(book["html"], "register.json"))]

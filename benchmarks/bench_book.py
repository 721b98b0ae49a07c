"""Book build time with 200, 500 and 1,000 submissions (with results) against none.

Usage: python benchmarks/bench_book.py [--counts 200 500 1000] [--keep]
Target: a full build of 500 posters under 30 s.

Both roots hold the repository's ``_config.yml``, ``_toc.yml`` and ``book/``.
The large one adds ``count`` submissions, each with a recorded result, a
history of three runs and an executed notebook (text and a PNG output), written
with ``ResultStore`` (running 200 notebooks is not what is measured here).
Prints each clean build time (``jupyter-book build -W``), its ratio to the
empty book, and the time per poster (the difference over the count).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parents[1]
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
STATUSES = ("reproduced", "functional", "not_reproduced", "failed", "timeout")


def copy_book(root: Path) -> None:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_build", "generated"))


def executed_notebook(i: int) -> bytes:
    cells = [new_code_cell(f"value = {i} / 10\nprint(value)"), new_code_cell("show_plot()")]
    cells[0].outputs = [new_output("stream", name="stdout", text=f"{i / 10}\n")]
    cells[1].outputs = [new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"})]
    for n, cell in enumerate(cells, 1):
        cell.execution_count = n
    text: str = nbformat.writes(new_notebook(cells=cells))
    return text.encode()


def add_submission(root: Path, i: int) -> None:
    from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
    from codeml_repro.results.badges import badges_for
    from codeml_repro.results.store import ResultStore

    slug = f"paper-{i:04d}"
    folder = root / "submissions" / slug
    folder.mkdir(parents=True)
    spec = {
        "title": f"Paper {i}: on reproducible thing {i % 17}",
        "authors": [{"name": f"Author {i}", "affiliation": f"Lab {i % 9}"}, {"name": "Second Author"}],
        "abstract": f"Abstract of paper {i}. " * 20,
        "links": {"openreview": f"https://openreview.net/forum?id=p{i}", "code": "https://example.org/c"},
        "session": f"Poster session {'AB'[i % 2]}",
        "claims": [{"name": "score", "expected": 1.0, "abs_tol": 0.01, "description": "Table 1"}],
    }
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), folder / "artifact.ipynb")
    store = ResultStore(root)
    for day in (1, 2, 3):
        status = Status(STATUSES[(i + day) % len(STATUSES)])
        ok = status is Status.REPRODUCED
        result = Result(
            slug=slug,
            status=status,
            badges=badges_for(status),
            duration_s=1.5,
            claims=[
                ClaimResult(
                    name="score",
                    expected=1.0,
                    observed=1.0 if ok else 0.5,
                    ok=ok,
                    recorded=True,
                    abs_tol=0.01,
                )
            ],
            error=ErrorInfo(type="ValueError", message="bad", cell=1) if status is Status.FAILED else None,
            finished_at=f"2025-06-0{day}T10:00:00Z",
            environment={"python": "3.11"},
        )
        store.write(result, notebook=executed_notebook(i))


def build(root: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        ["jupyter-book", "build", str(root), "-W"], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build of {root} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--keep", action="store_true", help="keep the temporary roots")
    args = parser.parse_args()
    roots = [Path(tempfile.mkdtemp(prefix="codeml-book-empty-"))]
    try:
        copy_book(roots[0])
        t_empty = build(roots[0])
        print(f"book build, no submissions: {t_empty:7.2f} s")
        for count in args.counts:
            full = Path(tempfile.mkdtemp(prefix=f"codeml-book-{count}-"))
            roots.append(full)
            copy_book(full)
            for i in range(count):
                add_submission(full, i)
            t_full = build(full)
            pages = len(list((full / "_build" / "html" / "book" / "posters").glob("*.html")))
            per = (t_full - t_empty) / count * 1000
            print(f"book build, {count} submissions+results: {t_full:7.2f} s ({pages} pages), "
                  f"{t_full / t_empty:.2f}x the empty book, {per:.1f} ms per poster")
    finally:
        if args.keep:
            print("kept:", *roots)
        else:
            for root in roots:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

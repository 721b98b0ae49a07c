"""submission.yml past every bound: one line each from validate, run and the book; neighbours unharmed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.model.review import load_review, review_path
from codeml_repro.model.submission import load_spec
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions

from .conftest import MakeSubmission

BOMB = "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else '"lol"'] * 9) + "]\n" for i in range(9)
)
HOSTILE = {
    "alias-bomb": "title: T\nauthors: [{name: A}]\n" + BOMB,
    "brackets": "title: T\nauthors: [{name: A}]\nabstract: " + "[" * 20_000 + "]" * 20_000 + "\n",
    "huge-abstract": "title: T\nauthors: [{name: A}]\nabstract: '" + "a" * 50_000_000 + "'\n",
    "newline-key": 'title: T\nauthors: [{name: A}]\n"x\\n::error::pwned": 1\n',
}
EXPECTED = {
    "alias-bomb": "anchors and aliases",
    "brackets": "nested more than 32 levels",
    "huge-abstract": "larger than 256 KiB",
    "newline-key": "unknown key",
}


def _hostile_root(make_submission: MakeSubmission) -> None:
    for slug, text in HOSTILE.items():
        folder = make_submission(slug, "x = 1")
        (folder / "submission.yml").write_text(text)
    make_submission("z-neighbour", "x = 1")


@pytest.mark.parametrize("slug", sorted(HOSTILE))
def test_load_spec_refuses_with_one_line(tmp_path: Path, slug: str) -> None:
    path = tmp_path / "submission.yml"
    path.write_text(HOSTILE[slug])
    with pytest.raises(SubmissionInvalid) as info:
        load_spec(path)
    assert EXPECTED[slug] in info.value.message
    assert "\n" not in info.value.message and len(info.value.message) < 600


@pytest.mark.parametrize("slug", sorted(HOSTILE))
def test_load_review_refuses_them_in_one_line_as_well(tmp_path: Path, slug: str) -> None:
    """The review reader shares submission.yml's loader: the same bounds, the same one line."""
    path = review_path(tmp_path, slug)
    path.parent.mkdir(exist_ok=True)
    path.write_text(HOSTILE[slug])
    with pytest.raises(SubmissionInvalid) as info:
        load_review(tmp_path, slug)
    assert info.value.message.startswith(f"{path}: ")
    assert EXPECTED[slug] in info.value.message
    assert "\n" not in info.value.message and len(info.value.message) < 600


def test_validate_and_run_give_one_line_each(make_submission: MakeSubmission, tmp_path: Path) -> None:
    _hostile_root(make_submission)
    proc = subprocess.run([sys.executable, "-m", "codeml_repro.cli", "validate", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == len(HOSTILE) + 1 and lines[-1] == "1 valid, 4 invalid", proc.stderr
    for line, slug in zip(lines, sorted(HOSTILE), strict=False):
        assert slug in line and EXPECTED[slug] in line
    assert not any(line.lstrip().startswith("::") for line in proc.stdout.splitlines() + lines)
    assert "Traceback" not in proc.stderr
    policy = RunPolicy(sandbox="off", env="current", timeout_s=60)
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["z-neighbour"].status is Status.FUNCTIONAL
    for slug in HOSTILE:
        error = results[slug].error
        assert results[slug].status is Status.INVALID and error is not None and "\n" not in error.message


def test_the_book_leaves_them_out_without_a_warning(make_submission: MakeSubmission, tmp_path: Path) -> None:
    from codeml_repro.sphinx.posters.entries import load_entries

    _hostile_root(make_submission)
    entries = load_entries(tmp_path)
    assert [e.slug for e in entries] == ["z-neighbour"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\n::add-mask::x", "a\\n::add-mask::x"),
        ("::error::x", "(text) ::error::x"),
        ("  ::warning::x\r", "(text)   ::warning::x\\r"),
        ("tab\there\x1b[31m\u2028", "tab here\\x1b[31m\\u2028"),
    ],
)
def test_log_line_never_starts_a_workflow_command(text: str, expected: str) -> None:
    assert log_line(text) == expected


def test_an_unreadable_history_line_and_an_invalid_submission_become_dashboard_notes(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    from codeml_repro.sphinx.posters.dashboard import problem_notes
    from codeml_repro.sphinx.posters.entries import read_entries

    _hostile_root(make_submission)
    history = tmp_path / "results" / "history"
    history.mkdir(parents=True)
    good = '{"status": "functional", "finished_at": "2026-01-01T00:00:00Z", "duration_s": 1.0}'
    (history / "z-neighbour.jsonl").write_bytes(good.encode() + b"\n\xff::error::not json\n")
    entries, problems = read_entries(tmp_path)
    assert [e.slug for e in entries] == ["z-neighbour"] and len(entries[0].history) == 1
    assert len(problems) == len(HOSTILE) + 1
    assert any("z-neighbour.jsonl:2: unreadable history line" in p for p in problems)
    assert all("\n" not in p for p in problems)
    notes = problem_notes(problems)
    assert "5 problem(s)" in notes[0].astext() and len(notes[1].children) == 5
    assert problem_notes([]) == []


NB_TAIL = ', "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
HOSTILE_NOTEBOOKS = {
    "cells-deep": ('{"cells": ' + "[" * 100_000 + "]" * 100_000 + NB_TAIL, "nested more than 64 levels"),
    "metadata-deep": (
        '{"cells": [], "metadata": {"x": ' + "[" * 50_000 + "]" * 50_000 + "}"
        + NB_TAIL.replace('"metadata": {}, ', ""),
        "nested more than 64 levels",
    ),
    "huge": ('{"cells": [{"cell_type": "raw", "metadata": {}, "source": "' + "a" * 33 * 1024**2 + '"}]'
             + NB_TAIL, "larger than 32 MiB"),
}
NEIGHBOUR_CLAIM = {"claims": [{"name": "acc", "expected": 1}]}


@pytest.mark.parametrize("case", sorted(HOSTILE_NOTEBOOKS))
def test_a_hostile_notebook_is_invalid_alone_in_validate_run_and_the_book(
    make_submission: MakeSubmission, tmp_path: Path, case: str
) -> None:
    from codeml_repro.results.store import ResultStore
    from codeml_repro.sphinx.posters.entries import read_entries

    text, expected = HOSTILE_NOTEBOOKS[case]
    (make_submission("a-hostile", "x = 1") / "artifact.ipynb").write_text(text)
    make_submission("z-neighbour", "from codeml_repro import record\nrecord('acc', 1)", spec=NEIGHBOUR_CLAIM)
    cli = [sys.executable, "-m", "codeml_repro.cli"]
    proc = subprocess.run([*cli, "validate", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[1] == "1 valid, 1 invalid", proc.stderr
    assert "a-hostile/artifact.ipynb: " in lines[0] and expected in lines[0] and len(lines[0]) < 300
    proc = subprocess.run([*cli, "run", "--root", str(tmp_path), "--sandbox", "off", "--env", "current"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    store = ResultStore(tmp_path)
    hostile, neighbour = store.read("a-hostile"), store.read("z-neighbour")
    assert neighbour is not None and neighbour.status is Status.REPRODUCED
    assert hostile is not None and hostile.status is Status.INVALID and hostile.error is not None
    assert expected in hostile.error.message and "\n" not in hostile.error.message
    entries, problems = read_entries(tmp_path)
    shown = {e.slug: e.status for e in entries}
    assert shown == {"a-hostile": Status.INVALID, "z-neighbour": Status.REPRODUCED}, problems


def test_the_bound_counts_structure_not_strings_and_the_book_notes_a_deep_executed_notebook() -> None:
    from codeml_repro.model.notebookfile import parse_bounded
    from codeml_repro.sphinx.posters.nbrender import render_notebook

    printed = '{"cells": [{"source": "print(\\"' + "[" * 5000 + '\\")"}]}'
    assert parse_bounded(printed)["cells"][0]["source"].count("[") == 5000
    assert parse_bounded("[" * 64 + "]" * 64) is not None
    for deep in ("[" * 65 + "]" * 65, "[" * 100_000 + "]" * 100_000):
        with pytest.raises(ValueError, match="nested more than 64 levels deep"):
            parse_bounded(deep)
    assert "nested too deeply" in str(render_notebook('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}"))


def test_published_problems_name_files_from_the_project_root(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    import json

    from codeml_repro.results.store import ResultStore
    from codeml_repro.sphinx.posters.dashboard import problem_notes
    from codeml_repro.sphinx.posters.entries import read_entries

    bad_yml = make_submission("a-bad-yml", "x = 1") / "submission.yml"
    bad_yml.write_text("title: T\nauthors: [{name: A}]\nx: 1\n")
    (make_submission("b-deep-nb", "x = 1") / "artifact.ipynb").write_text(HOSTILE_NOTEBOOKS["cells-deep"][0])
    make_submission("c-corrupt", "x = 1")
    make_submission("z-neighbour", "x = 1")
    policy = RunPolicy(sandbox="off", env="current", timeout_s=60)
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["z-neighbour"].status is Status.FUNCTIONAL
    for slug, shown in (("a-bad-yml", "submissions/a-bad-yml/submission.yml: "),
                        ("b-deep-nb", "submissions/b-deep-nb/artifact.ipynb: ")):
        error = results[slug].error
        assert results[slug].status is Status.INVALID and error is not None
        assert error.message.startswith(shown) and str(tmp_path) not in error.message, error.message
    store = ResultStore(tmp_path)
    store.result_path("c-corrupt").write_text("{not json")
    with store.history_path("z-neighbour").open("a") as history:
        history.write("not json\n")
    cli = [sys.executable, "-m", "codeml_repro.cli"]
    proc = subprocess.run([*cli, "status", "--json", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = {r["slug"]: r for r in json.loads(proc.stdout)}
    assert shown["a-bad-yml"]["error"]["message"].startswith("submissions/a-bad-yml/submission.yml: ")
    assert str(tmp_path) not in proc.stdout + proc.stderr
    assert "results/c-corrupt.json: corrupt result" in proc.stderr
    entries, problems = read_entries(tmp_path)
    assert {e.slug for e in entries} == {"b-deep-nb", "c-corrupt", "z-neighbour"}
    notes = " ".join(n.astext() for n in problem_notes(problems))
    for expected in ("submissions/a-bad-yml/submission.yml: ", "results/c-corrupt.json: corrupt result",
                     "results/history/z-neighbour.jsonl:2: unreadable history line"):
        assert expected in notes, notes
    assert str(tmp_path) not in notes


def _nb(cells: object) -> str:
    import json

    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


CODE_CELL = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
MISSHAPEN_NOTEBOOKS = {
    "a-cell-int": (_nb([1]), "cells/0: must be an object, not a number"),
    "a-cell-null": (_nb([None]), "cells/0: must be an object, not null"),
    "a-cell-str": (_nb(["x"]), "cells/0: must be an object, not a string"),
    "a-cells-dict": (_nb({"0": CODE_CELL | {"source": ""}}), "cells: must be a list of cells, not an object"),
    "a-metadata-list": (_nb([]).replace('"metadata": {}', '"metadata": []'), "metadata: must be an object"),
    "a-no-metadata": (_nb([{"cell_type": "code", "source": ""}]), "cells/0: not a valid notebook"),
    "a-source-int": (_nb([CODE_CELL | {"source": 1}]), "cells/0/source: not a valid notebook"),
}


def test_a_notebook_whose_cells_nbformat_cannot_take_is_invalid_alone(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    """nbformat's validator wrote into cells before checking them: a TypeError ended validate and run,
    with no result for any submission of the batch."""
    from codeml_repro.results.store import ResultStore
    from codeml_repro.sphinx.posters.entries import read_entries

    for slug, (text, _) in MISSHAPEN_NOTEBOOKS.items():
        (make_submission(slug, "x = 1") / "artifact.ipynb").write_text(text)
    make_submission("z-neighbour", "from codeml_repro import record\nrecord('acc', 1)", spec=NEIGHBOUR_CLAIM)
    cli = [sys.executable, "-m", "codeml_repro.cli"]
    proc = subprocess.run([*cli, "validate", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "artifact.ipynb: " in ln]
    assert len(lines) == len(MISSHAPEN_NOTEBOOKS) and "1 valid, 7 invalid" in proc.stderr, proc.stderr
    for line, (slug, (_, expected)) in zip(lines, sorted(MISSHAPEN_NOTEBOOKS.items()), strict=True):
        assert f"{slug}/artifact.ipynb: {expected}" in line and len(line) < 300, line
    check = subprocess.run([*cli, "check", "--root", str(tmp_path), "a-cell-int", "--sandbox", "off",
                            "--env", "current"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 1 and "Traceback" not in check.stdout + check.stderr
    assert "a-cell-int/artifact.ipynb: cells/0: must be an object" in check.stdout + check.stderr
    proc = subprocess.run([*cli, "run", "--root", str(tmp_path), "--sandbox", "off", "--env", "current"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    store = ResultStore(tmp_path)
    neighbour = store.read("z-neighbour")
    assert neighbour is not None and neighbour.status is Status.REPRODUCED
    for slug, (_, expected) in MISSHAPEN_NOTEBOOKS.items():
        result = store.read(slug)
        assert result is not None and result.status is Status.INVALID and result.error is not None
        assert expected in result.error.message and "\n" not in result.error.message
    entries, _ = read_entries(tmp_path)
    shown = {e.slug: e.status for e in entries}
    assert shown == {**dict.fromkeys(MISSHAPEN_NOTEBOOKS, Status.INVALID), "z-neighbour": Status.REPRODUCED}


@pytest.mark.parametrize("slug", sorted(MISSHAPEN_NOTEBOOKS))
def test_the_runs_notebook_reader_refuses_them_in_one_line(tmp_path: Path, slug: str) -> None:
    from codeml_repro.model.notebookfile import read_notebook

    path = tmp_path / "artifact.ipynb"
    path.write_text(MISSHAPEN_NOTEBOOKS[slug][0])
    try:
        read_notebook(path)
    except SubmissionInvalid as exc:
        assert str(path) in exc.message and "\n" not in exc.message
    else:
        assert slug == "a-source-int"  # nbformat.reads takes it; check_notebook refuses it first


def test_a_folder_whose_name_is_not_a_slug_is_invalid_in_status_and_the_dashboard(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    """run said invalid but wrote no result (the name is no file name): status and the book showed
    such a folder as pending forever."""
    import json

    from codeml_repro.sphinx.posters.dashboard import counts_tables, left_out_count
    from codeml_repro.sphinx.posters.entries import read_entries

    long_name, odd_name = "a" * 249, "B_odd name"
    for name in (long_name, odd_name):
        make_submission(name, "x = 1")
    make_submission("z-neighbour", "from codeml_repro import record\nrecord('acc', 1)", spec=NEIGHBOUR_CLAIM)
    cli = [sys.executable, "-m", "codeml_repro.cli"]
    proc = subprocess.run([*cli, "run", "--root", str(tmp_path), "--sandbox", "off", "--env", "current"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    results = (tmp_path / "results").rglob("*")
    written = sorted(p.name for p in results if p.is_file() and ".locks" not in p.parts)
    assert written == ["z-neighbour.ipynb", "z-neighbour.json", "z-neighbour.jsonl"], written
    proc = subprocess.run([*cli, "status", "--json", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = {r["slug"]: r for r in json.loads(proc.stdout)}
    assert shown["z-neighbour"]["status"] == "reproduced"
    for name in (long_name, odd_name):
        assert shown[name]["status"] == "invalid", shown[name]
        assert "slug (the folder name) must be" in shown[name]["error"]["message"]
    table = subprocess.run([*cli, "status", "--root", str(tmp_path)], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert table.stdout.count("invalid") == 2 and "pending" not in table.stdout, table.stdout
    entries, problems = read_entries(tmp_path)
    assert [e.slug for e in entries] == ["z-neighbour"] and left_out_count(problems) == 2
    counts = counts_tables(entries, left_out_count(problems))[0].astext()
    assert re.search(r"invalid\s+2", counts) and re.search(r"reproduced\s+1", counts), counts
    assert "pending" not in counts

"""submission.yml past every bound: one line each from validate, run and the book; neighbours unharmed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.model.submission import load_spec
from codeml_repro.run.batch import run_all
from codeml_repro.run.plan import RunOptions

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

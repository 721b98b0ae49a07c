"""`codeml-repro edition close YEAR`, the "Past editions" part, and artifacts over time."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner, Result

from codeml_repro.cli import cli
from codeml_repro.model.editions import edition_of, past_editions, workshop_day
from codeml_repro.model.errors import InputError, SubmissionInvalid
from codeml_repro.model.result import RunRecord, Status
from codeml_repro.model.submission import discover
from codeml_repro.organizers.editions import toc_with_edition
from codeml_repro.results.survival import add_months, half_life, months_between, survival
from tests.conftest import make_notebook
from tests.test_listing import build_book, copy_book

REPO = Path(__file__).resolve().parents[1]
PAST = "tabular-baselines-2025"


def write_submission(root: Path, slug: str) -> None:
    folder = root / "submissions" / slug
    folder.mkdir(parents=True)
    spec = {"title": "Tabular Baselines, 2025", "authors": [{"name": "Ada Past"}],
            "claims": [{"name": "answer", "expected": 42}]}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    notebook = make_notebook("from codeml_repro import record", "record('answer', 42)")
    nbformat.write(notebook, folder / "artifact.ipynb")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def record(when: str, status: Status) -> RunRecord:
    return RunRecord(status=status, finished_at=when, duration_s=1.0)


def write_history(root: Path, slug: str, *records: RunRecord) -> None:
    path = root / "results" / "history" / f"{slug}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the book and the example submissions, plus one accepted paper of 2025."""
    root = tmp_path / "project"
    root.mkdir()
    copy_book(root)
    shutil.copytree(REPO / "submissions", root / "submissions")
    write_submission(root, PAST)
    dates = root / "book" / "_data" / "dates.yml"
    dates.write_text(dates.read_text(encoding="utf-8").replace(
        "  - id: workshop\n    label: Workshop Date\n    when: TBD",
        "  - id: workshop\n    label: Workshop Date\n    when: 2025-07-18"), encoding="utf-8")
    return root


def test_close_moves_the_edition_and_lists_it_under_past_editions(project: Path) -> None:
    examples = sorted(p.name for p in (REPO / "submissions").iterdir() if p.is_dir())
    result = invoke("edition", "close", "2025", "--root", str(project))
    assert result.exit_code == 0, result.output
    past = project / "editions" / "2025"
    assert [p.name for p in (past / "submissions").iterdir()] == [PAST]
    assert sorted(p.name for p in (project / "submissions").iterdir()) == examples  # examples stay
    for name in ("workshop", "schedule", "speakers", "dates"):
        assert (past / "_data" / f"{name}.yml").read_bytes() == (
            project / "book" / "_data" / f"{name}.yml").read_bytes()
    assert ":edition: 2025" in (past / "posters.md").read_text(encoding="utf-8")
    toc = yaml.safe_load((project / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["parts"][-1] == {
        "caption": "Past editions",
        "chapters": [{"file": "editions/2025/index", "sections": [
            {"file": "editions/2025/schedule"}, {"file": "editions/2025/speakers"},
            {"file": "editions/2025/posters"}]}],
    }
    assert (project / "_toc.yml").read_text(encoding="utf-8").startswith("# Table of contents")
    # Every edition is still run and keyed by its slug; the folder says which edition it is.
    folders = discover(project)
    assert [f.name for f in folders] == sorted([*examples, PAST])
    assert edition_of(past / "submissions" / PAST) == 2025
    assert edition_of(project / "submissions" / examples[0]) is None
    assert past_editions(project) == [2025]
    assert workshop_day(project, 2025) == dt.date(2025, 7, 18)

    again = invoke("edition", "close", "2025", "--root", str(project))
    assert again.exit_code == 2
    assert again.stderr.strip() == f"error: {past}: edition 2025 is already closed"


def test_a_slug_of_a_past_edition_cannot_be_reused(project: Path) -> None:
    assert invoke("edition", "close", "2025", "--root", str(project)).exit_code == 0
    write_submission(project, PAST)
    with pytest.raises(SubmissionInvalid, match=f"slug '{PAST}' is also"):
        discover(project)


def test_new_refuses_a_slug_of_a_past_edition(project: Path) -> None:
    assert invoke("edition", "close", "2025", "--root", str(project)).exit_code == 0
    result = invoke("new", PAST, "--root", str(project))
    assert result.exit_code == 2
    assert f"slug '{PAST}' is used by a past edition" in result.stderr
    assert not (project / "submissions" / PAST).exists()


def test_newer_editions_come_first_in_the_toc(tmp_path: Path) -> None:
    toc = tmp_path / "_toc.yml"
    text = toc_with_edition((REPO / "_toc.yml").read_text(encoding="utf-8"), toc, 2024)
    text = toc_with_edition(text, toc, 2025)
    chapters = yaml.safe_load(text)["parts"][-1]["chapters"]
    assert [c["file"] for c in chapters] == ["editions/2025/index", "editions/2024/index"]
    bare = "format: jb-book\nroot: book/index\nparts:\n  - caption: Past editions\n"
    assert yaml.safe_load(toc_with_edition(bare, toc, 2023))["parts"][0]["chapters"][0]["file"] == (
        "editions/2023/index")
    with pytest.raises(InputError, match=r"_toc\.yml: parts: expected a list"):
        toc_with_edition("format: jb-book\nroot: book/index\n", toc, 2023)


@pytest.mark.parametrize("year", ["25", "abc", "3025"])
def test_close_refuses_what_is_not_a_year(project: Path, year: str) -> None:
    result = invoke("edition", "close", year, "--root", str(project))
    assert result.exit_code == 2
    assert not (project / "editions").exists()


def test_survival_counts_only_what_reproduced_and_finds_the_half_life() -> None:
    workshop = dt.date(2025, 7, 18)
    ok = Status.REPRODUCED
    histories = [
        [record("2025-07-10T10:00:00Z", ok), record("2025-10-20T10:00:00Z", Status.FAILED)],
        [record("2025-07-11T10:00:00Z", ok), record("2025-12-01T10:00:00Z", ok)],
        [record("2025-07-12T10:00:00Z", ok), record("2025-11-19T00:00:00Z", Status.TIMEOUT)],
        [record("2025-07-12T10:00:00Z", Status.FUNCTIONAL)],  # never reproduced: not counted
    ]
    now = dt.datetime(2026, 1, 20, tzinfo=dt.timezone.utc)
    points = survival(histories, workshop, now)
    assert [(p.months, p.reproduced, p.ever) for p in points] == [
        (0, 3, 3), (1, 3, 3), (2, 3, 3), (3, 3, 3), (4, 2, 3), (5, 1, 3), (6, 1, 3)]
    assert half_life(points) == 5  # month 4 ends on Nov 18, a day before the timeout
    assert half_life(points[:5]) is None
    assert survival(histories, workshop, dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc)) == []


def test_month_arithmetic() -> None:
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)
    assert months_between(dt.date(2025, 7, 18), dt.date(2025, 8, 17)) == 0
    assert months_between(dt.date(2025, 7, 18), dt.date(2025, 8, 18)) == 1
    assert months_between(dt.date(2025, 7, 18), dt.date(2025, 7, 1)) == -1


def _text(page: Path) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")).split())


@pytest.mark.slow
def test_a_closed_edition_builds_with_its_posters_at_their_old_urls(project: Path, tmp_path: Path) -> None:
    write_history(project, PAST,
                  record("2025-07-10T08:00:00Z", Status.REPRODUCED),
                  record("2025-09-22T08:00:00Z", Status.REPRODUCED),
                  record("2025-12-22T08:00:00Z", Status.FAILED))
    before = build_book(project, tmp_path / "before")
    assert (before / "book" / "posters" / f"{PAST}.html").is_file()
    assert invoke("edition", "close", "2025", "--root", str(project)).exit_code == 0

    html = build_book(project, tmp_path / "after")  # -W: any warning fails the build
    page = html / "book" / "posters" / f"{PAST}.html"
    assert page.is_file()  # the same URL as before the close
    assert 'href="../../editions/2025/posters.html">All posters of 2025<' in page.read_text(encoding="utf-8")
    past_listing = (html / "editions" / "2025" / "posters.html").read_text(encoding="utf-8")
    assert f'href="../../book/posters/{PAST}.html"' in past_listing
    assert f"posters/{PAST}.html" not in (html / "book" / "posters.html").read_text(encoding="utf-8")
    home = (html / "book" / "index.html").read_text(encoding="utf-8")
    assert "Past editions" in home and 'href="../editions/2025/index.html"' in home
    for stem in ("index", "schedule", "speakers"):
        assert (html / "editions" / "2025" / f"{stem}.html").is_file()
    assert 'id="speaker-2025-' in (html / "editions" / "2025" / "speakers.html").read_text(encoding="utf-8")
    assert "July 18, 2025" in _text(html / "editions" / "2025" / "index.html")

    dashboard = (html / "book" / "dashboard.html").read_text(encoding="utf-8")
    assert "codeml-over-time" in dashboard
    assert "<title>2025, month 5: 0% (0/1)</title>" in dashboard  # from the recorded history
    row = _text(html / "book" / "dashboard.html")
    assert "2025 2025-07-18 1 100% (1/1) at month 0 0% (0/1) at month 5 5 months" in row


@pytest.mark.slow
def test_closing_keeps_results_history_and_skip_keys(project: Path) -> None:
    """A closed edition's artifact is still run, skipped while unchanged, its history continued."""
    def run(*extra: str) -> None:
        args = ["run", PAST, "--root", str(project), "--sandbox", "off", "--env", "current", *extra]
        result = invoke(*args)
        assert result.exit_code == 0, result.output

    history = project / "results" / "history" / f"{PAST}.jsonl"
    run()
    assert len(history.read_text(encoding="utf-8").splitlines()) == 1
    first = (project / "results" / f"{PAST}.json").read_bytes()
    assert invoke("edition", "close", "2025", "--root", str(project)).exit_code == 0

    run()  # unchanged inputs: the same skip key, nothing is run
    assert len(history.read_text(encoding="utf-8").splitlines()) == 1
    assert (project / "results" / f"{PAST}.json").read_bytes() == first
    status = invoke("status", "--json", "--root", str(project))
    assert {"slug": PAST, "status": "reproduced"}.items() <= next(
        r for r in json.loads(status.stdout) if r["slug"] == PAST).items()
    run("--force")  # the weekly bit-rot run
    assert len(history.read_text(encoding="utf-8").splitlines()) == 2

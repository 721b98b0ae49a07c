"""artifact.matrix: one run per version of a package served from a local wheel folder only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.matrix import cells, entry_specifier, matrix_problem, replace_pins
from codeml_repro.model.policy import IndexSettings, RunPolicy
from codeml_repro.model.result import Result, Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.env.environment import venv_for
from codeml_repro.run.matrix.versions import available_versions
from codeml_repro.run.plan.planning import RunOptions
from tests.conftest import MakeSubmission
from tests.wheels import TINY, build_versions, build_wheel

NOTEBOOK = (
    "import codeml_tiny_fixture as tiny\n"
    "from codeml_repro import record\n"
    "record('value', tiny.VALUE)\n"
)


def _policy() -> RunPolicy:
    """The policy the CLI makes from this environment (CODEML_FIND_LINKS, CODEML_OFFLINE)."""
    from codeml_repro.cli.options import environment_settings

    return RunPolicy(**environment_settings() | {"sandbox": "off", "cell_timeout_s": 60, "timeout_s": 120})


def test_entries_mean_pep440_specifiers() -> None:
    assert str(entry_specifier("1.5.2")) == "==1.5.2"
    assert str(entry_specifier("1.3.*")) == "==1.3.*"
    assert str(entry_specifier(">=1.3,<1.4")) == "<1.4,>=1.3"
    assert entry_specifier("latest") is None
    with pytest.raises(ValueError, match="not a version"):
        entry_specifier("one point five")
    assert cells({"a": ["1", "2"], "b": ["3"]}) == [{"a": "1", "b": "3"}, {"a": "2", "b": "3"}]


def test_a_cell_replaces_only_its_package_pin_keeping_extras_and_markers() -> None:
    text = "numpy==1.26  # pinned\nscikit-learn[plot]>=1.3 ; python_version>'3'\nScipy\n"
    out = replace_pins(text, {"scikit_learn": "==1.5.2", "numpy": "==2.0.1"})
    assert out.splitlines() == ["numpy==2.0.1", "scikit-learn[plot]==1.5.2; python_version>'3'", "Scipy"]


def test_matrix_problems_are_one_line() -> None:
    matrix = {"numpy": ["1.26.*", "2.0.1", "latest"]}
    assert matrix_problem(matrix, "numpy==1.26.4\n", 8) is None
    assert "not in requirements.txt" in str(matrix_problem(matrix, "scipy\n", 8))
    assert "more than the limit of 2" in str(matrix_problem(matrix, "numpy\n", 2))


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two versions of a tiny package, reachable through CODEML_FIND_LINKS alone, offline."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kernel.txt").write_text("# only the kernel\n")
    try:
        venv_for(cache / "kernel.txt", offline=True, root=cache)
    except EnvironmentFailed as exc:
        pytest.skip(f"no ipykernel wheels in uv's cache for an offline build: {exc}")
    folder = build_versions(tmp_path / "wheels", {"1.0": "VALUE = 1.0\n", "2.0": "VALUE = 2.0\n"})
    monkeypatch.setenv("CODEML_FIND_LINKS", str(folder))
    monkeypatch.setenv("CODEML_OFFLINE", "1")
    monkeypatch.setenv("CODEML_CACHE", str(cache))
    return folder


def _matrix_submission(make_submission: MakeSubmission, entries: list[str], slug: str = "tiny") -> Path:
    spec: dict[str, Any] = {
        "artifact": {"matrix": {TINY: entries}},
        "claims": [{"name": "value", "expected": 1.0, "abs_tol": 0.01}],
    }
    folder = make_submission(slug, NOTEBOOK, spec=spec)
    (folder / "requirements.txt").write_text(f"{TINY}==1.0\n")
    return folder


def _edit_matrix(folder: Path, matrix: dict[str, list[str]]) -> None:
    data = yaml.safe_load((folder / "submission.yml").read_text())
    data["artifact"]["matrix"] = matrix
    (folder / "submission.yml").write_text(yaml.safe_dump(data))


def test_the_index_lists_versions_from_the_wheel_folder(wheels: Path) -> None:
    found = available_versions(TINY, IndexSettings(find_links=str(wheels)), offline=True)
    assert [str(v) for v in found or []] == ["1.0", "2.0"]
    assert available_versions("no-such-thing", IndexSettings(find_links=str(wheels)), offline=True) == []


def test_a_claim_holds_on_one_version_and_not_the_other(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path
) -> None:
    _matrix_submission(make_submission, ["1.0", "latest"])
    report = run_all(tmp_path, _policy(), RunOptions(jobs=2))
    (result,) = report.results
    assert result.status == Status.NOT_REPRODUCED
    by_version = {c.versions[TINY]: c for c in result.matrix}
    assert by_version["1.0"].status == Status.REPRODUCED and by_version["1.0"].requested == {TINY: "1.0"}
    latest = by_version["2.0"]  # 'latest' recorded as the exact version it was
    assert latest.requested == {TINY: "latest"} and latest.status == Status.NOT_REPRODUCED
    assert latest.claims[0].observed == 2.0 and latest.lock[TINY] == "2.0"
    assert (tmp_path / "results" / "notebooks" / "tiny.ipynb").is_file()

    from codeml_repro.cli import cli

    out = CliRunner().invoke(cli, ["status", "--json", "--root", str(tmp_path)]).output
    (row,) = json.loads(out)
    assert row["status"] == "not_reproduced" and row["claims"][0]["observed"] == 2.0
    assert [(c["versions"], c["status"]) for c in row["matrix"]] == [
        ({TINY: "1.0"}, "reproduced"), ({TINY: "2.0"}, "not_reproduced"),
    ]
    assert all(c["duration_s"] > 0 and c["claims"] for c in row["matrix"])

    again = run_all(tmp_path, _policy(), RunOptions(jobs=1))
    assert again.skipped == ["tiny"]
    _check_book_views(tmp_path, result)


def _check_book_views(root: Path, result: Result) -> None:
    """The page's versions x claims table, the listing's summary and the dashboard's counts."""
    from codeml_repro.model.submission import load_submission
    from codeml_repro.sphinx.posters.dashboard import counts_tables
    from codeml_repro.sphinx.posters.entries import Entry
    from codeml_repro.sphinx.posters.listing import matrix_nodes
    from codeml_repro.sphinx.posters.versions import versions_html

    spec = load_submission(root / "submissions" / "tiny").spec
    entry = Entry("tiny", spec, result.status, result)
    html = str(versions_html(entry))
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)[1:]
    assert len(rows) == 2 and "Reproduced on 1 of 2 versions." in html
    assert f"<code>{TINY} 1.0</code>" in rows[0] and "1.0 <span class=\"codeml-claim-pass\">pass" in rows[0]
    assert f"<code>{TINY} 2.0</code> (latest)" in rows[1]
    assert "2.0 <span class=\"codeml-claim-fail\">fail" in rows[1]
    assert "codeml-first-failing" in rows[1] and "codeml-first-failing" not in rows[0]
    card = "".join(n.astext() for n in matrix_nodes(entry))
    assert "reproduced on 1 of 2 versions" in card
    holding = Entry("ok", spec, Status.REPRODUCED, result.model_copy(update={"matrix": result.matrix[:1]}))
    plain = Entry("plain", spec, Status.REPRODUCED, result.model_copy(update={"matrix": []}))
    tables = counts_tables([entry, holding, plain])
    assert len(tables) == 3
    text = tables[2].astext()
    assert re.search(r"On every version\s+1", text) and re.search(r"On some versions\s+1", text)
    assert re.search(r"On no version\s+0", text)
    assert versions_html(plain) is None


def test_cells_recorded_before_are_not_run_again(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path
) -> None:
    folder = _matrix_submission(make_submission, ["1.0"])
    first = run_all(tmp_path, _policy(), RunOptions()).results[0]
    assert first.status == Status.REPRODUCED and len(first.matrix) == 1
    _edit_matrix(folder, {TINY: ["1.0", "2.0"]})
    second = run_all(tmp_path, _policy(), RunOptions()).results[0]
    assert [c.versions[TINY] for c in second.matrix] == ["1.0", "2.0"]
    assert second.matrix[0].finished_at == first.matrix[0].finished_at  # reused, not re-run
    assert second.matrix[0].key == first.matrix[0].key



def test_a_new_release_reruns_only_the_latest_cell_of_an_unchanged_submission(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    _matrix_submission(make_submission, ["1.0", "latest"])
    first = run_all(tmp_path, _policy(), RunOptions()).results[0]
    assert [c.versions[TINY] for c in first.matrix] == ["1.0", "2.0"]
    assert first.status == Status.NOT_REPRODUCED
    same = run_all(tmp_path, _policy(), RunOptions())
    assert same.skipped == ["tiny"] and not same.problems  # latest asked again: still 2.0

    build_wheel(wheels, "3.0", "VALUE = 1.0\n")  # a release on which the claim holds again
    shutil.rmtree(tmp_path / "results" / "cells")  # as in CI, where only results/tiny.json is carried
    report = run_all(tmp_path, _policy(), RunOptions())
    assert report.skipped == []
    (second,) = report.results
    assert [c.versions[TINY] for c in second.matrix] == ["1.0", "3.0"]
    assert second.matrix[0].finished_at == first.matrix[0].finished_at  # the pinned cell did not run
    assert second.matrix[1].finished_at != first.matrix[1].finished_at
    assert second.status == Status.REPRODUCED and second.matrix[1].requested == {TINY: "latest"}

    monkeypatch.delenv("CODEML_FIND_LINKS")  # offline, nothing to ask: the result stands, the log says so
    build_wheel(wheels, "4.0", "VALUE = 4.0\n")
    kept = run_all(tmp_path, _policy(), RunOptions())
    assert kept.skipped == ["tiny"] and kept.results[0] == second
    (problem,) = kept.problems
    assert problem.startswith("tiny: kept the previous result: could not ask the package sources")
    assert TINY in problem

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CODEML_FIND_LINKS", str(empty))  # the sources answer, without the package
    gone = run_all(tmp_path, _policy(), RunOptions())
    assert gone.skipped == ["tiny"] and gone.results[0] == second
    (problem,) = gone.problems
    assert problem.startswith("tiny: kept the previous result: submissions/tiny/submission.yml: ")
    assert f"no release of {TINY}" in problem


def test_an_unbuildable_cell_fails_alone(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path
) -> None:
    wheel = build_wheel(wheels, "3.0", "VALUE = 3.0\n")  # then given a dependency nobody has
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    meta = next(n for n in files if n.endswith("METADATA"))
    files[meta] += b"Requires-Dist: codeml-no-such-dependency-xyz\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    _matrix_submission(make_submission, ["1.0", "3.0"])
    (result,) = run_all(tmp_path, _policy(), RunOptions()).results
    good, bad = result.matrix
    assert good.status == Status.REPRODUCED
    assert bad.status == Status.FAILED and bad.error is not None and bad.error.type == "EnvironmentFailed"
    assert result.status == Status.NOT_REPRODUCED
    assert result.error is not None and result.error.message.startswith(f"{TINY} 3.0: ")


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (["9.*"], f"artifact.matrix.{TINY}: no release matches '9.*' (available: 1.0, 2.0)"),
        (["1.0", "2.0", "1.*"], "artifact.matrix: 3 cells (the product of the version lists) is more than"),
    ],
)
def test_bad_entries_are_invalid_with_one_line(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path, entries: list[str], problem: str
) -> None:
    _matrix_submission(make_submission, entries)
    policy = _policy().model_copy(update={"max_matrix_cells": 2})
    (result,) = run_all(tmp_path, policy, RunOptions()).results
    assert result.status == Status.INVALID and result.error is not None
    assert problem in result.error.message and "\n" not in result.error.message


def test_an_unknown_package_is_invalid(wheels: Path, make_submission: MakeSubmission, tmp_path: Path) -> None:
    folder = _matrix_submission(make_submission, ["1.0"])
    (folder / "requirements.txt").write_text(f"{TINY}==1.0\ncodeml-unknown-xyz\n")
    _edit_matrix(folder, {TINY: ["1.0"], "codeml-unknown-xyz": ["1"]})
    (result,) = run_all(tmp_path, _policy(), RunOptions()).results
    assert result.status == Status.INVALID and result.error is not None
    assert "codeml-unknown-xyz: no release of codeml-unknown-xyz" in result.error.message


@pytest.mark.slow
def test_the_built_book_shows_versions_by_claims(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path
) -> None:
    from tests.test_listing import build_book, copy_book

    _matrix_submission(make_submission, ["1.0", "latest"])
    assert run_all(tmp_path, _policy(), RunOptions()).results[0].status == Status.NOT_REPRODUCED
    copy_book(tmp_path)
    html = build_book(tmp_path)
    page = (html / "book" / "posters" / "tiny.html").read_text(encoding="utf-8")
    section = page.split('<section id="versions">', 1)[1].split("</section>", 1)[0]
    assert "Reproduced on 1 of 2 versions." in section
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]
    assert [TINY + " 1.0" in rows[0], TINY + " 2.0" in rows[1]] == [True, True]
    assert "codeml-first-failing" in rows[1] and "codeml-claim-fail" in rows[1]
    listing = (html / "book" / "posters.html").read_text(encoding="utf-8")
    assert "reproduced on 1 of 2 versions" in listing
    dashboard = (html / "book" / "dashboard.html").read_text(encoding="utf-8")
    counts = dashboard.split("codeml-matrix-counts", 1)[1].split("</table>", 1)[0]
    assert re.search(r"On some versions</p>\s*</td>\s*<td><p>1</p>", counts), counts


def test_check_runs_every_cell_and_records_nothing(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path
) -> None:
    from codeml_repro.cli import cli

    folder = _matrix_submission(make_submission, ["1.0", "2.0"])
    out = CliRunner().invoke(cli, ["check", str(folder), "--sandbox", "off"])
    assert out.exit_code == 1, out.output
    assert "versions: 2 cell(s) of artifact.matrix" in out.stdout
    assert f"  {TINY} 1.0: reproduced (value=1.0)" in out.stdout
    assert f"  {TINY} 2.0: not_reproduced (value=2.0)" in out.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("matrix", "problem"),
    [
        ({TINY: ["one.two"]}, f"artifact.matrix: {TINY}: 'one.two' is not a version, a PEP 440 specifier"),
        ({TINY: [1.1]}, f"artifact.matrix: {TINY}: write 1.1 in quotes"),
        ({"scipy": ["1.0"]}, "artifact.matrix: scipy is not in requirements.txt"),
    ],
)
def test_validate_names_the_file_and_field_of_a_bad_matrix(
    make_submission: MakeSubmission, tmp_path: Path, matrix: dict[str, list[Any]], problem: str
) -> None:
    from codeml_repro.cli import cli

    folder = _matrix_submission(make_submission, ["1.0"])
    _edit_matrix(folder, matrix)
    out = CliRunner().invoke(cli, ["validate", "--root", str(tmp_path)])
    assert out.exit_code == 1
    (line,) = [ln for ln in out.stderr.splitlines() if "artifact.matrix" in ln]
    assert line.startswith("submissions/tiny/submission.yml: ") and problem in line, line


def test_releases_this_python_cannot_install_or_yanked_are_not_offered(tmp_path: Path) -> None:
    from codeml_repro.run.matrix.versions import best_match

    module = TINY.replace("-", "_")
    page = "".join(
        f'<a href="../files/{module}-{version}-py3-none-any.whl#sha256=00"{extra}>x</a>\n'
        for version, extra in [
            ("1.0", ""),
            ("2.0", ' data-requires-python="&gt;=3.8"'),
            ("2.5", " data-yanked"),
            ("3.0", ' data-requires-python="&gt;=99"'),
        ]
    )
    (tmp_path / "simple").mkdir()
    (tmp_path / "simple" / "index.html").write_text(f"<html><body>{page}</body></html>")
    found = available_versions(TINY, IndexSettings(find_links=str(tmp_path / "simple")), offline=True)
    assert [str(v) for v in found or []] == ["1.0", "2.0"]
    assert str(best_match(found or [], None)) == "2.0"


def test_a_tool_failure_in_one_cell_is_that_cells_result_only(
    make_submission: MakeSubmission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codeml_repro.run.batch.pool as pool

    wheels = build_versions(tmp_path / "wheels", {"1.0": "VALUE = 1.0\n", "2.0": "VALUE = 2.0\n"})
    monkeypatch.setenv("CODEML_FIND_LINKS", str(wheels))
    monkeypatch.setenv("CODEML_OFFLINE", "1")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug in the runner")

    monkeypatch.setattr(pool, "run_planned", broken)
    _matrix_submission(make_submission, ["1.0", "2.0"])
    (result,) = run_all(tmp_path, _policy(), RunOptions(jobs=1)).results
    assert [c.status for c in result.matrix] == [Status.FAILED, Status.FAILED]
    assert {c.error.type for c in result.matrix if c.error} == {"RunnerFailed"}
    assert sorted(p.name for p in (tmp_path / "results").glob("*.json")) == ["tiny.json"]

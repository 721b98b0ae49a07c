"""Each matrix cell is a unit of the shard plan: cells of one submission on two shards, merged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from codeml_repro.model.result import Result, Status
from codeml_repro.results.merge import merge_results
from codeml_repro.results.parts import part_path
from codeml_repro.results.store import ResultStore
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from codeml_repro.run.plan.shards import assignment_of_dirs, shard_shares, shard_units
from tests.conftest import MakeSubmission
from tests.test_matrix import _matrix_submission, _policy, wheels  # noqa: F401  (a fixture)
from tests.wheels import TINY, build_wheel

ENTRIES = ["1.0", "1.5", "2.0", "latest"]  # latest is 3.0: two cells hold, two do not


def _cells(result: Result) -> list[tuple[object, ...]]:
    return [(c.requested, c.versions, c.status, c.claims) for c in result.matrix]


def _roots(tmp_path: Path, names: list[str]) -> list[Path]:
    roots = []
    for name in names:
        shutil.copytree(tmp_path / "submissions", tmp_path / name / "submissions")
        roots.append(tmp_path / name)
    return roots


def test_the_planner_spreads_a_four_cell_matrix_over_two_shards(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path  # noqa: F811
) -> None:
    folder = _matrix_submission(make_submission, ENTRIES)
    plain = make_submission("plain", "x = 1\n")
    assert shard_units([folder, plain]) == {"tiny": [f"tiny@{i}" for i in range(4)], "plain": ["plain"]}
    first, second = shard_shares([folder], 2, ResultStore(tmp_path))
    assert first.cells["tiny"] | second.cells["tiny"] == {0, 1, 2, 3}
    assert len(first.cells["tiny"]) == len(second.cells["tiny"]) == 2
    assert [first.records("tiny"), second.records("tiny")].count(True) == 1  # the shard of cell 0
    (alone,) = shard_shares([folder], 1, ResultStore(tmp_path))
    assert alone.whole == {"tiny"} and not alone.cells  # every cell on one shard: a whole submission


def test_a_matrix_run_on_two_shards_merges_into_the_single_runs_result(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path  # noqa: F811
) -> None:
    build_wheel(wheels, "1.5", "VALUE = 1.0\n")
    build_wheel(wheels, "3.0", "VALUE = 3.0\n")
    _matrix_submission(make_submission, ENTRIES)
    full, shard0, shard1, merged = _roots(tmp_path, ["full", "shard-0", "shard-1", "merged"])

    (single,) = run_all(full, _policy(), RunOptions(jobs=2)).results
    assert [c.status for c in single.matrix] == [Status.REPRODUCED] * 2 + [Status.NOT_REPRODUCED] * 2
    for index, root in enumerate([shard0, shard1]):
        run_all(root, _policy(), RunOptions(jobs=2, shard=(index, 2)))
        assert not (root / "results" / "tiny.json").exists()  # a part only: the merge makes the result
        part = Result.model_validate_json(part_path(root / "results", "tiny").read_bytes())
        assert len(part.matrix) == 2

    report = merge_results([shard0, shard1], merged, assignment_of_dirs(merged, 2, [shard0, shard1]))
    assert report.updated == ("tiny",) and not report.warnings
    result = ResultStore(merged).read("tiny")
    assert result is not None
    assert (result.status, result.claims, _cells(result)) == (single.status, single.claims, _cells(single))
    assert result.status == Status.NOT_REPRODUCED and result.badges == single.badges
    assert result.notebook == "notebooks/tiny.ipynb" and (merged / "results" / result.notebook).is_file()
    assert len(ResultStore(merged).history("tiny")) == 1


def test_merge_refuses_a_cell_or_a_result_the_shard_was_not_given(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path  # noqa: F811
) -> None:
    _matrix_submission(make_submission, ["1.0", "2.0"])
    shard0, shard1, merged = _roots(tmp_path, ["shard-0", "shard-1", "merged"])
    for index, root in enumerate([shard0, shard1]):
        run_all(root, _policy(), RunOptions(shard=(index, 2)))
    shares = assignment_of_dirs(merged, 2, [shard0, shard1])
    owner, other = (shard0, shard1) if shares[shard0].records("tiny") else (shard1, shard0)
    theirs = Result.model_validate_json(part_path(owner / "results", "tiny").read_bytes())
    forged_cell = theirs.matrix[0].model_copy(update={"status": Status.FAILED})
    mine = Result.model_validate_json(part_path(other / "results", "tiny").read_bytes())
    forged = mine.model_copy(update={"matrix": [*mine.matrix, forged_cell]})
    part_path(other / "results", "tiny").write_text(json.dumps(forged.to_json()))
    whole = forged.model_copy(update={"status": Status.REPRODUCED, "matrix": []})
    (other / "results" / "tiny.json").write_text(json.dumps(whole.to_json()))

    report = merge_results([shard0, shard1], merged, shares)
    refused = f"{other / 'results' / 'tiny.json'}: refused: tiny was not assigned to this shard"
    assert refused in report.warnings
    assert any(f"refused: cell {TINY} 1.0 of tiny was not assigned to it" in w for w in report.warnings)
    result = ResultStore(merged).read("tiny")
    assert result is not None and result.status == Status.NOT_REPRODUCED
    assert [c.status for c in result.matrix] == [Status.REPRODUCED, Status.NOT_REPRODUCED]

    shutil.rmtree(other / "results")  # a shard that failed: no part, so no result from half the cells
    (other / "results" / "history").mkdir(parents=True)
    (other / "results" / "history" / "tiny.jsonl").write_text("")
    before = (merged / "results" / "tiny.json").read_bytes()
    again = merge_results([shard0, shard1], merged, shares)
    assert any(f"tiny: no shard ran {TINY} 2.0" in w and "result is kept" in w for w in again.warnings)
    assert (merged / "results" / "tiny.json").read_bytes() == before

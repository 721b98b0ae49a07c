"""Sharding: select_shard/parse_shard, and shards + merge == one full run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from codeml_repro.model.errors import ReproError, ShardError
from codeml_repro.run.plan.shards import assign_shards, parse_shard, plan_shards, select_shard, shard_count

SLUGS = [f"paper-{n:02d}" for n in range(10)]


# --------------------------------------------------------------------------- parse_shard


@pytest.mark.parametrize(
    ("text", "expected"), [("0/3", (0, 3)), ("2/3", (2, 3)), (" 1 / 2 ", (1, 2)), ("0/1", (0, 1))]
)
def test_parse_shard_accepts_zero_based_i_of_n(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("3/3", "0/3 to 2/3"),
        ("a/b", "expected I/N"),
        ("1/0", "at least 1"),
        ("-1/3", "expected I/N"),
        ("1", "expected I/N"),
        ("", "expected I/N"),
        ("1/3/4", "expected I/N"),
    ],
)
def test_parse_shard_rejects_bad_input_in_one_line(text: str, hint: str) -> None:
    with pytest.raises(ShardError) as info:
        parse_shard(text)
    message = str(info.value)
    assert isinstance(info.value, ReproError)
    assert repr(text) in message and hint in message and "\n" not in message


def test_cli_run_reports_a_bad_shard_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codeml_repro.cli import cli

    (tmp_path / "submissions").mkdir()
    result = CliRunner().invoke(cli, ["run", "--root", str(tmp_path), "--shard", "3/3", "--sandbox", "off"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --shard '3/3': the index must be below the count (0 <= I < N); shards of 3 are 0/3 to 2/3"
    ]


# --------------------------------------------------------------------------- select_shard


@pytest.mark.parametrize("count", [1, 2, 3, 4, 10, 13])
def test_every_slug_is_in_exactly_one_shard(count: int) -> None:
    durations = {s: float(i + 1) for i, s in enumerate(SLUGS[:6])}  # some known, some not
    shards = [select_shard(SLUGS, i, count, durations) for i in range(count)]
    flat = [s for shard in shards for s in shard]
    assert sorted(flat) == sorted(SLUGS)
    assert len(flat) == len(set(flat))
    assert all(shard == sorted(shard) for shard in shards)


def test_selection_is_deterministic_whatever_the_input_order() -> None:
    durations = {"paper-03": 40.0, "paper-07": 5.0}
    forward = [select_shard(SLUGS, i, 3, durations) for i in range(3)]
    backward = [
        select_shard(list(reversed(SLUGS)) + SLUGS[:2], i, 3, dict(reversed(durations.items())))
        for i in range(3)
    ]
    assert forward == backward


def test_without_durations_shards_differ_by_at_most_one_slug() -> None:
    sizes = [len(select_shard(SLUGS, i, 3, {})) for i in range(3)]
    assert sorted(sizes) == [3, 3, 4]


def test_a_long_submission_gets_a_shard_of_its_own() -> None:
    durations = {s: 1.0 for s in SLUGS}
    durations["paper-05"] = 100.0
    shards = assign_shards(SLUGS, 2, durations)
    assert ["paper-05"] in shards
    assert sorted(len(s) for s in shards) == [1, 9]


def test_shards_are_balanced_by_duration() -> None:
    durations = {"a": 50.0, "b": 40.0, "c": 30.0, "d": 20.0, "e": 20.0, "f": 10.0, "g": 10.0, "h": 10.0}
    shards = assign_shards(list(durations), 3, durations)
    loads = [sum(durations[s] for s in shard) for shard in shards]
    assert max(loads) - min(loads) <= 10.0
    # Naive round-robin over sorted names would put a, d and g together (80 s).
    assert max(loads) <= 70.0


def test_unknown_durations_weigh_the_median_of_known_ones() -> None:
    durations = {"old-1": 10.0, "old-2": 10.0, "old-3": 10.0, "old-4": 10.0}
    slugs = [*durations, "new-1", "new-2"]
    shards = assign_shards(slugs, 2, durations)
    assert sorted(len(s) for s in shards) == [3, 3]
    assert {sum(s.startswith("new") for s in shard) for shard in shards} == {1}


def test_more_shards_than_slugs_leaves_some_empty() -> None:
    shards = [select_shard(["a", "b"], i, 4, {}) for i in range(4)]
    assert shards == [["a"], ["b"], [], []]


def test_select_shard_rejects_an_index_out_of_range() -> None:
    with pytest.raises(ShardError):
        select_shard(SLUGS, 3, 3, {})
    with pytest.raises(ShardError):
        assign_shards(SLUGS, 0, {})


# --------------------------------------------------------------------------- shards + merge == full run


def _tiny_submission(folder: Path, value: int, code: str = "answer = {value}") -> None:
    """A submission whose notebook runs ``code`` and records ``answer``; it claims ``value``."""
    folder.mkdir(parents=True)
    spec = {
        "title": f"Tiny {folder.name}",
        "authors": [{"name": "X"}],
        "artifact": {"notebook": "artifact.ipynb"},
        "claims": [{"name": "answer", "expected": value}],
    }
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    nb = new_notebook(cells=[new_code_cell(
        "from codeml_repro import record\n" + code.format(value=value) + "\nrecord('answer', answer)"
    )])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "artifact.ipynb")


# One submission per status a shard can bring to the merge: what the merge must carry is the
# result, not the notebook's work (the examples' own runs are tests/test_pipeline.py's; a matrix
# split over shards is tests/test_matrix_shards.py's).
TINY = {
    "tiny-reproduced": "answer = {value}",
    "tiny-not-reproduced": "answer = {value} + 1",
    "tiny-failed": "raise ValueError('no answer')",
    "tiny-reproduced-too": "answer = {value}",
}


def _submissions_into(dest: Path) -> None:
    """Submissions of each status, one a shard of three gets with another."""
    for n, (slug, code) in enumerate(TINY.items()):
        _tiny_submission(dest / "submissions" / slug, n, code)


def _cli(*args: str | Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "from codeml_repro.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"codeml-repro {' '.join(map(str, args))}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _comparable(status_json: str) -> list[dict[str, Any]]:
    keep = ("slug", "status", "badges", "claims", "error", "flaky")
    rows = json.loads(status_json)
    for row in rows:
        if row.get("error"):
            row["error"] = {k: row["error"].get(k) for k in ("type", "cell")}
    return [{k: row.get(k) for k in keep} for row in rows]


@pytest.mark.slow
def test_three_shards_merged_equal_one_full_run(tmp_path: Path) -> None:
    template = tmp_path / "template"
    _submissions_into(template)
    slugs = sorted(p.parent.name for p in template.glob("submissions/*/submission.yml"))
    run_args = ("--sandbox", "off", "--env", "current", "--jobs", "1")

    full = tmp_path / "full"
    shutil.copytree(template, full)
    _cli("run", "--root", full, *run_args)

    shard_roots = []
    for index in range(3):
        root = tmp_path / f"shard-{index}"
        shutil.copytree(template, root)
        _cli("run", "--root", root, "--shard", f"{index}/3", *run_args)
        shard_roots.append(root)

    ran = [sorted(p.stem for p in (r / "results").glob("*.json")) for r in shard_roots]
    assert sorted(s for shard in ran for s in shard) == slugs, "each ran in exactly one shard"
    assert sum(bool(shard) for shard in ran) >= 2, ran  # the merge has more than one shard to join

    merged = tmp_path / "merged"
    shutil.copytree(template, merged)
    _cli("merge", *shard_roots, "--root", merged)

    full_status = _comparable(_cli("status", "--json", "--root", full))
    merged_status = _comparable(_cli("status", "--json", "--root", merged))
    assert [row["slug"] for row in merged_status] == slugs
    assert merged_status == full_status
    assert {row["status"] for row in merged_status} == {"reproduced", "not_reproduced", "failed"}
    for slug in slugs:
        notebook = Path("results", "notebooks", f"{slug}.ipynb")
        # the merge carries every notebook the full run has
        assert (merged / notebook).is_file() == (full / notebook).is_file()
        history = (merged / "results" / "history" / f"{slug}.jsonl").read_text().splitlines()
        assert len(history) == 1
    assert len(list((merged / "results" / "notebooks").glob("*.ipynb"))) == len(slugs)


# --------------------------------------------------------------------------- planner and the plan command


def test_refinement_beats_longest_first_on_its_classic_bad_case() -> None:
    # LPT puts 3+2+2 against 3+2 (7 s); the best split is 3+3 against 2+2+2 (6 s).
    durations = {"a": 3.0, "b": 3.0, "c": 2.0, "d": 2.0, "e": 2.0}
    plan = plan_shards(list(durations), durations, count=2)
    assert sorted(plan.predicted_s) == [6.0, 6.0]
    assert plan.makespan_s == plan.lower_bound_s == 6.0
    assert sorted(map(sorted, plan.shards)) == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize(
    ("total_s", "n_slugs", "target_s", "max_shards", "expected"),
    [
        (3600.0, 100, 1200.0, 32, 3),
        (3601.0, 100, 1200.0, 32, 4),
        (100 * 3600.0, 500, 1200.0, 32, 32),
        (3600.0, 2, 60.0, 32, 2),
        (0.0, 0, 1200.0, 32, 1),
        (10.0, 5, 1200.0, 32, 1),
    ],
)
def test_shard_count_follows_the_target_within_the_caps(
    total_s: float, n_slugs: int, target_s: float, max_shards: int, expected: int
) -> None:
    assert shard_count(total_s, n_slugs, target_s, max_shards) == expected


def test_plan_takes_as_many_shards_as_the_target_needs() -> None:
    durations = {f"p-{i:03d}": 300.0 for i in range(40)}  # 200 min in all
    plan = plan_shards(list(durations), durations, target_s=20 * 60, max_shards=32)
    assert len(plan.shards) == 10
    assert plan.predicted_s == [1200.0] * 10
    capped = plan_shards(list(durations), durations, target_s=20 * 60, max_shards=4)
    assert len(capped.shards) == 4 and capped.lower_bound_s == 3000.0


def test_lower_bound_is_the_longest_submission_when_it_dominates() -> None:
    durations = {"huge": 5000.0, "a": 10.0, "b": 10.0}
    plan = plan_shards(list(durations), durations, count=2)
    assert plan.lower_bound_s == plan.longest_s == 5000.0
    assert plan.to_json() == [
        {"shard": 0, "slugs": ["huge"], "predicted_s": 5000.0},
        {"shard": 1, "slugs": ["a", "b"], "predicted_s": 20.0},
    ]


def _root_with_durations(tmp_path: Path, durations: dict[str, float], new: list[str]) -> Path:
    from codeml_repro.model.result import Result, Status
    from codeml_repro.results.store import ResultStore

    for slug in [*durations, *new]:
        _tiny_submission(tmp_path / "submissions" / slug, 1)
    store = ResultStore(tmp_path)
    for slug, seconds in durations.items():
        store.write(Result(slug=slug, status=Status.FUNCTIONAL, duration_s=seconds))
    return tmp_path


def test_plan_json_assigns_what_run_shard_runs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codeml_repro.cli import cli
    from codeml_repro.results.store import ResultStore
    from codeml_repro.run.plan.planning import RunOptions, select

    durations = {f"old-{i}": float(10 * (i + 1)) for i in range(7)}
    root = _root_with_durations(tmp_path, durations, new=["new-a", "new-b"])
    result = CliRunner().invoke(cli, ["plan", "--root", str(root), "--shards", "3", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["shard"] for row in rows] == [0, 1, 2]
    assert sorted(s for row in rows for s in row["slugs"]) == sorted([*durations, "new-a", "new-b"])
    median = 40.0
    for row in rows:
        assert row["predicted_s"] == sum(durations.get(s, median) for s in row["slugs"])
        chosen = select(root, RunOptions(shard=(row["shard"], 3)), ResultStore(root))
        assert [f.name for f in chosen] == row["slugs"]
    assert "lower bound 2.0 min" in result.stderr  # (280 + 2 x 40) s / 3 = 120 s


def test_plan_reads_the_target_and_the_cap_from_the_environment(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codeml_repro.cli import cli

    root = _root_with_durations(tmp_path, {f"p-{i}": 600.0 for i in range(12)}, new=[])
    runner = CliRunner()
    by_env = runner.invoke(cli, ["plan", "--root", str(root), "--json"], env={"CODEML_SHARD_MINUTES": "30"})
    assert len(json.loads(by_env.stdout)) == 4  # 120 min / 30
    capped = runner.invoke(cli, ["plan", "--root", str(root), "--json"],
                           env={"CODEML_SHARD_MINUTES": "10", "MAX_SHARDS": "5"})
    assert len(json.loads(capped.stdout)) == 5
    table = runner.invoke(cli, ["plan", "--root", str(root), "--target-minutes", "60"])
    assert table.exit_code == 0
    assert table.stdout.splitlines()[:2] == [
        "shard 0/2: 6 submissions, predicted 60.0 min",
        "shard 1/2: 6 submissions, predicted 60.0 min",
    ]
    bad = runner.invoke(cli, ["plan", "--root", str(root)], env={"MAX_SHARDS": "0"})
    assert bad.exit_code == 2 and "--max-shards" in bad.output

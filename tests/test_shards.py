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
from codeml_repro.run.shards import assign_shards, parse_shard, select_shard

REPO = Path(__file__).resolve().parents[1]
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


def _tiny_submission(folder: Path, value: int) -> None:
    folder.mkdir(parents=True)
    spec = {
        "title": f"Tiny {folder.name}",
        "authors": [{"name": "X"}],
        "artifact": {"notebook": "artifact.ipynb"},
        "claims": [{"name": "answer", "expected": value}],
    }
    (folder / "submission.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    nb = new_notebook(
        cells=[new_code_cell(f"from codeml_repro import record\nanswer = {value}\nrecord('answer', answer)")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "artifact.ipynb")


def _submissions_into(dest: Path) -> None:
    """The repository's example submissions, or three tiny ones if there are none."""
    examples = REPO / "submissions"
    if any(examples.glob("*/submission.yml")):
        shutil.copytree(examples, dest / "submissions")
        return
    for n, slug in enumerate(["tiny-one", "tiny-two", "tiny-three"]):
        _tiny_submission(dest / "submissions" / slug, n)


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
    assert sorted(s for shard in ran for s in shard) == slugs, "each submission ran in exactly one shard"

    merged = tmp_path / "merged"
    shutil.copytree(template, merged)
    _cli("merge", *shard_roots, "--root", merged)

    full_status = _comparable(_cli("status", "--json", "--root", full))
    merged_status = _comparable(_cli("status", "--json", "--root", merged))
    assert [row["slug"] for row in merged_status] == slugs
    assert merged_status == full_status
    assert all(row["status"] != "pending" for row in merged_status)
    for slug in slugs:
        assert (merged / "results" / "notebooks" / f"{slug}.ipynb").is_file()
        history = (merged / "results" / "history" / f"{slug}.jsonl").read_text().splitlines()
        assert len(history) == 1

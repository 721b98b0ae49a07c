"""merge_results: shards into one results folder, history carried over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeml_repro.model.errors import MergeError, ReproError
from codeml_repro.model.result import FORMAT_VERSION, Result, RunRecord, Status
from codeml_repro.results.badges import badges_for
from codeml_repro.results.merge import merge_results, union_history
from codeml_repro.results.store import ResultStore


def make_result(
    slug: str,
    finished_at: str = "2026-01-01T00:00:00Z",
    duration_s: float = 1.0,
    status: Status = Status.FUNCTIONAL,
) -> Result:
    return Result(
        slug=slug,
        status=status,
        badges=badges_for(status),
        duration_s=duration_s,
        finished_at=finished_at,
        key=f"key-{slug}",
    )


def record(finished_at: str, status: Status = Status.FUNCTIONAL) -> RunRecord:
    return RunRecord(status=status, finished_at=finished_at, duration_s=1.0)


def write_run(root: Path, result: Result, notebook: bytes | None = b'{"cells": []}') -> None:
    ResultStore(root).write(result, notebook)


def snapshot(root: Path) -> dict[str, bytes]:
    base = root / "results"
    return {
        str(p.relative_to(base)): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


def test_disjoint_shards_merge_results_notebooks_and_history(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"), b"nb-alpha")
    write_run(tmp_path / "s1", make_result("beta"), b"nb-beta")
    dest = tmp_path / "dest"

    report = merge_results([tmp_path / "s0", tmp_path / "s1"], dest)

    store = ResultStore(dest)
    assert sorted(store.read_all()) == ["alpha", "beta"]
    assert store.notebook_path("alpha").read_bytes() == b"nb-alpha"
    assert store.notebook_path("beta").read_bytes() == b"nb-beta"
    assert [r.finished_at for r in store.history("beta")] == ["2026-01-01T00:00:00Z"]
    assert report.updated == ("alpha", "beta")
    assert "2 updated" in str(report)
    # Byte for byte what the shard wrote.
    src = ResultStore(tmp_path / "s0").result_path("alpha").read_bytes()
    assert store.result_path("alpha").read_bytes() == src


def test_a_source_may_be_a_results_folder_itself(tmp_path: Path) -> None:
    write_run(tmp_path / "shard", make_result("alpha"))
    merge_results([tmp_path / "shard" / "results"], tmp_path / "dest")
    assert ResultStore(tmp_path / "dest").read("alpha") is not None


def test_other_format_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"))
    write_run(tmp_path / "s1", make_result("beta"))
    path = ResultStore(tmp_path / "s1").result_path("beta")
    raw = json.loads(path.read_text())
    raw["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(raw))
    dest = tmp_path / "dest"

    with pytest.raises(MergeError) as info:
        merge_results([tmp_path / "s0", tmp_path / "s1"], dest)

    message = str(info.value)
    assert str(path) in message
    assert f"format_version {FORMAT_VERSION + 1}" in message
    assert "\n" not in message
    assert not (dest / "results").exists(), "a refused merge writes nothing"


def test_missing_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s0" / "results" / "alpha.json"
    path.parent.mkdir(parents=True)
    body = make_result("alpha").to_json()
    del body["format_version"]
    path.write_text(json.dumps(body))
    with pytest.raises(MergeError, match="format_version None"):
        merge_results([tmp_path / "s0"], tmp_path / "dest")


def test_same_slug_in_two_shards_names_both_files(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha", finished_at="2026-01-01T00:00:00Z"))
    write_run(tmp_path / "s1", make_result("alpha", finished_at="2026-01-02T00:00:00Z"))
    with pytest.raises(MergeError) as info:
        merge_results([tmp_path / "s0", tmp_path / "s1"], tmp_path / "dest")
    message = str(info.value)
    assert "duplicate result for 'alpha'" in message
    assert str(ResultStore(tmp_path / "s0").result_path("alpha")) in message
    assert str(ResultStore(tmp_path / "s1").result_path("alpha")) in message
    assert "\n" not in message


def test_byte_identical_duplicates_are_accepted(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"))
    (tmp_path / "s1").mkdir()
    import shutil

    shutil.copytree(tmp_path / "s0" / "results", tmp_path / "s1" / "results")
    report = merge_results([tmp_path / "s0", tmp_path / "s1"], tmp_path / "dest")
    assert report.updated == ("alpha",)
    assert len(ResultStore(tmp_path / "dest").history("alpha")) == 1


def test_history_is_the_sorted_union_of_destination_and_sources(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    # Earlier runs, carried over into the destination.
    ResultStore(dest).write_history("alpha", [record("2026-01-01T00:00:00Z"), record("2026-01-08T00:00:00Z")])
    # The shard saw the same earlier history plus an older one the destination lost, and its own run.
    ResultStore(tmp_path / "s0").write_history(
        "alpha", [record("2025-12-25T00:00:00Z"), record("2026-01-08T00:00:00Z")]
    )
    write_run(tmp_path / "s0", make_result("alpha", finished_at="2026-01-15T00:00:00Z"))

    merge_results([tmp_path / "s0"], dest)

    history = ResultStore(dest).history("alpha")
    assert [r.finished_at for r in history] == [
        "2025-12-25T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-08T00:00:00Z",
        "2026-01-15T00:00:00Z",
    ]


def test_merge_is_idempotent(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"))
    dest = tmp_path / "dest"
    merge_results([tmp_path / "s0"], dest)
    first = snapshot(dest)
    report = merge_results([tmp_path / "s0"], dest)
    assert snapshot(dest) == first
    assert report.updated == ()
    assert report.unchanged == ("alpha",)


def test_shards_that_carry_the_previous_results_merge_cleanly(tmp_path: Path) -> None:
    """CI: every shard starts from the previous run's results; only its own slugs change."""
    previous = tmp_path / "previous"
    write_run(previous, make_result("alpha", finished_at="2026-01-01T00:00:00Z"), b"old-alpha")
    write_run(previous, make_result("beta", finished_at="2026-01-01T00:00:00Z"), b"old-beta")
    import shutil

    for name in ("s0", "s1", "dest"):
        shutil.copytree(previous / "results", tmp_path / name / "results")
    write_run(tmp_path / "s0", make_result("alpha", finished_at="2026-01-08T00:00:00Z"), b"new-alpha")
    write_run(tmp_path / "s1", make_result("gamma", finished_at="2026-01-08T00:00:00Z"), b"new-gamma")
    # beta was skipped (unchanged) by its shard: every copy is the carried-over one.

    report = merge_results([tmp_path / "s0", tmp_path / "s1"], tmp_path / "dest")

    store = ResultStore(tmp_path / "dest")
    assert report.updated == ("alpha", "gamma")
    assert report.unchanged == ("beta",)
    assert store.read("alpha").finished_at == "2026-01-08T00:00:00Z"  # type: ignore[union-attr]
    assert store.notebook_path("alpha").read_bytes() == b"new-alpha"
    assert store.notebook_path("beta").read_bytes() == b"old-beta"
    assert [r.finished_at for r in store.history("alpha")] == ["2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"]
    assert len(store.history("beta")) == 1


def test_a_stale_format_version_carried_unchanged_adds_nothing(tmp_path: Path) -> None:
    """After a format bump, old results that only travel along are not a conflict."""
    old = tmp_path / "old.json"
    body = make_result("alpha").to_json()
    body["format_version"] = FORMAT_VERSION - 1
    old.write_text(json.dumps(body))
    for name in ("s0", "dest"):
        (tmp_path / name / "results").mkdir(parents=True)
        (tmp_path / name / "results" / "alpha.json").write_bytes(old.read_bytes())
    report = merge_results([tmp_path / "s0"], tmp_path / "dest")
    assert report.unchanged == ("alpha",)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not a JSON result"),
        (json.dumps({"format_version": FORMAT_VERSION, "slug": "alpha"}), "invalid result: status"),
        (json.dumps({**make_result("beta").to_json()}), "holds the result of 'beta'"),
    ],
)
def test_unusable_result_files_are_refused(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "s0" / "results" / "alpha.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(MergeError, match=match):
        merge_results([tmp_path / "s0"], tmp_path / "dest")


def test_missing_source_and_no_source(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match="not a folder"):
        merge_results([tmp_path / "nope"], tmp_path / "dest")
    with pytest.raises(MergeError, match="no source"):
        merge_results([], tmp_path / "dest")


def test_a_folder_without_results_is_refused(tmp_path: Path) -> None:
    """A wrong download path in CI must not pass as an empty shard."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(MergeError, match="empty: no results found"):
        merge_results([tmp_path / "empty"], tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_the_same_folder_twice_is_refused(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"))
    with pytest.raises(MergeError, match="given twice"):
        merge_results([tmp_path / "s0", tmp_path / "s0"], tmp_path / "dest")


def test_unreadable_history_lines_are_reported_not_fatal(tmp_path: Path) -> None:
    write_run(tmp_path / "s0", make_result("alpha"))
    hist = ResultStore(tmp_path / "s0").history_path("alpha")
    hist.write_text(hist.read_text() + "garbage\n")
    report = merge_results([tmp_path / "s0"], tmp_path / "dest")
    assert any("unreadable history line" in w for w in report.warnings)
    assert len(ResultStore(tmp_path / "dest").history("alpha")) == 1


def test_union_history_dedups_and_sorts() -> None:
    a, b, c = record("2026-01-03T00:00:00Z"), record("2026-01-01T00:00:00Z"), record("2026-01-02T00:00:00Z")
    assert union_history([a, b], [b, c], [a]) == [b, c, a]


def test_merge_error_is_a_repro_error() -> None:
    assert issubclass(MergeError, ReproError)


def test_cli_merge_prints_one_line_and_exits_2_on_refusal(tmp_path: Path) -> None:
    from codeml_repro.cli import cli

    write_run(tmp_path / "s0", make_result("alpha"))
    path = ResultStore(tmp_path / "s0").result_path("alpha")
    path.write_text(path.read_text().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    result = CliRunner().invoke(cli, ["merge", str(tmp_path / "s0"), "--root", str(tmp_path / "dest")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "format_version 99" in lines[0]


def test_cli_merge_reports_what_it_did(tmp_path: Path) -> None:
    from codeml_repro.cli import cli

    write_run(tmp_path / "s0", make_result("alpha"))
    result = CliRunner().invoke(cli, ["merge", str(tmp_path / "s0"), "--root", str(tmp_path / "dest")])
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output


def test_a_shard_cannot_replace_a_result_it_was_not_assigned(tmp_path: Path) -> None:
    """CLI --shards N: shard-I's results count only for the slugs `run --shard I/N` gave it."""
    import shutil

    from codeml_repro.cli import cli
    from codeml_repro.run.plan.shards import assign_shards

    dest = tmp_path / "dest"
    slugs = ["alpha", "beta", "gamma", "delta"]
    for slug in slugs:
        (dest / "submissions" / slug).mkdir(parents=True)
        write_run(dest, make_result(slug, duration_s=float(len(slug))), b"old")
    shards = assign_shards(slugs, 2, {s: float(len(s)) for s in slugs})
    victim = shards[0][0]
    for index in (0, 1):
        shutil.copytree(dest / "results", tmp_path / f"shard-{index}" / "results")
        for slug in shards[index]:
            fresh = make_result(slug, finished_at="2026-02-01T00:00:00Z")
            write_run(tmp_path / f"shard-{index}", fresh, b"new")
    forged = make_result(victim, finished_at="2026-03-01T00:00:00Z", status=Status.REPRODUCED)
    write_run(tmp_path / "shard-1", forged, b"forged")  # shard 1 writes a result of shard 0's
    args = ["merge", "--root", str(dest), "--shards", "2", *(str(tmp_path / f"shard-{i}") for i in (0, 1))]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"refused: {victim} was not assigned to this shard" in result.output
    store = ResultStore(dest)
    for slug in slugs:  # every shard's own result is merged, the victim's from its own shard
        merged = store.read(slug)
        assert merged is not None and merged.finished_at == "2026-02-01T00:00:00Z", slug
        assert store.notebook_path(slug).read_bytes() == b"new"
    assert [r.finished_at for r in store.history(victim)] == ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]


def test_merge_shards_needs_folders_named_after_their_shard(tmp_path: Path) -> None:
    from codeml_repro.cli import cli

    write_run(tmp_path / "results-a", make_result("alpha"))
    (tmp_path / "dest" / "submissions").mkdir(parents=True)
    args = ["merge", "--root", str(tmp_path / "dest"), "--shards", "2", str(tmp_path / "results-a")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "shard-0 to shard-1" in result.output


def _submissions(root: Path, gpu: dict[str, int]) -> None:
    import yaml

    for slug, count in gpu.items():
        (root / "submissions" / slug).mkdir(parents=True)
        spec = {"title": slug, "authors": [{"name": "A"}], "artifact": {"resources": {"gpu": count}}}
        (root / "submissions" / slug / "submission.yml").write_text(yaml.safe_dump(spec))


def test_merge_gpu_only_refuses_a_result_for_a_submission_without_a_gpu(tmp_path: Path) -> None:
    """The GPU job's folder may update only submissions that declare artifact.resources.gpu."""
    from codeml_repro.cli import cli

    dest = tmp_path / "dest"
    _submissions(dest, {"cpu-paper": 0, "gpu-paper": 1})
    for slug in ("cpu-paper", "gpu-paper"):
        write_run(dest, make_result(slug), b"old")
    write_run(tmp_path / "gpu", make_result("gpu-paper", "2026-02-01T00:00:00Z"), b"gpu")
    write_run(tmp_path / "gpu", make_result("cpu-paper", "2026-02-01T00:00:00Z", status=Status.REPRODUCED),
              b"forged")
    plain = CliRunner().invoke(cli, ["merge", "--root", str(dest), "--gpu", "only", str(tmp_path / "gpu")])
    assert plain.exit_code == 0, plain.output
    assert "refused: cpu-paper does not declare artifact.resources.gpu (merge --gpu only)" in plain.output
    store = ResultStore(dest)
    assert store.notebook_path("cpu-paper").read_bytes() == b"old"
    cpu = store.read("cpu-paper")
    assert cpu is not None and cpu.status is Status.FUNCTIONAL and len(store.history("cpu-paper")) == 1
    assert store.notebook_path("gpu-paper").read_bytes() == b"gpu"


def test_merge_shards_after_gpu_none_split_as_the_shards_did(tmp_path: Path) -> None:
    """`merge --shards N --gpu none` gives each shard what `run --shard I/N --gpu none` ran."""
    from codeml_repro.run.plan.planning import RunOptions, merge_assignment, select

    _submissions(tmp_path, {"a": 0, "b": 1, "c": 0, "d": 1, "e": 0, "f": 0})
    store = ResultStore(tmp_path)
    for n, slug in enumerate("abcdef"):
        store.write(make_result(slug, duration_s=float(10 * (n + 1))), None)
    dirs = [tmp_path / "shard-0", tmp_path / "shard-1"]
    assigned = merge_assignment(tmp_path, dirs, 2, "none")
    assert assigned is not None
    for index, folder in enumerate(dirs):
        ran = select(tmp_path, RunOptions(shard=(index, 2), gpu="none"), store)
        assert assigned[folder].slugs == {f.name for f in ran}
    assert not (assigned[dirs[0]].slugs | assigned[dirs[1]].slugs) & {"b", "d"}
    gpu_only = merge_assignment(tmp_path, [tmp_path / "gpu"], None, "only")
    assert gpu_only is not None and gpu_only[tmp_path / "gpu"].slugs == {"b", "d"}
    assert merge_assignment(tmp_path, dirs, None, "any") is None


def test_merge_shards_copies_regular_files_only_never_through_a_link(tmp_path: Path) -> None:
    """A link planted in a shard's notebooks/ was followed: merge published the host file it named."""
    import os
    import shutil

    from codeml_repro.cli import cli
    from codeml_repro.run.plan.shards import assign_shards

    secret = tmp_path / "host-secret.txt"
    secret.write_bytes(b"TOKEN=host-secret")
    (tmp_path / "host-dir").mkdir()
    dest = tmp_path / "dest"
    slugs = ["alpha", "beta", "gamma", "delta"]
    for slug in slugs:
        (dest / "submissions" / slug).mkdir(parents=True)
    shards = assign_shards(slugs, 2, {s: 1.0 for s in slugs})
    for index in (0, 1):
        for slug in shards[index]:
            write_run(tmp_path / f"shard-{index}", make_result(slug), f"nb-{slug}".encode())
    shard0, shard1 = (tmp_path / f"shard-{i}" / "results" for i in (0, 1))
    hostile, neighbour = shards[0]
    planted = shard0 / "notebooks" / f"{hostile}.ipynb"
    planted.unlink()
    planted.symlink_to(secret)  # the case of the issue, beside a neighbour in the same folder
    linked_result, linked_history = shards[1]
    body = shard1 / f"{linked_result}.json"
    (tmp_path / "elsewhere.json").write_bytes(body.read_bytes())
    body.unlink()
    body.symlink_to(tmp_path / "elsewhere.json")
    history = shard1 / "history"
    shutil.move(history, tmp_path / "host-dir" / "history")
    history.symlink_to(tmp_path / "host-dir" / "history")  # a linked folder: nothing through it
    args = ["merge", "--root", str(dest), "--shards", "2", str(shard0.parent), str(shard1.parent)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"{planted}: not copied: {planted} is a symbolic link" in result.output
    assert f"{body}: refused: {body} is a symbolic link" in result.output
    assert f"{history / linked_history}.jsonl: refused: {history} is a symbolic link" in result.output
    store = ResultStore(dest)
    assert not store.notebook_path(hostile).exists()
    hostile_result = store.read(hostile)
    assert hostile_result is not None and hostile_result.status is Status.FUNCTIONAL
    assert store.notebook_path(neighbour).read_bytes() == f"nb-{neighbour}".encode()
    assert store.notebook_path(linked_history).read_bytes() == f"nb-{linked_history}".encode()
    assert store.read(linked_result) is None and store.history(linked_history) == []
    for path in (dest / "results").rglob("*"):
        assert not path.is_symlink(), path
        assert not path.is_file() or b"host-secret" not in path.read_bytes(), path
    assert os.readlink(planted) == str(secret)  # the shard's own folder is left as it was


def test_a_linked_part_or_parts_folder_is_refused_never_read(tmp_path: Path) -> None:
    from codeml_repro.results.mergeparts import FoundPart, collect_parts
    from codeml_repro.results.parts import part_path, write_part

    elsewhere = tmp_path / "elsewhere"
    write_part(elsewhere, make_result("alpha"))
    shard = tmp_path / "shard" / "results"
    write_part(shard, make_result("beta"))
    part_path(shard, "alpha").symlink_to(part_path(elsewhere, "alpha"))
    found: dict[str, list[FoundPart]] = {}
    warnings: list[str] = []
    collect_parts(shard, None, found, warnings)
    assert sorted(found) == ["beta"]  # the neighbour's part is read
    refused = ": refused: a symbolic link; merge copies regular files only"
    assert warnings == [f"{part_path(shard, 'alpha')}{refused}"]
    linked = tmp_path / "linked" / "results"
    linked.mkdir(parents=True)
    (linked / "parts").symlink_to(elsewhere / "parts")
    found, warnings = {}, []
    collect_parts(linked, None, found, warnings)
    assert found == {} and warnings == [f"{linked / 'parts'}{refused}"]

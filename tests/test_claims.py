from __future__ import annotations

from typing import Any

import pytest

from codeml_repro.model.artifact import Claim
from codeml_repro.run.batch.claims import check_claims
from codeml_repro.run.batch.recorded import parse_literal, recorded_values


def _glue_output(name: str, plain: str) -> dict[str, Any]:
    """What myst-nb's glue writes."""
    return {"output_type": "display_data", "data": {"text/plain": plain},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": ""}}}


def _scrap_output(name: str, data: Any) -> dict[str, Any]:
    """What scrapbook's sb.glue and codeml_repro.record write."""
    scrap = {"name": name, "data": data, "encoder": "json", "version": 1}
    return {"output_type": "display_data",
            "data": {"application/scrapbook.scrap.json+json": scrap},
            "metadata": {"scrapbook": {"name": name, "data": True, "display": False}}}


def test_reads_all_formats_last_wins() -> None:
    cells = [
        {"cell_type": "code", "outputs": [_glue_output("acc", "0.5")]},
        {"cell_type": "code", "outputs": [_glue_output("acc", "np.float64(0.95)"),
                                          _scrap_output("n", 450), _glue_output("name", "'adam'")]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}]},
    ]
    assert recorded_values(cells) == {"acc": 0.95, "n": 450, "name": "adam"}


def test_values_are_never_evaluated() -> None:
    evil = "__import__('os').system('touch /tmp/codeml-pwned')"
    assert parse_literal(evil) == evil
    assert parse_literal("[1, 2]") == [1, 2]
    assert parse_literal("  3.5 ") == 3.5


@pytest.mark.parametrize(("claim", "observed", "ok"), [
    (Claim(name="a", expected=0.953, rel_tol=0.01), 0.951, True),
    (Claim(name="a", expected=0.953, rel_tol=0.01), 0.90, False),
    (Claim(name="a", expected=1.0, abs_tol=0.1), 1.09, True),
    (Claim(name="a", expected=1.0, abs_tol=0.1), 1.2, False),
    (Claim(name="a", expected=450), 450, True),
    (Claim(name="a", expected=450), 451, False),
    (Claim(name="a", expected="adam"), "adam", True),
    (Claim(name="a", expected=True), 1, False),
    (Claim(name="a", expected=0.5, rel_tol=0.1), "0.5", False),
    (Claim(name="a", expected=0.5, rel_tol=0.1), float("nan"), False),
])
def test_tolerances(claim: Claim, observed: Any, ok: bool) -> None:
    [result] = check_claims([claim], {"a": observed})
    assert result.ok is ok
    assert result.recorded


def test_claim_never_recorded_fails() -> None:
    [result] = check_claims([Claim(name="missing", expected=1)], {"other": 1})
    assert not result.ok and not result.recorded and result.observed is None


def test_hostile_recorded_values_do_not_crash() -> None:
    broken = {"output_type": "display_data",
              "data": {"application/scrapbook.scrap.json+json": "{not json"},
              "metadata": {"scrapbook": {"name": "a"}}}
    assert recorded_values([{"cell_type": "code", "outputs": [broken]}]) == {}
    [huge] = check_claims([Claim(name="a", expected=1.0, rel_tol=0.1)], {"a": 10**400})
    assert not huge.ok and huge.recorded


# --- claims read from a cell's output (output: {cell, regex}) ------------------------------------

def _output_claim(cell: int | str, regex: str, **extra: Any) -> Claim:
    return Claim.model_validate({"name": "accuracy", "expected": 0.95, "rel_tol": 0.01,
                                 "output": {"cell": cell, "regex": regex}, **extra})


def _stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def test_output_claim_reads_the_cell_by_index_and_by_id_skipping_the_injected_cell() -> None:
    from codeml_repro.run.batch.recorded import claim_values

    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "id": "inj", "metadata": {"tags": ["injected-parameters"]},
         "outputs": [_stream("accuracy: 0.10\n")]},
        {"cell_type": "code", "id": "first", "metadata": {}, "outputs": [_stream("accuracy: 0.20\n")]},
        {"cell_type": "code", "id": "result", "metadata": {}, "outputs": [
            _stream("epoch 3 done\n", "stderr"),
            {"output_type": "execute_result", "data": {"text/plain": "'accuracy: 0.951'"},
             "metadata": {}, "execution_count": 2}]},
    ]
    by_index = _output_claim(1, r"accuracy: ([0-9.]+)")
    assert claim_values([by_index], cells)["accuracy"] == 0.951
    by_id = _output_claim("first", r"accuracy: ([0-9.]+)")
    assert claim_values([by_id], cells)["accuracy"] == 0.20
    # a value recorded under the claim's name never stands in for the output it names
    recorded = {"cell_type": "code", "metadata": {}, "outputs": [_glue_output("accuracy", "0.95")]}
    assert "accuracy" not in claim_values([_output_claim(7, r"accuracy: ([0-9.]+)")], [*cells, recorded])
    [result] = check_claims([by_index], claim_values([by_index], cells))
    assert result.ok and result.recorded


def test_output_claim_group_that_is_no_number_is_compared_as_text() -> None:
    from codeml_repro.run.batch.recorded import claim_values

    cells = [{"cell_type": "code", "metadata": {}, "outputs": [_stream("best: adam (lr 1e-3)\n")]}]
    claim = Claim.model_validate({"name": "best", "expected": "adam",
                                  "output": {"cell": 0, "regex": r"best: (\w+)"}})
    [result] = check_claims([claim], claim_values([claim], cells))
    assert result.observed == "adam" and result.ok
    lr = Claim.model_validate({"name": "lr", "expected": 0.001,
                               "output": {"cell": 0, "regex": r"lr ([^)]+)"}})
    assert claim_values([lr], cells)["lr"] == 0.001


def test_a_backtracking_regex_ends_its_own_search_not_the_run() -> None:
    import time

    from codeml_repro.run.batch.outputclaims import search

    claim = _output_claim(0, r"^((a+)+)$")
    started = time.monotonic()
    assert search(claim.output, "a" * 40 + "!") is None  # type: ignore[arg-type]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("output", "message"), [
    ({"cell": 1, "regex": "accuracy: [0-9.]+"}, "needs a group around the value"),
    ({"cell": 1, "regex": "accuracy: ([0-9.]+"}, "not a regular expression"),
    ({"cell": -1, "regex": "a(b)"}, "a cell index"),
    ({"cell": True, "regex": "a(b)"}, "a cell index"),
    ({"cell": "no spaces please", "regex": "a(b)"}, "is no cell id"),
    ({"cell": 1, "regex": "(a)" * 200}, "at most 300 characters"),
    ({"cell": 1}, "regex"),
])
def test_bad_output_fields_are_one_line_errors_naming_the_field(
    tmp_path: Any, output: dict[str, Any], message: str
) -> None:
    import yaml

    from codeml_repro.model.errors import SubmissionInvalid
    from codeml_repro.model.submission import load_submission

    folder = tmp_path / "paper"
    folder.mkdir()
    spec = {"title": "T", "authors": [{"name": "A"}],
            "claims": [{"name": "accuracy", "expected": 0.9, "output": output}]}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SubmissionInvalid) as err:
        load_submission(folder)
    assert "claims[0].output" in err.value.message and message in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.slow
def test_check_suggests_an_output_claim_that_then_reproduces(tmp_path: Any) -> None:
    """A notebook that only prints its result: check suggests the claim, pasted it reproduces."""
    import nbformat
    import yaml

    from codeml_repro.authoring.check import check_path
    from codeml_repro.model.policy import RunPolicy
    from tests.conftest import make_notebook

    folder = tmp_path / "submissions" / "printed"
    folder.mkdir(parents=True)
    nb = make_notebook(
        "import time",
        "for epoch in range(3):\n    print(f'loss: {1 / (epoch + 1):.3f}')",
        "print(f'Test accuracy: {0.9 + n / 20:.3f}')\nprint('done')",
        params="n = 0",
    )
    nb.cells[3].id = "final-scores"
    nbformat.write(nb, folder / "artifact.ipynb")
    spec: dict[str, Any] = {"title": "Printed", "authors": [{"name": "A"}],
                            "artifact": {"parameters": {"n": 1}}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    policy = RunPolicy(sandbox="off")

    report = check_path(folder, policy)
    assert report.result.status.value == "functional", report.text
    tip = report.text[report.text.index("tip: the notebook prints numbers"):]
    assert "- name: test_accuracy" in tip and "expected: 0.950" in tip
    assert "output: {cell: 3, regex: 'Test\\ accuracy\\s*[:=]\\s*(" in tip
    assert "loss" not in tip  # printed three times in its cell: a log, not a result
    suggested = yaml.safe_load(tip[tip.index("  claims:"):tip.index("\n", tip.index("output:"))])
    spec["claims"] = [{**suggested["claims"][0], "rel_tol": 0.01},
                      {"name": "by_id", "expected": 0.95, "abs_tol": 0.001,
                       "output": {"cell": "final-scores", "regex": "accuracy: ([0-9.]+)"}},
                      {"name": "absent", "expected": 1,
                       "output": {"cell": 2, "regex": "accuracy: ([0-9.]+)"}}]
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))

    report = check_path(folder, policy)
    claims = {c.name: c for c in report.result.claims}
    assert claims["test_accuracy"].ok and claims["test_accuracy"].observed == 0.95
    assert claims["by_id"].ok
    assert not claims["absent"].recorded
    assert "[missing] absent: expected 1, observed no match in cell 2's output" in report.text
    assert "tip: the notebook prints numbers" not in report.text  # every printed result is claimed


def test_report_says_stopped_early_only_when_later_cells_did_not_run(tmp_path: Any) -> None:
    from codeml_repro.authoring.check import build_report
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.result import ClaimResult, ErrorInfo, Result, Status
    from codeml_repro.model.submission import Submission, SubmissionSpec

    spec = SubmissionSpec(title="T", authors=[{"name": "A"}], claims=[{"name": "acc", "expected": 1}])
    sub = Submission("p", tmp_path, spec)
    claim = ClaimResult(name="acc", expected=1, observed=1, ok=True, recorded=True)
    result = Result(slug="p", status=Status.FAILED, claims=[claim],
                    error=ErrorInfo(type="ValueError", message="bad display", cell=1))
    ran = [{"cell_type": "code", "execution_count": i + 1, "outputs": [], "metadata": {}} for i in range(3)]
    text = build_report(result, sub, RunPolicy(sandbox="off"), 60, ran).text
    assert "stopped early" not in text
    assert "claims (the run failed at cell 1; the cells after it ran):" in text
    stopped = [*ran[:2], {**ran[2], "execution_count": None}]
    text = build_report(result, sub, RunPolicy(sandbox="off"), 60, stopped).text
    assert "claims (the run stopped early, at cell 1, so later values were never printed" in text


def _fallback_notebook() -> Any:
    from codeml_repro.record import FALLBACK
    from tests.conftest import make_notebook

    return make_notebook(FALLBACK, "acc = 0.9\nrecord('acc', acc)")


@pytest.mark.slow
def test_the_guides_fallback_runs_where_codeml_repro_is_not_installed(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, base_environment: Any
) -> None:
    """A real kernel of an environment without codeml_repro (the base environment, outside the
    runner's shim) runs the notebook: record() prints one line instead of failing the import."""
    import json as _json
    import textwrap
    from pathlib import Path

    from nbclient import NotebookClient

    from codeml_repro.record import FALLBACK
    from tests.conftest import REPO

    assert textwrap.indent(FALLBACK, "  ") in (REPO / "book" / "authors.md").read_text()
    if base_environment is None or base_environment.path is None:
        pytest.skip("the base environment could not be built")
    python = str(Path(base_environment.path) / "bin" / "python")
    spec = tmp_path / "kernels" / "kernels" / "bare"
    spec.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "bare", "language": "python"}
    (spec / "kernel.json").write_text(_json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "kernels"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    nb = _fallback_notebook()
    probe = nb.cells[0].copy()
    probe.source = ("import importlib.util\n"
                    "print('installed:', importlib.util.find_spec('codeml_repro') is not None)")
    nb.cells.insert(0, probe)
    where = {"metadata": {"path": str(tmp_path)}}  # not the repository, where codeml_repro/ is importable
    NotebookClient(nb, timeout=60, kernel_name="bare", resources=where).execute()
    assert nb.cells[0].outputs[0]["text"] == "installed: False\n"
    [out] = nb.cells[2].outputs
    assert out["text"] == "acc = 0.9 (not recorded: codeml_repro is not installed)\n"


@pytest.mark.slow
def test_the_guides_fallback_records_in_the_runner(tmp_path: Any) -> None:
    import nbformat
    import yaml

    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.model.submission import load_submission
    from codeml_repro.run.batch.repeats import run_submission

    folder = tmp_path / "submissions" / "fallback"
    folder.mkdir(parents=True)
    nbformat.write(_fallback_notebook(), folder / "artifact.ipynb")
    spec = {"title": "F", "authors": [{"name": "A"}], "claims": [{"name": "acc", "expected": 0.9}]}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    result = run_submission(load_submission(folder), RunPolicy(sandbox="off"), tmp_path, save=False)
    assert result.status.value == "reproduced", result


def test_record_outside_a_kernel_prints_one_line() -> None:
    import subprocess
    import sys

    code = "from codeml_repro.record import record; record('acc', 0.5); print('went on')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "acc = 0.5 (not recorded: not in a Jupyter kernel)\nwent on\n"

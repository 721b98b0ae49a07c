"""Jupyter conventions the ecosystem honours, run with real kernels on notebooks built here.

Each test names the behaviour of papermill, nbclient, nbmake or myst-nb that it follows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_markdown_cell, new_notebook

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebook import check_notebook
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import ErrorInfo, Status
from codeml_repro.model.submission import load_submission
from codeml_repro.run.batch.recorded import parse_literal, recorded_values
from codeml_repro.run.batch.repeats import run_submission
from codeml_repro.run.kernel.conventions import NotebookSettings, budget_of, cell_timeout, notebook_settings
from codeml_repro.run.kernel.execute import Execution
from tests.conftest import tagged_cell as _cell
from tests.runner_helpers import run

POLICY = RunPolicy(sandbox="off", env="current", cell_timeout_s=10, timeout_s=30)




def _submission(root: Path, cells: list[Any], metadata: dict[str, Any] | None = None,
                **spec: Any) -> Path:
    """submissions/demo/ under ``root``, with a notebook of ``cells`` and ``spec`` in submission.yml."""
    folder = root / "submissions" / "demo"
    folder.mkdir(parents=True)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.update(metadata or {})
    nbformat.write(nb, folder / "artifact.ipynb")
    data = {"title": "Demo", "authors": [{"name": "A. Author"}], "artifact": {"notebook": "artifact.ipynb"}}
    data.update(spec)
    (folder / "submission.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


def _execute(folder: Path, **policy: Any) -> Execution:
    sub = load_submission(folder)
    check_notebook(sub)
    return run(sub, **policy)


def _outputs(ex: Execution, cell: int) -> list[Any]:
    return list(ex.notebook.cells[cell].get("outputs", []))


def test_raises_exception_tag_lets_the_run_go_on(tmp_path: Path) -> None:
    """nbclient, nbmake, Jupyter Book and myst-nb run on past a cell tagged ``raises-exception``
    (nbclient's ``_check_raise_for_error`` allows it); papermill alone would fail the run on the
    error output it finds. The error stays in the saved notebook and is listed as allowed."""
    folder = _submission(tmp_path, [
        _cell("1 / 0", "raises-exception"),
        _cell("from codeml_repro import record\nrecord('after', 7)"),
    ])
    ex = _execute(folder)
    assert (ex.outcome, ex.error) == ("completed", None)
    assert ex.allowed_errors == [ErrorInfo(type="ZeroDivisionError", message="division by zero", cell=0)]
    assert [o["ename"] for o in _outputs(ex, 0) if o["output_type"] == "error"] == ["ZeroDivisionError"]
    assert recorded_values(ex.notebook.cells) == {"after": 7}


def test_untagged_error_after_a_tagged_one_is_the_failure(tmp_path: Path) -> None:
    """nbmake reports the error of the cell that was not allowed to raise, not the first error
    output of the notebook (papermill's ``raise_for_execution_errors`` would name the tagged cell)."""
    folder = _submission(tmp_path, [
        _cell("raise ValueError('expected')", "raises-exception"),
        _cell("undefined_name"),
        _cell("print('never')"),
    ])
    ex = _execute(folder)
    assert ex.outcome == "failed"
    assert ex.error == ErrorInfo(type="NameError", message="name 'undefined_name' is not defined", cell=1)
    assert [e.type for e in ex.allowed_errors] == ["ValueError"]


def test_notebook_allow_errors_metadata(tmp_path: Path) -> None:
    """nbmake and Jupyter Book read ``metadata.execution.allow_errors``: every error is allowed,
    and the result lists each (cell, type, message)."""
    folder = _submission(
        tmp_path,
        [new_markdown_cell("# demo"), _cell("raise KeyError('a')"), _cell("int('x')"), _cell("y = 1")],
        metadata={"execution": {"allow_errors": True}},
    )
    ex = _execute(folder)
    assert ex.outcome == "completed"
    assert [(e.cell, e.type) for e in ex.allowed_errors] == [(1, "KeyError"), (2, "ValueError")]
    assert ex.allowed_errors[1].message == "invalid literal for int() with base 10: 'x'"


def test_metadata_timeout_only_lowers_the_policy(tmp_path: Path) -> None:
    """nbmake and Jupyter Book take ``metadata.execution.timeout`` as nbclient's per-cell timeout;
    here it applies only when it is lower than the policy's, never higher."""
    assert cell_timeout(10, NotebookSettings(cell_timeout_s=600)) == 10
    assert cell_timeout(10, notebook_settings({"mystnb": {"execution_timeout": 3}})) == 3
    assert notebook_settings({"execution": {"timeout": "soon"}}) == NotebookSettings()
    folder = _submission(tmp_path, [_cell("import time\ntime.sleep(30)")],
                         metadata={"execution": {"timeout": 2}})
    ex = _execute(folder, cell_timeout_s=20)
    assert ex.outcome == "timeout" and ex.error is not None and ex.error.type == "CellTimeout"
    assert ex.duration_s < 12


def test_metadata_timeout_never_raises_the_policy(tmp_path: Path) -> None:
    """A notebook asking for 10 minutes per cell still gets the policy's budget."""
    folder = _submission(tmp_path, [_cell("import time\ntime.sleep(30)")],
                         metadata={"execution": {"timeout": 600}})
    ex = _execute(folder, cell_timeout_s=2)
    assert ex.outcome == "timeout" and ex.duration_s < 12


def _timed_cell(source: str, timeout: Any) -> Any:
    cell = _cell(source)
    cell.metadata["execution"] = {"timeout": timeout}
    return cell


def test_cell_timeout_metadata_lowers_that_cells_budget_only(tmp_path: Path) -> None:
    """A cell's ``metadata.execution.timeout`` (nbformat's cell ``execution`` namespace; nbclient
    asks ``timeout_func(cell)`` for each cell; nbformat's schema wants the value as a string)
    bounds that cell alone: cell 0 runs 3 s under the
    policy's 20 s, cell 1 asks for 2 s and sleeps past it, and the timeout names cell 1."""
    assert budget_of({"metadata": {"execution": {"timeout": "2"}}}, 20, NotebookSettings()) == 2
    assert budget_of({"metadata": {"execution": {"timeout": "soon"}}}, 20, NotebookSettings()) == 20
    lower_notebook = NotebookSettings(cell_timeout_s=3)
    assert budget_of({"metadata": {"execution": {"timeout": "5"}}}, 20, lower_notebook) == 3
    folder = _submission(tmp_path, [
        _cell("import time\ntime.sleep(3)"),
        _timed_cell("import time\ntime.sleep(30)", "2"),
        _cell("print('never')"),
    ])
    ex = _execute(folder, cell_timeout_s=20)
    assert ex.outcome == "timeout" and ex.error is not None and ex.error.type == "CellTimeout"
    assert ex.error.cell == 1
    assert "the cell's own metadata execution.timeout: 2 s" in ex.error.message
    assert ex.duration_s < 15


def test_cell_timeout_metadata_never_raises_the_policy(tmp_path: Path) -> None:
    """A cell asking for 10 minutes still gets the policy's 2 s budget, and the message does
    not blame the cell's metadata."""
    assert budget_of({"metadata": {"execution": {"timeout": "600"}}}, 2, NotebookSettings()) == 2
    folder = _submission(tmp_path, [_timed_cell("import time\ntime.sleep(30)", "600")])
    ex = _execute(folder, cell_timeout_s=2)
    assert ex.outcome == "timeout" and ex.error is not None and ex.error.cell == 0
    assert "metadata" not in ex.error.message
    assert ex.duration_s < 12


def test_myst_nb_glue_without_display_is_read(tmp_path: Path) -> None:
    """myst-nb's ``glue(name, value, display=False)`` prefixes every MIME type with
    ``application/papermill.record/``; the value is read like the displayed form."""
    folder = _submission(tmp_path, [_cell(
        "from myst_nb import glue\nglue('hidden', 0.25, display=False)\nglue('shown', 3)"
    )])
    ex = _execute(folder)
    assert ex.outcome == "completed"
    data = _outputs(ex, 0)[0]["data"]
    assert "application/papermill.record/text/plain" in data
    assert recorded_values(ex.notebook.cells) == {"hidden": 0.25, "shown": 3}


@pytest.mark.parametrize("stop", ["import sys\nsys.exit(0)", "raise SystemExit", "import sys\nsys.exit()"])
def test_sys_exit_zero_stops_the_run_without_error(tmp_path: Path, stop: str) -> None:
    """papermill (PR #449, tests of ``sys.exit(0)``, ``sys.exit()`` and ``raise SystemExit``)
    ends the run early without an error; the result says where and what did not run, and a
    claim recorded only after that point is "not reached"."""
    folder = _submission(
        tmp_path,
        [_cell("from codeml_repro import record\nrecord('early', 1)"), _cell("x = 1"), _cell(stop),
         _cell("record('late', 2)"), _cell("print('no')")],
        claims=[{"name": "early", "expected": 1}, {"name": "late", "expected": 2}],
    )
    result = run_submission(load_submission(folder), POLICY, tmp_path, save=False)
    assert result.error is None and result.stopped_at == 2
    note = "the notebook stopped itself at cell 2 (sys.exit / SystemExit); cells 3-4 did not run"
    assert note in result.warnings
    assert result.status is Status.NOT_REPRODUCED
    early, late = result.claims
    assert (early.ok, early.reached) == (True, True)
    assert (late.recorded, late.reached) == (False, False)


def test_sys_exit_nonzero_is_a_failure(tmp_path: Path) -> None:
    """papermill fails on ``sys.exit(1)``, as any non-zero exit status says the run failed."""
    folder = _submission(tmp_path, [_cell("import sys\nsys.exit(3)"), _cell("x = 1")])
    ex = _execute(folder)
    assert ex.outcome == "failed" and ex.stopped_at is None
    assert ex.error == ErrorInfo(type="SystemExit", message="3", cell=0)


def test_parameters_without_a_tagged_cell_are_injected_at_the_top(tmp_path: Path) -> None:
    """papermill injects parameters as the first cell when no cell is tagged ``parameters``;
    validate accepts it and the run warns that a later cell may overwrite them."""
    folder = _submission(
        tmp_path,
        [_cell("from codeml_repro import record\nrecord('n_seen', n)"), _cell("n = 5\nrecord('n_after', n)")],
        artifact={"notebook": "artifact.ipynb", "parameters": {"n": 2}},
    )
    ex = _execute(folder)  # check_notebook no longer raises
    assert ex.outcome == "completed"
    assert recorded_values(ex.notebook.cells) == {"n_seen": 2, "n_after": 5}
    assert "injected-parameters" in ex.notebook.cells[0].metadata["tags"]
    assert any("no cell of artifact.ipynb is tagged 'parameters'" in w and "overwrites" in w
               for w in ex.warnings)


@pytest.mark.parametrize(("source", "message"), [
    ("%no_such_magic 1", "Line magic function `%no_such_magic` not found."),
    ("%%no_such_cell_magic\nx = 1", "Cell magic `%%no_such_cell_magic` not found."),
])
def test_magic_errors_keep_their_name_and_message(tmp_path: Path, source: str, message: str) -> None:
    """IPython reports a magic's ``UsageError`` in the execute reply, not as an error output;
    papermill then says ``CellExecutionError`` with an empty message. The reply's name is kept."""
    folder = _submission(tmp_path, [_cell("x = 0"), _cell(source)])
    ex = _execute(folder)
    assert ex.outcome == "failed"
    assert ex.error == ErrorInfo(type="UsageError", message=message, cell=1)


def test_nan_is_an_observation(tmp_path: Path) -> None:
    """A diverged run records NaN: record() accepts it; the claim is not reproduced and shows nan."""
    folder = _submission(
        tmp_path,
        [_cell("import math\nfrom codeml_repro import record\n"
               "record('loss', math.nan)\nrecord('grads', [1.0, math.inf])\nmath.nan")],
        claims=[{"name": "loss", "expected": 0.5, "rel_tol": 0.1}],
    )
    result = run_submission(load_submission(folder), POLICY, tmp_path, save=False)
    assert result.status is Status.NOT_REPRODUCED and result.error is None
    claim = result.claims[0]
    assert claim.recorded and not claim.ok and math.isnan(claim.observed)
    assert json.loads(json.dumps(result.to_json()))["claims"][0]["observed"] == "nan"
    assert math.isnan(parse_literal("nan")) and parse_literal("-inf") == -math.inf


@pytest.mark.parametrize("meta", [
    {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}},
    {"kernelspec": {"name": "python3", "display_name": "P"}, "language_info": {"name": "julia"}},
])
def test_non_python_notebook_is_invalid(tmp_path: Path, meta: dict[str, Any]) -> None:
    """A notebook in another language would run its code in a Python kernel: refused in one line."""
    folder = _submission(tmp_path, [_cell("x <- 1")])
    nb = nbformat.read(folder / "artifact.ipynb", as_version=4)
    nb.metadata = meta
    nbformat.write(nb, folder / "artifact.ipynb")
    with pytest.raises(SubmissionInvalid) as info:
        check_notebook(load_submission(folder))
    message = str(info.value)
    assert "\n" not in message and "artifact.ipynb: metadata." in message
    assert "cannot run here; the toolkit runs notebooks in python only" in message


def test_check_and_page_say_what_the_conventions_did(tmp_path: Path) -> None:
    """The author's check and the submission's page list allowed errors and unreached claims."""
    from codeml_repro.authoring.check import build_report
    from codeml_repro.sphinx.posters.entries import Entry
    from codeml_repro.sphinx.posters.pages import claims_html
    from codeml_repro.sphinx.posters.runview import last_run_html

    folder = _submission(
        tmp_path,
        [_cell("int('x')", "raises-exception"), _cell("raise SystemExit(0)"),
         _cell("from codeml_repro import record\nrecord('acc', 0.9)")],
        claims=[{"name": "acc", "expected": 0.9}],
    )
    sub = load_submission(folder)
    result = run_submission(sub, POLICY, tmp_path, save=False)
    text = "\n".join(build_report(result, sub, POLICY, 30).lines)
    assert "allowed error in cell 0: ValueError: invalid literal for int() with base 10: 'x'" in text
    assert "warning: the notebook stopped itself at cell 1 (sys.exit / SystemExit); cell 2 did not run" \
        in text
    assert "[not reached] acc" in text and "claim 'acc' was not reached" in text
    entry = Entry(slug="demo", spec=sub.spec, status=result.status, result=result)
    page = str(last_run_html(entry, "#notebook")) + str(claims_html(entry))
    assert 'class="codeml-allowed-errors"' in page and "in cell 0" in page
    assert "not reached" in page and "stopped itself at cell 1" in page


def test_a_failing_shell_command_is_reported(tmp_path: Path) -> None:
    """IPython prints a shell's 'not found' for ``!cmd`` and goes on (nbclient sees no error)."""
    folder = _submission(tmp_path, [_cell("x = 1"), _cell("!codeml-no-such-tool --version\ny = 2")])
    ex = _execute(folder)
    assert ex.outcome == "completed"
    notes = [w for w in ex.warnings if "shell command" in w]
    assert len(notes) == 1
    assert notes[0].startswith("cell 1: the shell command `!codeml-no-such-tool --version`")
    assert "codeml-no-such-tool: not found, exit status 127" in notes[0]


def test_messages_carry_no_host_paths(tmp_path: Path) -> None:
    """A kernel names files by absolute path; the result names them relative to the submission."""
    folder = _submission(tmp_path, [_cell("open('data/missing.csv')")])
    ex = _execute(folder)
    assert ex.error is not None and ex.error.type == "FileNotFoundError"
    assert ex.error.message == "[Errno 2] No such file or directory: 'data/missing.csv'"
    folder2 = _submission(tmp_path / "b", [_cell("import os\nopen(os.path.abspath('gone.txt'))")])
    ex2 = _execute(folder2)
    assert ex2.error is not None and ex2.error.message == "[Errno 2] No such file or directory: 'gone.txt'"
    assert "/tmp" not in ex2.error.message


def test_allowed_errors_appear_in_status_json(tmp_path: Path) -> None:
    """Jupyter Book's allow-errors: the result lists each error it allowed (cell, type, message), and
    ``status --json`` carries the list, as `run` recorded it."""
    from click.testing import CliRunner

    from codeml_repro.cli import cli

    _submission(tmp_path, [_cell("x = 1"), _cell("int('x')", "raises-exception")])
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "--root", str(tmp_path), "--sandbox", "off", "--env", "current",
                              "--jobs", "1"])
    assert ran.exit_code == 0, ran.output
    shown = runner.invoke(cli, ["status", "--root", str(tmp_path), "--json"])
    assert shown.exit_code == 0, shown.output
    (demo,) = json.loads(shown.output)
    assert demo["status"] == "functional"
    assert demo["allowed_errors"] == [
        {"type": "ValueError", "message": "invalid literal for int() with base 10: 'x'", "cell": 1}
    ]


def test_check_and_page_warn_that_parameters_were_injected_at_the_top(tmp_path: Path) -> None:
    """papermill injects parameters as the first cell when no cell is tagged ``parameters``; the
    author's check and the submission's page both say a later cell may overwrite them."""
    from codeml_repro.authoring.check import build_report
    from codeml_repro.sphinx.posters.entries import Entry
    from codeml_repro.sphinx.posters.runview import last_run_html

    folder = _submission(
        tmp_path, [_cell("n = 5\nfrom codeml_repro import record\nrecord('n', n)")],
        artifact={"notebook": "artifact.ipynb", "parameters": {"n": 2}},
    )
    sub = load_submission(folder)
    result = run_submission(sub, POLICY, tmp_path, save=False)
    text = "\n".join(build_report(result, sub, POLICY, 30).lines)
    assert "warning: no cell of artifact.ipynb is tagged 'parameters': papermill injected" in text
    assert "a later cell that sets the same names overwrites them" in text
    entry = Entry(slug="demo", spec=sub.spec, status=result.status, result=result)
    page = str(last_run_html(entry, "#notebook"))
    warnings = page[page.index("<p>Warnings:</p>"):]
    assert "no cell of artifact.ipynb is tagged 'parameters': papermill injected" in warnings


def test_page_shows_the_resolved_lock(tmp_path: Path) -> None:
    """The exact resolved set recorded with a result (``environment.lock``) is on the page, every
    pin of it, escaped like any other recorded value, folded away from readers who do not ask."""
    from codeml_repro.model.result import Result
    from codeml_repro.sphinx.posters.entries import Entry
    from codeml_repro.sphinx.posters.runview import last_run_html

    sub = load_submission(_submission(tmp_path, [_cell("x = 1")]))
    lock = ["ipykernel==6.28.0", "ipython==8.18.1", "numpy==1.26.4", "<b>evil</b>==1"]
    result = Result(slug="demo", status=Status.FUNCTIONAL, environment={"env_kind": "venv", "lock": lock})
    entry = Entry(slug="demo", spec=sub.spec, status=result.status, result=result)
    page = str(last_run_html(entry, "#notebook"))
    env = page[page.index('class="codeml-lock"'):]
    assert "<details" in page[: page.index('class="codeml-lock"')].rsplit("<summary>", 1)[0][-200:]
    assert all(pin in env for pin in lock[:3])
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page


def _v3_notebook(*sources: str) -> str:
    """An nbformat 3.0 notebook (worksheets, ``input``), as IPython 2 saved it."""
    from nbformat.v3 import new_code_cell as v3_cell
    from nbformat.v3 import new_notebook as v3_notebook
    from nbformat.v3 import new_worksheet

    cells = [v3_cell(input=s, language="python") for s in sources]
    return str(nbformat.writes(v3_notebook(worksheets=[new_worksheet(cells=cells)], metadata={"name": "old"}),
                               version=3))


def test_an_nbformat_3_notebook_runs_upgraded_with_a_note(tmp_path: Path) -> None:
    """papermill reads every notebook with ``nbformat.reads(..., as_version=4)``: a version 3 notebook
    is upgraded and runs. So here, with a note, and a claim reads its printed value."""
    from codeml_repro.authoring.check import check_path

    claim = {"name": "acc", "expected": 0.9, "output": {"cell": 1, "regex": "acc=([0-9.]+)"}}
    folder = _submission(tmp_path, [], claims=[claim])
    (folder / "artifact.ipynb").write_text(_v3_notebook("x = 0.9", "print(f'acc={x}')"), encoding="utf-8")
    check_notebook(load_submission(folder))  # no longer "must be a version 4 notebook"
    report = check_path(folder, POLICY)
    assert report.result.status is Status.REPRODUCED, report.text
    assert "warning: the notebook is nbformat 3.0: it ran upgraded to nbformat 4" in report.text


def test_an_nbformat_3_notebook_nbformat_cannot_upgrade_is_one_line(tmp_path: Path) -> None:
    folder = _submission(tmp_path, [])
    (folder / "artifact.ipynb").write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0,
                                                        "worksheets": [{"cells": [7]}]}))
    with pytest.raises(SubmissionInvalid) as err:
        check_notebook(load_submission(folder))
    assert "artifact.ipynb: nbformat: an older notebook nbformat cannot upgrade" in err.value.message
    assert "\n" not in err.value.message


def test_a_4_4_notebook_with_cell_ids_is_valid_as_papermill_runs_it(tmp_path: Path) -> None:
    folder = _submission(tmp_path, [_cell("x = 1")])
    raw = json.loads((folder / "artifact.ipynb").read_text())
    raw["nbformat_minor"] = 4  # ids are a 4.5 field; Jupyter and papermill only warn
    (folder / "artifact.ipynb").write_text(json.dumps(raw))
    check_notebook(load_submission(folder))
    raw["cells"][0]["source"] = 7  # still invalid when upgrading does not make it valid
    (folder / "artifact.ipynb").write_text(json.dumps(raw))
    with pytest.raises(SubmissionInvalid, match="not a valid notebook"):
        check_notebook(load_submission(folder))


def test_a_4_5_notebook_without_cell_ids_is_read_without_nbformats_warning(tmp_path: Path) -> None:
    """Written by hand or by an older tool: nbformat gives the ids itself, but warned on every command
    (``MissingIDFieldWarning``, headed by the path of the toolkit's install). The ids are given first;
    the file, and so the skip key, stay as the author wrote them."""
    import subprocess
    import sys
    import warnings

    from nbformat.warnings import MissingIDFieldWarning

    from codeml_repro.model.notebookfile import read_notebook

    folder = _submission(tmp_path, [_cell("x = 1"), _cell("y = 2")])
    raw = json.loads((folder / "artifact.ipynb").read_text())
    for cell in raw["cells"]:
        del cell["id"]
    assert raw["nbformat_minor"] >= 5
    text = json.dumps(raw)
    (folder / "artifact.ipynb").write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingIDFieldWarning)
        check_notebook(load_submission(folder))
        nb = read_notebook(folder / "artifact.ipynb")
    ids = [cell["id"] for cell in nb.cells]
    assert len(set(ids)) == 2 and all(ids)
    assert (folder / "artifact.ipynb").read_text() == text
    proc = subprocess.run([sys.executable, "-m", "codeml_repro.cli", "validate", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and sys.prefix not in proc.stderr, proc.stderr


def test_cells_over_80_percent_of_their_own_budget_warn() -> None:
    from codeml_repro.model.result import CellTime, ResourceReport
    from codeml_repro.run.batch.runnotes import slow_cell_warnings

    cells = [{"metadata": {}}, {"metadata": {"execution": {"timeout": "4"}}}, {"metadata": {}}]
    report = ResourceReport(cells=[CellTime(cell=0, duration_s=8.5), CellTime(cell=1, duration_s=3.5),
                                   CellTime(cell=2, duration_s=7.9)])
    notes = slow_cell_warnings(cells, {}, report, 10)
    assert notes == [
        "cell 0 took 8.5 s, 85% of its 10 s budget: a slower runner may time out; split it or lower its work",
        "cell 1 took 3.5 s, 88% of its 4 s budget (the cell's own metadata execution.timeout: 4 s): a "
        "slower runner may time out; split it or lower its work",
    ]
    assert slow_cell_warnings(cells, {"execution": {"timeout": 8}}, report, 10)[2].startswith(
        "cell 2 took 7.9 s, 99% of its 8 s budget (the notebook's metadata execution timeout: 8 s)")


@pytest.mark.slow
def test_a_cell_near_its_budget_is_a_warning_of_the_result(tmp_path: Path) -> None:
    slow = _cell("import time\ntime.sleep(3.4)")
    slow.metadata["execution"] = {"timeout": "4"}
    folder = _submission(tmp_path, [_cell("x = 1"), slow])
    result = run_submission(load_submission(folder), POLICY, tmp_path, save=False)
    assert result.status is Status.FUNCTIONAL, result
    [note] = [w for w in result.warnings if "of its 4 s budget" in w]
    assert note.startswith("cell 1 took 3.") and "the cell's own metadata execution.timeout" in note


@pytest.mark.slow
def test_pip_install_in_a_cell_says_why_it_cannot_work_here(tmp_path: Path) -> None:
    """IPython runs ``!pip install`` and goes on whatever pip did: the result says that a run's packages
    come from requirements.txt, unless pip found everything already installed."""
    folder = _submission(tmp_path, [
        _cell("import sys"),
        _cell("!{sys.executable} -m pip install --no-index codeml-no-such-package\nx = 1"),
        new_markdown_cell("Already there:"),
        _cell("%pip install --no-index pip"),
    ])
    policy = RunPolicy(sandbox="off", env="current", cell_timeout_s=120, timeout_s=300)  # pip starts slowly
    result = run_submission(load_submission(folder), policy, tmp_path, save=False)
    assert result.status is Status.FUNCTIONAL, result
    notes = [w for w in result.warnings if "cannot set up the environment here" in w]
    assert notes == [
        "cell 1: `!{sys.executable} -m pip install --no-index codeml-no-such-package` cannot set up the "
        "environment here: a run's packages come from requirements.txt, installed before the notebook "
        "starts (the sandbox has no network, and a pip on the PATH may be another Python's); list the "
        "packages in requirements.txt"
    ]


def test_install_lines_are_found_in_every_spelling() -> None:
    from codeml_repro.run.batch.runnotes import install_notes

    spellings = ["!pip install torch", "%pip install -q torch", "! pip3 install torch", "!conda install -y x",
                 "!python -m pip install x", "!uv pip install x", "%conda install x"]
    cells = [{"cell_type": "code", "metadata": {}, "source": f"x = 1\n{s}", "outputs": []} for s in spellings]
    assert [n.split(":")[0] for n in install_notes(cells)] == [f"cell {i}" for i in range(len(spellings))]
    quiet = {"cell_type": "code", "metadata": {}, "source": "# pip install torch\nprint('pip install')"}
    assert install_notes([{**quiet, "outputs": []}]) == []


@pytest.mark.parametrize("sandbox", ["off", pytest.param("required", marks=pytest.mark.host("bwrap"))])
def test_a_shell_command_exiting_non_zero_is_a_warning(tmp_path: Path, sandbox: str) -> None:
    """IPython keeps a ``!cmd``'s status in ``_exit_code`` and goes on: the run goes on too, and the
    result names the cell and the status; a command that succeeds says nothing, outputs are untouched."""
    cells = [_cell("import sys\nx = 1"), _cell("!false\ny = 2"), _cell("!true"), _cell("!exit 3"),
             _cell("print(_exit_code, y)"),
             _cell("print(type(_exit_code).__name__, hasattr(sys, 'last_value'))")]
    folder = _submission(tmp_path, cells)
    ex = _execute(folder, sandbox=sandbox)
    assert ex.outcome == "completed", ex.error
    notes = [w for w in ex.warnings if "shell command" in w]
    tail = "; IPython does not stop on it, so later cells ran without it"
    assert notes == [f"cell 1: the shell command `!false` exited with status 1{tail}",
                     f"cell 3: the shell command `!exit 3` exited with status 3{tail}"]
    assert _outputs(ex, 4)[0]["text"] == "3 2\n"  # the notebook's own view of _exit_code is as Jupyter's
    assert _outputs(ex, 5)[0]["text"] == "int False\n"  # nothing asked after a cell raised anything
    assert all(not _outputs(ex, i) for i in (0, 1, 2, 3))


def test_a_forged_exit_code_gives_no_bogus_or_oversized_warning(tmp_path: Path) -> None:
    """The notebook controls its kernel: an ``_exit_code`` it sets itself is read only as a short integer,
    and only for a cell that runs a shell command."""
    cells = [_cell("_exit_code = 'x' * 100_000\n!true" + "\n_exit_code = 'x' * 100_000"),
             _cell("_exit_code = 7  # no shell command here"),
             _cell("!true\n_exit_code = 10**9"),
             _cell("!true\n_exit_code = [1]"),
             _cell("!true\nclass Odd(int):\n    def __repr__(self):\n        return 'x' * 10_000\n"
                   "_exit_code = Odd(5)")]
    ex = _execute(_submission(tmp_path, cells))
    assert ex.outcome == "completed", ex.error
    assert [w for w in ex.warnings if "shell command" in w or "status" in w] == []


def test_a_failing_bash_cell_fails_the_run_clearly(tmp_path: Path) -> None:
    """IPython 8+ raises CalledProcessError for a failing ``%%bash`` cell: nbclient stops there."""
    folder = _submission(tmp_path, [_cell("x = 1"), _cell("%%bash\necho hi\nexit 4"), _cell("y = 2")])
    ex = _execute(folder)
    assert ex.outcome == "failed"
    assert ex.error is not None and ex.error.cell == 1 and ex.error.type == "CalledProcessError"
    assert "returned non-zero exit status 4" in ex.error.message
    from codeml_repro.authoring.hints import failed_hint

    assert "a `%%bash` or `%%sh` cell does since IPython 8" in failed_hint(ex.error.type, ex.error.message)

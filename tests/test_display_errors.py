"""An error raised while *displaying* a result is covered by ``raises-exception`` and ``allow_errors``.

IPython catches an exception of ``_repr_html_`` (and the like) in its display formatter and shows
its traceback as an error output. From IPython 9 the execute reply says ``error`` with no name;
before, it said ``ok`` (``showtraceback()`` from an ``except`` block makes that same pair here),
and papermill then failed the run on the error output whatever the cell's tags. nbclient and
myst-nb let a ``raises-exception`` cell (or ``allow_errors``) show it and go on; so does the runner.
Real kernels, notebooks built here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from codeml_repro.model.submission import Submission, SubmissionSpec
from tests.runner_helpers import run

BAD_REPR = "class Bad:\n    def _repr_html_(self):\n        raise ValueError('boom in repr')\nBad()"
SHOWN = (  # the error output and ``ok`` reply an IPython 8 display error gives
    "try:\n    raise ValueError('boom shown')\nexcept ValueError:\n    get_ipython().showtraceback()"
)
AFTER = "print('after', 6 * 7)"


def _submission(
    folder: Path, first: str, *, tagged: bool, metadata: dict[str, Any] | None = None
) -> Submission:
    folder.mkdir(parents=True)
    tags = {"tags": ["raises-exception"]} if tagged else {}
    nb = new_notebook(cells=[new_code_cell(first, metadata=tags), new_code_cell(AFTER)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.update(metadata or {})
    nbformat.write(nb, folder / "artifact.ipynb")
    spec = SubmissionSpec(title="T", authors=[{"name": "A"}], artifact={"notebook": "artifact.ipynb"})
    return Submission(folder.name, folder, spec)


def _after_ran(ex: Any) -> bool:
    return any("after 42" in str(o.get("text", "")) for o in ex.notebook.cells[1].get("outputs", []))


def test_a_repr_error_in_a_raises_exception_cell_does_not_fail_the_run(tmp_path: Path) -> None:
    ex = run(_submission(tmp_path / "repr", BAD_REPR, tagged=True))
    assert ex.outcome == "completed", ex.error
    assert _after_ran(ex)
    assert [(e.type, e.message, e.cell) for e in ex.allowed_errors] == [("ValueError", "boom in repr", 0)]


def test_a_shown_traceback_with_an_ok_reply_is_covered_by_the_tag(tmp_path: Path) -> None:
    ex = run(_submission(tmp_path / "shown", SHOWN, tagged=True))
    assert ex.outcome == "completed", ex.error  # papermill alone fails it on the error output
    assert _after_ran(ex)
    assert [(e.type, e.message) for e in ex.allowed_errors] == [("ValueError", "boom shown")]


def test_allow_errors_covers_a_repr_error(tmp_path: Path) -> None:
    allow = {"execution": {"allow_errors": True}}
    ex = run(_submission(tmp_path / "allow", BAD_REPR, tagged=False, metadata=allow))
    assert ex.outcome == "completed", ex.error
    assert _after_ran(ex)


def test_an_untagged_display_error_still_fails_the_run_with_its_own_name(tmp_path: Path) -> None:
    for name, source in (("repr", BAD_REPR), ("shown", SHOWN)):
        ex = run(_submission(tmp_path / f"untagged-{name}", source, tagged=False))
        assert ex.outcome == "failed"
        assert ex.error is not None and ex.error.type == "ValueError" and ex.error.cell == 0, ex.error

"""The status query: each submission's last result, or ``pending`` when its inputs changed.

A folder whose name is not a slug never gets a result file (its name is no file name), so
its status is worked out here, ``invalid`` with the slug rule as its error, instead of
``pending`` forever."""

from __future__ import annotations

import contextlib
from pathlib import Path

from codeml_repro.model.errors import ReproError, SubmissionInvalid
from codeml_repro.model.result import Result
from codeml_repro.model.skipkey import submission_inputs
from codeml_repro.model.submission import check_slug, discover, is_slug, load_submission
from codeml_repro.results.badges import earned_tiers
from codeml_repro.results.store import ResultStore
from codeml_repro.run.plan.outcome import invalid_status, pending_result


def current_status(root: Path) -> tuple[list[Result], list[str]]:
    """The status of every submission: its last result, or pending."""
    store = ResultStore(root)
    out = []
    for folder in discover(root):
        if not is_slug(folder.name):
            out.append(bad_name_status(folder.name))
            continue
        result = store.read(folder.name)
        sub = None
        with contextlib.suppress(ReproError):
            sub = load_submission(folder)
        inputs = submission_inputs(folder, sub)
        if result is None or result.inputs_key != inputs:
            result = pending_result(folder.name, title=sub.spec.title if sub else "")
        if sub is not None:  # links and reviews change without a re-run
            result = result.model_copy(update={"badges": earned_tiers(result.status, sub.spec, inputs)})
        out.append(result)
    return out, store.problems


def bad_name_status(name: str) -> Result:
    """``invalid``, saying the slug rule, for a folder named ``name`` that is not a slug."""
    try:
        check_slug(name)
    except SubmissionInvalid as exc:
        return invalid_status(name, exc.message)
    raise ValueError(f"{name!r} is a slug")  # callers ask only about names that are not

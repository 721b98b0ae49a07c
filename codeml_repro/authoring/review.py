"""Organizers' reviews: the block to paste into submission.yml, and the pull-request rule.

A review belongs to the version of the artifact it looked at, identified by
the submission's inputs key (the hash of its code, parameters, claims and
files; editing the title or adding a review does not change it). So a pull
request cannot both change an artifact and carry a review of it: the review's
key would be of another version.
"""

from __future__ import annotations

import datetime as dt

import yaml

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.submission import SUBMISSION_FILE, Submission
from codeml_repro.run.plan import submission_inputs


def review_block(sub: Submission, by: str, reusable: bool, note: str, date: dt.date) -> str:
    """``review:`` YAML for ``sub`` as it is now, ready to paste into its submission.yml."""
    if not by.strip():
        raise SubmissionInvalid("codeml-repro review: --by: give the reviewer's name")
    body = {
        "by": by.strip(),
        "date": date.isoformat(),
        "reusable": reusable,
        "note": note.strip(),
        "inputs": submission_inputs(sub.folder, sub),
    }
    if not body["note"]:
        del body["note"]
    return yaml.safe_dump({"review": body}, sort_keys=False, allow_unicode=True)


def stale_review_problem(sub: Submission) -> str | None:
    """The one-line problem when ``sub`` carries a review of another version, else None."""
    review = sub.spec.review
    if review is None or review.inputs == submission_inputs(sub.folder, sub):
        return None
    return (
        f"{sub.folder / SUBMISSION_FILE}: review.inputs: the review is of another version of the "
        "artifact; a pull request cannot change the artifact and carry its review: remove 'review' "
        "(the organizers review the new version after it is merged)"
    )

"""Organizers' reviews: ``codeml-repro review`` writes ``reviews/<slug>.yml``.

A review belongs to the version of the artifact it looked at, identified by the
submission's inputs key (the hash of its code, parameters, claims and files; editing
the title or writing a review does not change it), so a later change to the artifact
shows the review as stale. The file lives at the project root, outside the folder
authors write (see :mod:`codeml_repro.model.review`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.review import Review, review_path
from codeml_repro.model.skipkey import submission_inputs
from codeml_repro.model.submission import Submission
from codeml_repro.results.store import atomic_write

HEADER = (
    "# The organizers' review of submissions/{slug}/, written by 'codeml-repro review'.\n"
    "# Only organizers change reviews/ (.github/CODEOWNERS; the pull-request check refuses\n"
    "# a change here from anyone else). 'inputs' is the version reviewed: a later change to\n"
    "# the artifact shows this review as stale until it is reviewed again.\n"
)


def review_text(sub: Submission, by: str, reusable: bool, note: str, date: dt.date) -> str:
    """The text of ``reviews/<slug>.yml`` for ``sub`` as it is now."""
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
    Review.model_validate(body)  # what the loader will read back
    return HEADER.format(slug=sub.slug) + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def write_review(root: Path, sub: Submission, by: str, reusable: bool, note: str, date: dt.date) -> Path:
    """Write (or replace) the review of ``sub`` at ``root/reviews/<slug>.yml``; returns its path."""
    path = review_path(root, sub.slug)
    if path.is_symlink():
        raise SubmissionInvalid(f"{path}: is a symbolic link; remove it, a review is a plain file")
    atomic_write(path, review_text(sub, by, reusable, note, date).encode("utf-8"))
    return path

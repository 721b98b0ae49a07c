"""The human review of an artifact: ``reviews/<slug>.yml`` at the project root, never submission.yml.

ACM's *Artifacts Evaluated – Reusable* is a judgement a person makes; no
automated run can award it. A review records who looked, when, their verdict,
and the inputs key of the version they looked at, so a later change to the
artifact makes the review visibly stale instead of silently carried over.

Reviews live where authors cannot write them: ``reviews/`` is owned by the
organizers in ``.github/CODEOWNERS``, and the pull-request workflow fails a pull
request from outside the organization that changes it. A ``review:`` block in
``submission.yml`` (which authors write) is refused, so pasting a review there
awards nothing. ``codeml-repro review`` writes the file; :func:`load_review` reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.fields import StrictModel
from codeml_repro.model.problems import file_problem
from codeml_repro.model.safeyaml import load_mapping

INPUTS_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
REVIEWS_DIR = "reviews"
"""The folder of reviews at the project root (beside ``submissions/``), one file per slug."""


class Review(StrictModel):
    """``reviews/<slug>.yml`` (organizers only)."""

    by: str = Field(
        min_length=1, description='Reviewer name, or "artifact evaluation committee".'
    )
    date: dt.date = Field(description="Day of the review (YYYY-MM-DD).")
    reusable: bool = Field(description="True when the reviewers judged the artifact reusable.")
    note: str = Field(default="", description="A short note shown on the poster page.")
    inputs: str = Field(
        description="Inputs key of the reviewed version (written by 'codeml-repro review SLUG')."
    )

    @field_validator("inputs")
    @classmethod
    def _key(cls, value: str) -> str:
        if not INPUTS_KEY_RE.match(value):
            raise ValueError("must be the 32-hex-digit inputs key written by 'codeml-repro review SLUG'")
        return value


def review_path(root: Path, slug: str) -> Path:
    """Where the review of ``slug`` lives: ``ROOT/reviews/<slug>.yml``."""
    return root / REVIEWS_DIR / f"{slug}.yml"


def refuse_inline_review(path: Path, slug: str) -> SubmissionInvalid:
    """The error for a ``review:`` in ``path`` (a submission.yml): authors cannot review themselves."""
    return SubmissionInvalid(
        f"{path}: review: reviews are not written in submission.yml; the organizers keep them in "
        f"{REVIEWS_DIR}/{slug}.yml at the project root ('codeml-repro review'): remove 'review'"
    )


def load_review(root: Path, slug: str) -> Review | None:
    """The review of ``slug`` in ``root``, None when there is none; a file that is there but is not
    a review is :class:`SubmissionInvalid` with one line naming the file and the field."""
    path = review_path(root, slug)
    if path.is_symlink():
        raise SubmissionInvalid(f"{path}: is a symbolic link; a review is a plain file")
    if not path.is_file():
        return None
    raw = load_mapping(path, "(by, date, reusable, inputs)")
    try:
        return Review.model_validate(raw)
    except ValidationError as exc:
        raise SubmissionInvalid(file_problem(path, Review, exc)) from None

"""The human review of an artifact, written into submission.yml by organizers.

ACM's *Artifacts Evaluated – Reusable* is a judgement a person makes; no
automated run can award it. A ``review`` records who looked, when, their
verdict, and the inputs key of the version they looked at, so a later change to
the artifact makes the review visibly stale instead of silently carried over.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import Field, field_validator

from codeml_repro.model.fields import StrictModel

INPUTS_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class Review(StrictModel):
    """``review:`` in submission.yml (organizers only)."""

    by: str = Field(
        min_length=1, description='Reviewer name, or "artifact evaluation committee".'
    )
    date: dt.date = Field(description="Day of the review (YYYY-MM-DD).")
    reusable: bool = Field(description="True when the reviewers judged the artifact reusable.")
    note: str = Field(default="", description="A short note shown on the poster page.")
    inputs: str = Field(
        description="Inputs key of the reviewed version (printed by 'codeml-repro review SLUG')."
    )

    @field_validator("inputs")
    @classmethod
    def _key(cls, value: str) -> str:
        if not INPUTS_KEY_RE.match(value):
            raise ValueError("must be the 32-hex-digit inputs key printed by 'codeml-repro review SLUG'")
        return value

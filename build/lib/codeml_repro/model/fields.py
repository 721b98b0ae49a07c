"""What every model of submission.yml is built from: one strictness, one URL check.

Authors write these files by hand, so a misspelt key must be an error rather
than a value silently ignored, and a link must be a web address (never a
``file:`` or ``javascript:`` one, which the book would render).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

URL_RE = re.compile(r"^https?://[^\s<>\"']+$")


class StrictModel(BaseModel):
    """Unknown keys are errors (a misspelt key must not be ignored); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def check_url(value: str | None) -> str | None:
    """A pydantic validator: an http(s) URL, or None."""
    if value is not None and not URL_RE.match(value):
        raise ValueError("must be an http:// or https:// URL")
    return value

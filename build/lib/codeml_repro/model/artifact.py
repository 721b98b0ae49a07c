"""The ``artifact:`` section of submission.yml and the claims checked against it.

The notebook, its parameters, environment, resources, profiles, matrix and data,
validated field by field; :mod:`codeml_repro.model.submission` holds the rest of
the file (title, authors, links, review) and loads it.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from codeml_repro.model.budgets import MAX_TIMEOUT_S
from codeml_repro.model.fields import StrictModel
from codeml_repro.model.inputs import DataInput, check_data_list
from codeml_repro.model.matrix import check_matrix
from codeml_repro.model.resources import Resources, merge_timeout_alias

if TYPE_CHECKING:
    from codeml_repro.model.result import ClaimResult

FULL_PROFILE = "full"
PROFILE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")

Scalar = float | int | str | bool


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class EnvironmentSpec(StrictModel):
    """The era of a submission's environment: resolved as of a date, on a chosen interpreter."""

    as_of: date | None = Field(
        default=None,
        description="Resolve every requirement not pinned exactly (kernel packages too) as of this "
        "date (uv's --exclude-newer), e.g. 2024-06-01.",
    )
    python: str | None = Field(
        default=None,
        pattern=r"^3\.[0-9]{1,2}$",
        description='Interpreter version the kernel runs on, e.g. "3.11" (one the host has).',
    )


def _json_parameters(value: dict[str, Any]) -> dict[str, Any]:
    """Parameter names are identifiers and values JSON: papermill writes them into a cell."""
    for key in value:
        if not _is_name(key):
            raise ValueError(f"parameter name {key!r} is not a Python identifier")
        try:
            json.dumps(value[key], allow_nan=False)
        except (TypeError, ValueError):
            kind = type(value[key]).__name__
            problem = f"parameter {key!r} is a {kind}, not a JSON value (quote dates and times)"
            raise ValueError(problem) from None
    return value


class Artifact(StrictModel):
    notebook: str = Field(default="artifact.ipynb", description="Notebook path inside the folder.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values injected by papermill into the parameters cell."
    )
    timeout: int | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S,
        description=f"Whole-run seconds, at most {MAX_TIMEOUT_S} (an alias of resources.timeout).",
    )
    requirements: str | None = Field(
        default=None, description="requirements.txt for a separate environment."
    )
    environment: EnvironmentSpec = Field(
        default_factory=EnvironmentSpec, description="The environment's era: as_of date, python version."
    )
    resources: Resources = Field(
        default_factory=Resources, description="GPUs, memory, CPUs and time one run needs."
    )
    profiles: dict[str, Profile] = Field(
        default_factory=dict,
        description="Named variants (e.g. smoke) overriding parameters, resources and claims; "
        "the top-level values are the 'full' profile.",
    )
    matrix: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Versions to run on, per package of requirements.txt: '1.5.2', '1.3.*', "
        "a PEP 440 specifier or 'latest'; one run per combination.",
    )

    @field_validator("matrix", mode="before")
    @classmethod
    def _quoted_versions(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for package, entries in value.items():
                for entry in entries if isinstance(entries, list) else [entries]:
                    if isinstance(entry, int | float):
                        raise ValueError(f"{package}: write {entry!r} in quotes (YAML reads it as a number)")
        return value

    @field_validator("matrix")
    @classmethod
    def _matrix_entries(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return check_matrix(value)

    data: list[DataInput] = Field(
        default_factory=list,
        description="Inputs fetched and verified outside the sandbox, mounted read-only (see the guide).",
    )
    _data = field_validator("data")(check_data_list)

    _timeout_alias = model_validator(mode="before")(merge_timeout_alias)

    @model_validator(mode="after")
    def _mirror_timeout(self) -> Artifact:
        """``timeout`` and ``resources.timeout`` always agree once validated."""
        if self.timeout is None and self.resources.timeout is not None:
            object.__setattr__(self, "timeout", self.resources.timeout)
        return self

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, value: dict[str, Profile]) -> dict[str, Profile]:
        for name in value:
            if name == FULL_PROFILE:
                raise ValueError("'full' is the top-level values; name the variant otherwise")
            if not PROFILE_RE.match(name):
                raise ValueError(f"profile name {name!r}: use lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("notebook", "requirements")
    @classmethod
    def _inside_folder(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in Path(value).parts):
            raise ValueError("must be a relative path inside the submission folder")
        return value

    _identifiers = field_validator("parameters")(_json_parameters)

MAX_REGEX_CHARS = 300
"""Longest ``output.regex``: a label and a number need far less."""
CELL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # nbformat 4.5's cell id


class OutputSource(StrictModel):
    """Where a claim's value is printed: a cell (by index or nbformat id) and a regex whose first
    group is the value, so an unchanged notebook that prints its numbers can be claimed."""

    cell: int | str = Field(
        description="The cell: its index as 'codeml-repro check' prints it (0 is the first cell), "
        "or its nbformat cell id."
    )
    regex: str = Field(
        max_length=MAX_REGEX_CHARS,
        description='A regular expression searched in the cell\'s printed text and text/plain '
        'results; its first group is the value (read as a number when it is one), e.g. '
        '"accuracy: ([0-9.]+)".',
    )

    @field_validator("cell", mode="before")
    @classmethod
    def _index_or_id(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and value < 0):
            raise ValueError("a cell index (0, 1, ...) or a cell id")
        if isinstance(value, str) and not CELL_ID_RE.match(value.strip()):
            raise ValueError(f"{value!r} is no cell id (letters, digits, '-' and '_')")
        return value

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        import regex  # the runner searches with it under a timeout (run/batch/outputclaims.py)

        try:
            compiled = regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        if compiled.groups < 1:
            raise ValueError("needs a group around the value, e.g. \"accuracy: ([0-9.]+)\"")
        return value


class Claim(StrictModel):
    name: str = Field(
        description="The name the notebook records the value under (with output: the claim's label)."
    )
    expected: Scalar = Field(description="The value the paper reports.")
    rel_tol: float | None = Field(default=None, ge=0, description="Relative tolerance.")
    abs_tol: float | None = Field(default=None, ge=0, description="Absolute tolerance.")
    description: str = Field(default="", description="Where the paper reports it.")
    output: OutputSource | None = Field(
        default=None,
        description="Read the value from a cell's printed output instead of record(): "
        '{cell: 12, regex: "accuracy: ([0-9.]+)"}; the notebook needs no edit.',
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _is_name(value):
            raise ValueError(f"{value!r} is not a Python identifier")
        return value

    @model_validator(mode="after")
    def _number_when_tolerant(self) -> Claim:
        expected = self.expected
        if isinstance(expected, float) and not math.isfinite(expected):
            raise ValueError("expected: must be a finite number")
        if isinstance(expected, str) and (self.rel_tol is not None or self.abs_tol is not None):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if _looks_numeric(expected) else ""
            raise ValueError(f"expected: {expected!r} is text, but a tolerance needs a number{hint}")
        return self


def describe_tolerance(claim: Claim | ClaimResult) -> str:
    """The tolerance in the words of submission.yml, e.g. 'rel_tol 0.01' (a claim as written,
    or as checked: both the check's report and the book say it so)."""
    parts = []
    if claim.rel_tol is not None:
        parts.append(f"rel_tol {claim.rel_tol:g}")
    if claim.abs_tol is not None:
        parts.append(f"abs_tol {claim.abs_tol:g}")
    return ", ".join(parts) or "exact"


def unique_names(value: list[Claim]) -> list[Claim]:
    """Results are matched to claims by name: a repeated name would hide one of them."""
    names = [c.name for c in value]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"claim names must be unique; repeated: {', '.join(dupes)}")
    return value


class Profile(StrictModel):
    """A variant of the run (e.g. a quick ``smoke`` run for pull requests): overrides only."""

    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of artifact.parameters for this profile."
    )
    resources: Resources = Field(
        default_factory=Resources, description="Overrides of artifact.resources for this profile."
    )
    claims: list[Claim] | None = Field(
        default=None,
        description="This profile's own claims; without them it checks none and cannot earn reproduced.",
    )

    _identifiers = field_validator("parameters")(_json_parameters)

    @field_validator("claims")
    @classmethod
    def _unique_claims(cls, value: list[Claim] | None) -> list[Claim] | None:
        return None if value is None else unique_names(value)


Artifact.model_rebuild()  # its profiles refer to Profile, defined after it

"""The submission model: ``submissions/<slug>/submission.yml``, validated.

Every problem is reported as one line naming the file and the field, with a
did-you-mean for misspelt keys, so an author can fix it without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from codeml_repro.model.archival import normalize_doi, normalize_swhid
from codeml_repro.model.artifact import FULL_PROFILE, Artifact, Claim, unique_names
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.fields import StrictModel, check_url
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.problems import file_problem
from codeml_repro.model.review import Review, load_review, refuse_inline_review
from codeml_repro.model.safeyaml import load_mapping
from codeml_repro.model.shownpaths import project_root

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
"""For JSON Schema and pydantic, whose ``$`` is the end of the text (no trailing newline)."""
SLUG_RE = re.compile(SLUG_PATTERN.removesuffix("$") + r"\Z")
"""For Python's ``re``, whose ``$`` would also match before a final newline."""
MAX_SLUG = 64
SUBMISSION_FILE = "submission.yml"


class Author(StrictModel):
    name: str = Field(min_length=1, description="Full name as on the paper.")
    affiliation: str | None = Field(default=None, description="Institution or company.")
    url: str | None = Field(default=None, description="Home page (http/https).")

    _url = field_validator("url")(check_url)


class Links(StrictModel):
    openreview: str | None = Field(default=None, description="OpenReview forum URL.")
    pdf: str | None = Field(default=None, description="PDF of the paper.")
    code: str | None = Field(default=None, description="Code repository.")
    video: str | None = Field(default=None, description="Recorded talk.")
    poster: str | None = Field(default=None, description="Poster PDF or image.")

    doi: str | None = Field(
        default=None,
        description="DOI of the archived code (e.g. 10.5281/zenodo.1234567); earns Available.",
    )
    swh: str | None = Field(
        default=None, description="Software Heritage id of the code (swh:1:dir:...); earns Available."
    )

    _urls = field_validator("openreview", "pdf", "code", "video", "poster")(check_url)

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        return None if value is None else normalize_doi(value)

    @field_validator("swh")
    @classmethod
    def _swh(cls, value: str | None) -> str | None:
        return None if value is None else normalize_swhid(value)

    @property
    def archival_id(self) -> str | None:
        """The identifier that earns *Available*: the DOI, else the SWHID, else None."""
        return self.doi or self.swh


class SubmissionSpec(StrictModel):
    """What an author writes in submission.yml."""

    title: str = Field(min_length=1)
    authors: list[Author] = Field(min_length=1)
    abstract: str = ""
    links: Links = Field(default_factory=Links)
    session: str | None = None
    example: bool = Field(default=False, description="True for the toolkit's own examples.")
    openreview_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The paper's OpenReview note id; written by 'codeml-repro import openreview', "
        "which finds this folder again by it.",
    )
    artifact: Artifact = Field(default_factory=Artifact)
    claims: list[Claim] = Field(default_factory=list)
    review: SkipJsonSchema[Review | None] = Field(
        default=None,
        description="Organizers' human review, from reviews/<slug>.yml (set by load_submission); "
        "submission.yml cannot hold one (see model/review.py).",
    )

    @field_validator("claims")
    @classmethod
    def _unique_claims(cls, value: list[Claim]) -> list[Claim]:
        return unique_names(value)


@dataclass(frozen=True)
class Submission:
    """A validated submission and where it lives."""

    slug: str
    folder: Path
    spec: SubmissionSpec
    pins: tuple[tuple[str, str], ...] = ()
    """For one cell of ``artifact.matrix``: (package, specifier) replacing its requirements line."""
    profile: str = FULL_PROFILE  # the spec holds this profile's values (see model.profiles)

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.spec.artifact.notebook

    def run_inputs(self) -> dict[str, Any]:
        """The part of submission.yml a run depends on (for the skip key)."""
        return self.spec.model_dump(mode="json", include={"artifact", "claims"})

    @property
    def requirements_path(self) -> Path | None:
        req = self.spec.artifact.requirements
        if req is None and (self.folder / "requirements.txt").is_file():
            req = "requirements.txt"
        return self.folder / req if req else None


def describe_error(path: Path, err: ValidationError) -> str:
    """The first validation problem as 'file: field: problem (hint)'."""
    return file_problem(path, SubmissionSpec, err)


def is_slug(text: str) -> bool:
    """A plain slug: it becomes a URL and file names (``results/<slug>.json``)."""
    return len(text) <= MAX_SLUG and SLUG_RE.match(text) is not None


def check_slug(slug: str) -> None:
    """Slugs become URLs and file names: keep them plain."""
    if not is_slug(slug):
        shown = log_line(repr(slug[:80] + ("..." if len(slug) > 80 else "")))
        raise SubmissionInvalid(
            f"submissions/{shown}: slug (the folder name) must be lowercase letters, digits and '-' "
            f"between them, at most {MAX_SLUG} characters (e.g. 'my-paper-2025')"
        )


def load_spec(path: Path) -> SubmissionSpec:
    """Parse and validate one submission.yml."""
    missing = "file not found (create it with 'codeml-repro new')"
    raw = load_mapping(path, "of keys to values", missing=missing)
    if "review" in raw:  # authors write this file: a review here would be one they gave themselves
        raise refuse_inline_review(path, path.parent.name)
    try:
        return SubmissionSpec.model_validate(raw)
    except ValidationError as exc:
        raise SubmissionInvalid(describe_error(path, exc)) from None


def load_submission(folder: Path) -> Submission:
    """Load ``folder/submission.yml``, with the organizers' review from ``reviews/<slug>.yml`` at
    the project root when there is one; the folder name is the slug."""
    check_slug(folder.name)
    spec = load_spec(folder / SUBMISSION_FILE)
    review = load_review(project_root(folder), folder.name)
    if review is not None:
        spec = spec.model_copy(update={"review": review})
    return Submission(slug=folder.name, folder=folder, spec=spec)


def discover(root: Path, slugs: list[str] | None = None) -> list[Path]:
    """Submission folders of every edition (``submissions/``, ``editions/<year>/submissions/``), by slug.

    Results are keyed by slug, so a slug used by two editions is refused, naming both folders.
    """
    from codeml_repro.model.editions import submission_bases

    found: dict[str, Path] = {}
    for _edition, base in submission_bases(root):
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if not folder.is_dir() or folder.name.startswith((".", "_")):
                continue
            if folder.name in found:
                raise SubmissionInvalid(
                    f"{folder}: slug '{folder.name}' is also {found[folder.name]}; results are kept "
                    "by slug, so rename the newer folder"
                )
            found[folder.name] = folder
    if slugs:
        missing = [s for s in slugs if s not in found]
        if missing:
            raise SubmissionInvalid(f"{root / 'submissions'}: no submission named {', '.join(missing)}")
        return [found[s] for s in sorted(set(slugs))]
    return [found[s] for s in sorted(found)]

"""The submission model: ``submissions/<slug>/submission.yml``, validated.

Every problem is reported as one line naming the file and the field, with a
did-you-mean for misspelt keys, so an author can fix it without reading code.
"""

from __future__ import annotations

import difflib
import json
import keyword
import math
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codeml_repro.model.archival import normalize_doi, normalize_swhid
from codeml_repro.model.budgets import MAX_TIMEOUT_S
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.inputs import DataInput, check_data_list
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.matrix import check_matrix
from codeml_repro.model.problems import first_problem
from codeml_repro.model.requirements import check_requirements
from codeml_repro.model.resources import Resources, merge_timeout_alias
from codeml_repro.model.review import Review
from codeml_repro.model.safeyaml import load_bounded
from codeml_repro.model.text import cell_source

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
"""For JSON Schema and pydantic, whose ``$`` is the end of the text (no trailing newline)."""
SLUG_RE = re.compile(SLUG_PATTERN.removesuffix("$") + r"\Z")
"""For Python's ``re``, whose ``$`` would also match before a final newline."""
MAX_SLUG = 64
SUBMISSION_FILE = "submission.yml"
FULL_PROFILE = "full"
PROFILE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
URL_RE = re.compile(r"^https?://[^\s<>\"']+$")

Scalar = float | int | str | bool


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_url(value: str | None) -> str | None:
    if value is not None and not URL_RE.match(value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class Author(_Strict):
    name: str = Field(min_length=1, description="Full name as on the paper.")
    affiliation: str | None = Field(default=None, description="Institution or company.")
    url: str | None = Field(default=None, description="Home page (http/https).")

    _url = field_validator("url")(_check_url)


class Links(_Strict):
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

    _urls = field_validator("openreview", "pdf", "code", "video", "poster")(_check_url)

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


class EnvironmentSpec(_Strict):
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


class Artifact(_Strict):
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




class Claim(_Strict):
    name: str = Field(description="The name the notebook records the value under.")
    expected: Scalar = Field(description="The value the paper reports.")
    rel_tol: float | None = Field(default=None, ge=0, description="Relative tolerance.")
    abs_tol: float | None = Field(default=None, ge=0, description="Absolute tolerance.")
    description: str = Field(default="", description="Where the paper reports it.")

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


def _unique_names(value: list[Claim]) -> list[Claim]:
    names = [c.name for c in value]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"claim names must be unique; repeated: {', '.join(dupes)}")
    return value


class Profile(_Strict):
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
        return None if value is None else _unique_names(value)


Artifact.model_rebuild()  # its profiles refer to Profile, defined after it


class SubmissionSpec(_Strict):
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
    review: Review | None = Field(default=None, description="Organizers' human review of the artifact.")

    @field_validator("claims")
    @classmethod
    def _unique_claims(cls, value: list[Claim]) -> list[Claim]:
        return _unique_names(value)


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
    where, problem = first_problem(SubmissionSpec, err)
    return log_line(f"{path}: {where or '(top level)'}: {problem}")


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
    try:
        raw = load_bounded(path)
    except FileNotFoundError:
        raise SubmissionInvalid(f"{path}: file not found (create it with 'codeml-repro new')") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = log_line(" ".join(str(exc).split())[:300])
        raise SubmissionInvalid(f"{path}: not valid YAML: {problem}") from None
    except OSError as exc:
        raise SubmissionInvalid(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise SubmissionInvalid(f"{path}: (top level): must be a mapping of keys to values")
    try:
        return SubmissionSpec.model_validate(raw)
    except ValidationError as exc:
        raise SubmissionInvalid(describe_error(path, exc)) from None


def load_submission(folder: Path) -> Submission:
    """Load ``folder/submission.yml``; the folder name is the slug."""
    check_slug(folder.name)
    spec = load_spec(folder / SUBMISSION_FILE)
    return Submission(slug=folder.name, folder=folder, spec=spec)


def check_no_symlinks(sub: Submission) -> None:
    """Files are read on the host: a link could point anywhere on it."""
    for dirpath, dirnames, filenames in os.walk(sub.folder, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                raise SubmissionInvalid(
                    f"{path}: is a symbolic link; submissions must hold real files (copy it in)"
                )


def check_notebook(sub: Submission) -> None:
    """No symlinks; the artifact exists, is JSON and is a valid nbformat v4 notebook."""
    check_no_symlinks(sub)
    path = sub.notebook_path
    field = f"{sub.folder / SUBMISSION_FILE}: artifact.notebook"
    if not path.is_file():
        raise SubmissionInvalid(f"{field}: {path} does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SubmissionInvalid(f"{path}: not JSON ({exc}); save it again from Jupyter") from None
    import nbformat
    from nbformat.validator import ValidationError as NbValidationError

    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        raise SubmissionInvalid(f"{path}: nbformat: must be a version 4 notebook")
    try:
        nbformat.validate(nbformat.from_dict(raw))
    except NbValidationError as exc:
        where = "/".join(str(p) for p in exc.path) if getattr(exc, "path", None) else "(notebook)"
        raise SubmissionInvalid(f"{path}: {where}: not a valid notebook: {exc.message}") from None
    check_language(path, raw)
    check_parameters(sub, raw)
    req = sub.requirements_path
    if sub.spec.artifact.requirements and req is not None and not req.is_file():
        where = f"{sub.folder / SUBMISSION_FILE}: artifact.requirements"
        raise SubmissionInvalid(f"{where}: {req} does not exist")
    if req is not None and req.is_file():
        check_requirements(req)  # data, never options: see model/requirements.py


RUNNABLE_LANGUAGES = ("python",)


def check_language(path: Path, notebook: dict[str, Any]) -> None:
    """A notebook in another language must not run its code in a Python kernel."""
    meta = notebook.get("metadata") or {}
    for field, key in (("kernelspec", "language"), ("language_info", "name")):
        section = meta.get(field)
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, str) and value.strip().lower() not in RUNNABLE_LANGUAGES:
            raise SubmissionInvalid(
                f"{path}: metadata.{field}.{key}: a {value!r} notebook cannot run here; the toolkit "
                f"runs notebooks in {', '.join(RUNNABLE_LANGUAGES)} only (save it with a Python kernel)"
            )


def _assigned_names(source: str) -> set[str] | None:
    """Names a parameters cell assigns (parsed, never run); None if it does not parse."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_parameters(sub: Submission, notebook: dict[str, Any]) -> None:
    """papermill ignores parameters silently when no cell takes them: say so instead."""
    artifact = sub.spec.artifact
    named = {f"artifact.parameters.{name}": name for name in artifact.parameters}
    for profile, variant in artifact.profiles.items():
        named.update({f"artifact.profiles.{profile}.parameters.{name}": name for name in variant.parameters})
    if not named:
        return
    cells = [
        c for c in notebook.get("cells", [])
        if c.get("cell_type") == "code" and "parameters" in (c.get("metadata") or {}).get("tags", [])
    ]
    if not cells:
        return  # papermill injects them at the top, as it does elsewhere; the run warns about it
    source = cells[0].get("source", "")
    assigned = _assigned_names(cell_source(source))
    if assigned is None:
        return  # e.g. IPython magics: papermill still injects; nothing to check here
    for field, name in named.items():
        if name not in assigned:
            close = difflib.get_close_matches(name, sorted(assigned), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; set a default for it in that cell"
            raise SubmissionInvalid(
                f"{sub.folder / SUBMISSION_FILE}: {field}: not assigned in the 'parameters' cell{hint}"
            )


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

"""``artifact.data``: the files and model weights a notebook reads, declared with their identity.

A notebook runs with no network, so everything it reads that is not in the
submission folder is declared here: where it comes from (a URL, a DOI as pooch
resolves them, or a Hugging Face repository at a pinned commit), its sha256
(the pinned commit for ``hf``), and where the notebook finds it. The run
fetches and verifies each input outside the sandbox and mounts it read-only.
An entry with no source verifies a file shipped in the folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from codeml_repro.model.fields import StrictModel, check_url

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
HF_REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
DEFAULT_DATA_BUDGET = 5 * 1024**3
# ``place``: a library's own cache under the kernel's home (run/sandbox/downloads.py places it)
PLACE_RE = re.compile(r"^(seaborn|sklearn|pooch:[A-Za-z0-9][\w.-]*|~(/[\w.-]+)*)$")


def relative_inside(value: str) -> str:
    """A path the notebook opens from its working folder: relative, no '..', not the folder."""
    path = PurePosixPath(value)
    if value.startswith("/") or "\\" in value or ".." in path.parts or str(path) in {"", "."}:
        raise ValueError("must be a relative path inside the submission folder (e.g. data/train.csv)")
    return path.as_posix()


class HfSource(StrictModel):
    """A Hugging Face Hub repository at one commit (the commit is its identity)."""

    repo: str = Field(description="Repository id, e.g. 'distilbert/distilbert-base-uncased'.")
    revision: str = Field(description="The full 40-hex commit id (a branch or tag can move).")
    files: list[str] = Field(
        default_factory=list, description="Only files matching these patterns (e.g. '*.json'); default all."
    )
    type: Literal["model", "dataset"] = Field(default="model", description="Repository type.")

    @field_validator("repo")
    @classmethod
    def _repo_id(cls, value: str) -> str:
        if not HF_REPO_RE.match(value):
            raise ValueError("must be a repository id like 'org/name'")
        return value

    @field_validator("revision")
    @classmethod
    def _commit(cls, value: str) -> str:
        if not COMMIT_RE.match(value.lower()):
            raise ValueError(
                f"{value!r} is not a 40-hex commit id: pin the commit (see the repository's history)"
            )
        return value.lower()


class DataInput(StrictModel):
    """One declared input: a source (or none: a shipped file), its identity and its place."""

    url: str | None = Field(default=None, description="http(s) URL of the file.")
    doi: str | None = Field(default=None, description="Zenodo, figshare or Dataverse DOI (with `file`).")
    file: str | None = Field(default=None, description="The file's name in the DOI's record.")
    hf: HfSource | None = Field(default=None, description="A Hugging Face repository at a pinned commit.")
    sha256: str | None = Field(default=None, description="64 hex digits (`codeml-repro hash FILE`).")
    path: str | None = Field(default=None, description="Where the notebook finds it, e.g. data/train.csv.")
    unpack: Literal["zip", "tar"] | None = Field(
        default=None, description="Unpack the archive; `path` is then the folder of its contents."
    )
    size: int | None = Field(default=None, gt=0, description="Bytes (progress and an early budget check).")
    place: str | None = Field(default=None, description=(
        "Put the file in a library's own cache instead of the submission folder, `path` then being "
        "relative to it: seaborn, sklearn, pooch:<app>, or a folder under the kernel's home (~/.keras)."))
    license: str | None = Field(default=None, description="The data's license, e.g. CC-BY-4.0.")
    description: str | None = Field(default=None, description="What it is, for readers.")

    _url = field_validator("url")(check_url)

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removeprefix("doi:").removeprefix("https://doi.org/")
        if not DOI_RE.match(value):
            raise ValueError("must be a DOI like 10.5281/zenodo.3939050")
        return value

    @field_validator("sha256")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower().removeprefix("sha256:")
        if not SHA256_RE.match(value):
            raise ValueError("must be 64 hex digits (get it with `codeml-repro hash FILE`)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else relative_inside(value)

    @field_validator("place")
    @classmethod
    def _place(cls, value: str | None) -> str | None:
        if value is not None and (not PLACE_RE.match(value) or ".." in value.split("/")):
            raise ValueError("must be seaborn, sklearn, pooch:<app> or a folder under the home (~/.keras)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DataInput:
        sources = [name for name in ("url", "doi", "hf") if getattr(self, name) is not None]
        if len(sources) > 1:
            raise ValueError(f"give one source, not {' and '.join(sources)}")
        if self.hf is not None:
            for name in ("sha256", "path", "unpack", "file", "place"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: not used with hf (the pinned revision is its identity)")
            return self
        if self.sha256 is None:
            raise ValueError("sha256: missing (required; get it with `codeml-repro hash FILE`)")
        if self.path is None:
            raise ValueError("path: missing (where the notebook finds it, e.g. data/train.csv)")
        if (self.doi is None) != (self.file is None):
            raise ValueError("doi and file go together: the DOI of the record and the file's name in it")
        if self.unpack is not None and not sources:
            raise ValueError("unpack: only for a downloaded archive (a shipped file is used as it is)")
        if self.place is not None and not sources:
            raise ValueError("place: only for a downloaded input (a shipped file stays in the folder)")
        return self

    @property
    def source(self) -> Literal["url", "doi", "hf", "shipped"]:
        if self.url is not None:
            return "url"
        if self.doi is not None:
            return "doi"
        return "hf" if self.hf is not None else "shipped"

    @property
    def name(self) -> str:
        """What readers and messages call it: its path, or the repository."""
        if self.hf is not None:
            return f"{self.hf.repo}@{self.hf.revision[:10]}"
        return self.path or ""

    @property
    def location(self) -> str:
        """Where it comes from: a URL (a DOI as its resolver URL), or the path it is shipped at."""
        if self.url is not None:
            return self.url
        if self.doi is not None:
            return f"https://doi.org/{self.doi}"
        if self.hf is not None:
            kind = "datasets/" if self.hf.type == "dataset" else ""
            return f"https://huggingface.co/{kind}{self.hf.repo}/tree/{self.hf.revision}"
        return self.path or ""


def check_data_list(entries: list[DataInput]) -> list[DataInput]:
    """Two entries may not claim the same place (or one inside the other)."""
    paths = [PurePosixPath(f"@{e.place}" if e.place else "", e.path) for e in entries if e.path is not None]
    for i, one in enumerate(paths):
        for other in paths[i + 1 :]:
            if one == other or one in other.parents or other in one.parents:
                raise ValueError(f"paths {one} and {other} overlap: each input needs its own place")
    return entries


def declared_bytes(entries: list[DataInput]) -> int:
    """The sum of the declared sizes (undeclared ones count 0 until downloaded)."""
    return sum(e.size or 0 for e in entries)


def budget_problem(entries: list[DataInput], budget_bytes: int) -> str | None:
    """Why the declared sizes cannot fit the data budget (None when they can)."""
    total = declared_bytes(entries)
    if total <= budget_bytes:
        return None
    return (
        f"artifact.data: the declared sizes add up to {total} bytes, over the data budget of "
        f"{budget_bytes} bytes; use a smaller subset of the data"
    )


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks (what ``codeml-repro hash`` prints)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

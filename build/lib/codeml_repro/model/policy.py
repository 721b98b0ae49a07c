"""The run policy: budgets and isolation, validated once and passed around.

Every budget is part of the skip key: a stricter budget must re-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codeml_repro.model import budgets
from codeml_repro.model.inputs import DEFAULT_DATA_BUDGET
from codeml_repro.model.matrix import DEFAULT_MAX_CELLS

SandboxMode = Literal["required", "auto", "off"]
EnvMode = Literal["auto", "current"]
INDEX_URL_VAR = "CODEML_INDEX_URL"
FIND_LINKS_VAR = "CODEML_FIND_LINKS"


class IndexSettings(BaseModel):
    """Where environments get their packages: the maintainer's choice, never the author's.

    Filled by the CLI from ``--index-url`` and ``--find-links`` (else ``CODEML_INDEX_URL`` and
    ``CODEML_FIND_LINKS``) and handed to every uv call that builds an environment: ordinary
    requirements, matrix cells and bisect probes alike. Unset, uv uses its own default index.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index_url: str | None = Field(default=None, description="Replaces the default package index.")
    find_links: str | None = Field(default=None, description="A folder (or page) of wheels, searched too.")

    @classmethod
    def from_environ(cls, source: Mapping[str, str]) -> IndexSettings:
        """The settings in ``CODEML_INDEX_URL`` / ``CODEML_FIND_LINKS`` of ``source`` (blank: unset);
        only the CLI hands it the process environment."""
        return cls(
            index_url=source.get(INDEX_URL_VAR, "").strip() or None,
            find_links=source.get(FIND_LINKS_VAR, "").strip() or None,
        )

    def with_options(self, index_url: str | None, find_links: str | None) -> IndexSettings:
        """These settings overridden by command-line options (``None`` keeps a setting)."""
        return IndexSettings(
            index_url=index_url or self.index_url, find_links=find_links or self.find_links
        )

    @property
    def is_default(self) -> bool:
        return self.index_url is None and self.find_links is None


def default_cache() -> Path:
    """``~/.cache/codeml-repro``: the cache folder unless the caller names another (the CLI reads
    ``CODEML_CACHE``); never read from the environment here, so ``RunPolicy()`` is one folder."""
    return Path.home() / ".cache" / "codeml-repro"


class RunPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=budgets.TIMEOUT_S, gt=0, description="Whole-run wall-clock budget.")
    max_timeout_s: float = Field(default=budgets.MAX_TIMEOUT_S, gt=0, description="Cap on artifact.timeout.")
    cell_timeout_s: float = Field(default=budgets.CELL_TIMEOUT_S, gt=0, description="Per-cell budget.")
    max_output_bytes: int = Field(default=budgets.MAX_OUTPUT_BYTES, gt=0, description="Cap on all outputs.")
    memory_bytes: int = Field(default=budgets.MEMORY_BYTES, gt=0, description="Address-space cap.")
    max_processes: int = Field(default=budgets.MAX_PROCESSES, gt=0, description="Processes in the sandbox.")
    max_file_bytes: int = Field(default=budgets.MAX_FILE_BYTES, gt=0, description="Largest file written.")
    scratch_bytes: int = Field(default=budgets.SCRATCH_BYTES, gt=0, description="Bytes added to its folder.")
    scratch_files: int = Field(
        default=budgets.SCRATCH_FILES, gt=0, le=2**31, description="Files added to its folder."
    )  # a tmpfs takes at most 2**32 - 1 inodes
    cpu_seconds: int = Field(default=budgets.CPU_SECONDS, gt=0, description="CPU time of the kernel.")
    data_bytes: int = Field(default=DEFAULT_DATA_BUDGET, gt=0, description="Data budget per submission.")
    sandbox: SandboxMode = "auto"
    env: EnvMode = "auto"
    max_matrix_cells: int = Field(
        default=DEFAULT_MAX_CELLS, gt=0, description="Most runs one artifact.matrix may ask for."
    )
    index: IndexSettings | None = Field(
        default=None,
        description="Package sources of every environment (not part of the skip key); "
        "None: uv's default index.",
    )

    fetch_timeout_s: float = Field(
        default=budgets.FETCH_TIMEOUT_S, gt=0, exclude=True,
        description="Seconds the whole fetch stage may take; unfinished inputs then fail.")
    fetch_min_rate: int = Field(
        default=budgets.FETCH_MIN_RATE, ge=0, exclude=True,
        description="Bytes per second an input must average over fetch_rate_window_s, else it fails.")
    fetch_rate_window_s: float = Field(
        default=budgets.FETCH_RATE_WINDOW_S, gt=0, exclude=True,
        description="The window of the rate rule (also the longest wait for a first byte).")
    cache_bytes: int = Field(
        default=budgets.CACHE_BYTES, gt=0, exclude=True,
        description="Bytes one batch may add to the data cache (downloads and unpacked archives).")
    allow_private_urls: bool = Field(
        default=False, exclude=True,
        description="Fetch from loopback/private/link-local addresses (the maintainer's, for tests and "
        "private mirrors); the CLI sets it from CODEML_ALLOW_PRIVATE_URLS.")
    data_mirror: str | None = Field(
        default=None, exclude=True, pattern=r"^https?://\S+$",
        description="A content-addressed mirror asked first as {URL}/sha256/{hash}; None: no mirror "
        "(the CLI sets it from CODEML_DATA_MIRROR).")

    cache: Path = Field(
        # looked up at each RunPolicy(): a test session makes it its own folder (tests/conftest.py)
        default_factory=lambda: default_cache(), exclude=True,
        description="The folder of cached environments (envs/), the data cache (data/) and upload "
        "dates: where results come from, never what they say (the CLI sets it from CODEML_CACHE).")
    offline: bool = Field(
        default=False, exclude=True,
        description="Environments come from uv's cache and local wheels only; package indexes are "
        "not asked (the CLI sets it from CODEML_OFFLINE).")
    prestart: bool = Field(
        default=True, exclude=True,
        description="Start the next run's kernel while one runs (the CLI turns it off with "
        "CODEML_PREWARM=0, a switch for benchmarks).")
    bwrap: str | None = Field(
        default=None, exclude=True,
        description="The bwrap program; None: bwrap on PATH; empty: none, as if missing "
        "(the CLI sets it from CODEML_BWRAP, for tests and unusual hosts).")

    kernels: dict[str, str] | None = Field(
        default=None,
        description="Notebook language -> host kernelspec for languages other than Python (the "
        "maintainer's, never the author's); None: none (the CLI sets it from --kernel-for or "
        "CODEML_KERNELS).",
    )

    def kernel_map(self) -> dict[str, str]:
        """Languages with a configured kernel (``--kernel-for``, else ``CODEML_KERNELS``)."""
        return dict(self.kernels or {})

    def package_sources(self) -> IndexSettings:
        """The index settings environments are built from (uv's default index when unset)."""
        return self.index if self.index is not None else IndexSettings()

    def effective_timeout(self, artifact_timeout: int | None) -> float:
        """The author's timeout, capped by policy; else the policy default."""
        if artifact_timeout is None:
            return self.timeout_s
        return min(float(artifact_timeout), self.max_timeout_s)

    def budget_key(self) -> dict[str, object]:
        """The part of the policy that changes outcomes (for the skip key).

        Isolation counts too: a result from ``--sandbox off`` must not stand in
        for a sandboxed run. The package index does not: where wheels come from
        is the maintainer's plumbing, and each run records the versions it got.
        """
        return self.model_dump(exclude={"index"})

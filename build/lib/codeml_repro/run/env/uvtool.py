"""How the toolkit calls uv: which binary, with which sources, in which environment.

uv is the one tool that reaches a package index, so its environment is an
allow-list (locale, paths, proxies, ``UV_*`` settings) that never carries a
token, and its sources are the maintainer's settings, never the author's.
Its multi-line errors are folded into the one line a result can show. The file names
those sources list are read here too (:func:`file_version`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from codeml_repro.model.errors import UvMissing
from codeml_repro.model.policy import IndexSettings
from codeml_repro.model.text import shorten

# Passed from the runner's environment to uv (which never gets tokens or other secrets).
UV_ENV_ALLOW = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"}
    | {"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}
)
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|_KEY|AUTH|COOKIE|SESSION", re.I)
_UV_DECORATION = re.compile(r"^[\s×╰├│─▶]+")
_MAX_ERROR = 500
DEFAULT_INDEX = "https://pypi.org/simple"


def uv_index_args(index: IndexSettings) -> list[str]:
    """uv's options for the maintainer's package sources (none for uv's default index)."""
    args = []
    if index.index_url:
        args += ["--index-url", index.index_url]
    if index.find_links:
        args += ["--find-links", index.find_links]
    return args


def default_index_url() -> str:
    """The index uv would use when none is configured (uv's own settings, else PyPI)."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_INDEX


def index_url(index: IndexSettings) -> str:
    """The package index uv asks with these settings (find-links folders are searched besides)."""
    return (index.index_url or default_index_url()).rstrip("/")


def file_version(filename: str, package: str) -> Version | None:
    """The version a file on an index or in a find-links folder holds, if it is a wheel or sdist of
    ``package`` (a canonical name); None for another project's file or a name packaging cannot read.
    Both the era's upload dates and a matrix's versions read index pages through it."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return version if name == package else None


def find_uv() -> str:
    """The uv binary: on PATH, or beside this interpreter (a venv's ``pip install uv``)."""
    found = shutil.which("uv")
    if found:
        return found
    candidate = Path(sys.executable).parent / "uv"
    if candidate.is_file():
        return str(candidate)
    raise UvMissing("uv not found on PATH; install it with `pip install uv`")


def uv_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment uv runs with: locale, paths, proxies, ``UV_*`` settings; no secrets."""
    source = dict(os.environ) if environ is None else environ
    env = {
        name: value
        for name, value in source.items()
        if (name.upper() in UV_ENV_ALLOW or name.startswith("UV_")) and not _SECRET_NAME.search(name)
    }
    env["NO_COLOR"] = "1"
    return env


def uv_error(stderr: str, code: int) -> str:
    """uv's error on one line: from its last ``error:`` (or ``×``) line on, without decoration."""
    raw = [ln for ln in stderr.splitlines() if ln.strip()]
    starts = [i for i, ln in enumerate(raw) if ln.strip().startswith(("error:", "×"))]
    picked = raw[starts[-1] :] if starts else raw[-3:]
    text = " ".join(_UV_DECORATION.sub("", ln).strip() for ln in picked) or f"exit code {code}"
    return shorten(text, _MAX_ERROR)

""""Open the artifact": Binder and Colab links built from ``links.code``, without network.

Shown only when they can work: both need a public GitHub repository, and Colab
needs a notebook file, so Colab appears only when ``links.code`` points at one
(``https://github.com/OWNER/REPO/blob/REF/path/to/notebook.ipynb``); Binder
opens the repository, at that notebook when one is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

_GITHUB = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?"
    r"(?:/(?:blob|tree)/(?P<ref>[A-Za-z0-9._/-]+?)(?:/(?P<path>[^?#\s]+\.ipynb))?)?/?$"
)


@dataclass(frozen=True)
class GitHubCode:
    """A GitHub repository, with a ref and a notebook path when the link names them."""

    owner: str
    repo: str
    ref: str | None = None
    notebook: str | None = None


def parse_github(url: str | None) -> GitHubCode | None:
    """``links.code`` as a GitHub repository, or None when it is anything else."""
    match = _GITHUB.match(url or "")
    if match is None or match["repo"] in {".", ".."}:
        return None
    path = unquote(match["path"]) if match["path"] else None  # quoted again when a launcher is built
    return GitHubCode(match["owner"], match["repo"], match["ref"], path)


def binder_url(code: GitHubCode) -> str:
    ref = quote(code.ref or "HEAD", safe="")
    url = f"https://mybinder.org/v2/gh/{code.owner}/{code.repo}/{ref}"
    return f"{url}?labpath={quote(code.notebook, safe='')}" if code.notebook else url


def colab_url(code: GitHubCode) -> str | None:
    if not (code.ref and code.notebook):
        return None
    path, ref = quote(code.notebook, safe="/"), quote(code.ref, safe="/")
    return f"https://colab.research.google.com/github/{code.owner}/{code.repo}/blob/{ref}/{path}"


def launch_links(code_url: str | None) -> list[tuple[str, str]]:
    """(label, url) of the launchers that can work for this code link; empty otherwise."""
    code = parse_github(code_url)
    if code is None:
        return []
    links = [("Open in Binder", binder_url(code))]
    colab = colab_url(code)
    if colab:
        links.append(("Open in Colab", colab))
    return links
